import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { asRoot, BOOT_DIAL_ERROR_LIMIT, connectionArgs, NodeConnection } from "../../lib/connection";
import { resultCommand } from "../../lib/nodeReport";

export interface BootstrapCheckArgs {
    /** Every node the program created, with what created it in `readyAfter`. */
    nodes: NodeConnection[];
}

/** Left by kube-bootstrap when the node's first boot prepared it and Pulumi joins it over SSH. */
export const AWAITING_JOIN_MARKER = "/var/lib/etcd-dr/awaiting-join";

/** Longest wait for one node's first boot (packages, kubeadm, joins); OCI takes 5-15 minutes. */
export const BOOTSTRAP_TIMEOUT_SECONDS = 1800;

/**
 * Waits on the node for its first-boot bootstrap and fails with its last error line when it failed.
 * `cloud-init status --wait` returns when every module ran; the kubeconfig files are what kubeadm
 * leaves behind only when init or join succeeded.
 */
export function bootstrapCheckScript(node: { name: string; role: string }): string {
    const wanted = node.role === "control-plane" ? "/etc/kubernetes/kubelet.conf /etc/kubernetes/admin.conf" : "/etc/kubernetes/kubelet.conf";
    const script = [
        `timeout ${BOOTSTRAP_TIMEOUT_SECONDS} cloud-init status --wait >/dev/null 2>&1 || true`,
        `status="$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')"`,
        `missing=""`,
        // A node that left its join to Pulumi (no credentials in its user data) is prepared, not joined yet.
        `if [ ! -f ${AWAITING_JOIN_MARKER} ]; then`,
        `  for file in ${wanted}; do [ -s "$file" ] || missing="$missing $file"; done`,
        `fi`,
        // A bootstrap that failed after kubeadm wrote its files (a half-done control-plane join) is a failure too.
        `if [ "$status" != "done" ] || [ -n "$missing" ]; then`,
        `  reason="$(grep -E 'kube-bootstrap: ERROR|error execution phase' /var/log/cloud-init-output.log 2>/dev/null | tail -n1)"`,
        `  echo "etcd-dr: ERROR: ${node.name} did not finish its kubeadm bootstrap (cloud-init: \${status:-unknown}\${missing:+; missing$missing}): \${reason:-see /var/log/cloud-init-output.log on the node}" >&2`,
        `  exit 1`,
        `fi`,
        `if [ -f ${AWAITING_JOIN_MARKER} ]; then echo "prepared, awaiting its join (cloud-init: $status): $(cat ${AWAITING_JOIN_MARKER})"; else echo "bootstrap done (cloud-init: $status)"; fi`,
    ].join("\n");
    return resultCommand("bootstrap", node.name, script);
}

/**
 * One check per node: nothing else runs on a node (toolkit, timers, restores) before its kubeadm
 * bootstrap is complete, however long the first boot takes (F06). Replaced with its node only.
 */
export class BootstrapCheck extends pulumi.ComponentResource {
    private readonly checks: Record<string, command.remote.Command>;

    constructor(name: string, args: BootstrapCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:k8s:BootstrapCheck", name, {}, opts);
        this.checks = {};
        for (const node of args.nodes) {
            this.checks[node.name] = new command.remote.Command(`${name}-${node.name}`, {
                // A new instance boots its sshd late: dial for as long as a first boot may take to get there.
                connection: connectionArgs(node, BOOT_DIAL_ERROR_LIMIT),
                create: asRoot(node, bootstrapCheckScript(node)),
                // A replaced instance (same address, new id) boots again: wait for that boot too (F16).
                triggers: (node.readyAfter ?? []).filter((r) => pulumi.CustomResource.isInstance(r)).map((r) => (r as pulumi.CustomResource).id),
                // A re-run (a new connection) would send the last stdout as an SSH env request, which a stock sshd refuses with a warning.
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: node.readyAfter ?? [] });
        }
        this.registerOutputs({ nodes: args.nodes.map((n) => n.name) });
    }

    /** `node` with this check added to what must be complete before anything runs on it. */
    ready(node: NodeConnection): NodeConnection {
        const check = this.checks[node.name];
        return check ? { ...node, readyAfter: [...(node.readyAfter ?? []), check] } : node;
    }
}
