import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { parseResults, RestoreReport, resultCommand, summarizeTimings, verifiedRevision } from "../../lib/nodeReport";
import { NodeToolkit } from "./nodeToolkit";

export interface RestoreFromSnapshotArgs {
    snapshotId: string;
    controlPlane: NodeConnection[];
    workers: NodeConnection[];
    /** The toolkit on the control-plane nodes; each node's phases run after its install. */
    toolkit: NodeToolkit;
    /** Roll workloads and delete kube-proxy, controller-manager and scheduler pods afterwards, as the playbook does. */
    reconcileWorkloads: boolean;
}

const RESTART_KUBELET = [
    "if systemctl cat kubelet.service >/dev/null 2>&1; then",
    "  systemctl restart kubelet && echo \"kubelet restarted on $(hostname -s)\"",
    "else",
    "  echo \"no kubelet on $(hostname -s); nothing to restart\"",
    "fi",
].join("\n");

const ROLL_CONTROL_PLANE_PODS = [
    "kubeconfig=/etc/kubernetes/admin.conf",
    "if ! command -v kubectl >/dev/null 2>&1 || [ ! -f \"$kubeconfig\" ]; then",
    "  echo \"no kubectl or admin.conf on $(hostname -s); workloads not rolled\"",
    "else",
    "  k() { kubectl --kubeconfig \"$kubeconfig\" \"$@\"; }",
    "  k -n kube-system delete pod -l k8s-app=kube-proxy --wait=false",
    "  k -n kube-system delete pod -l component=kube-controller-manager --wait=false",
    "  k -n kube-system delete pod -l component=kube-scheduler --wait=false",
    "  for ns in $(k get namespaces -o jsonpath='{.items[*].metadata.name}'); do",
    "    k -n \"$ns\" rollout restart deployment >/dev/null 2>&1 || true",
    "    k -n \"$ns\" rollout restart daemonset >/dev/null 2>&1 || true",
    "  done",
    "  echo \"control-plane pods recreated and workloads rolled\"",
    "fi",
].join("\n");

/**
 * The failover, as a resource. Its children run in order -- prepare on every control-plane node,
 * stop on all, apply on each, start on all, verify, reconcile the workers -- and every child
 * carries the snapshot id in its triggers: a new id replaces the whole chain, and that replacement
 * is the restore. The toolkit makes each phase a no-op when it already ran for that id.
 */
export class RestoreFromSnapshot extends pulumi.ComponentResource {
    readonly snapshotId: string;
    readonly restoredRevision: pulumi.Output<number>;
    readonly report: pulumi.Output<RestoreReport>;
    readonly steps: command.remote.Command[] = [];

    constructor(name: string, args: RestoreFromSnapshotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:dr:RestoreFromSnapshot", name, { snapshotId: args.snapshotId }, opts);
        this.snapshotId = args.snapshotId;
        const id = args.snapshotId;

        const step = (phase: string, node: NodeConnection, script: string, after: pulumi.Resource[]) => {
            const resource = new command.remote.Command(`${name}-${phase}-${node.name}`, {
                connection: connectionArgs(node),
                create: asRoot(node, resultCommand(phase, node.name, script)),
                triggers: [id],
            }, { parent: this, dependsOn: afterReady(node, after) });
            this.steps.push(resource);
            return resource;
        };
        const onEachControlPlane = (phase: string, after: (node: NodeConnection) => pulumi.Resource[]) =>
            args.controlPlane.map((node) => step(phase, node, `etcd-dr restore ${phase} ${id}`, after(node)));

        const prepared = onEachControlPlane("prepare", (node) => args.toolkit.installedOn(node.name));
        // Nothing stops before every member holds a verified copy of the snapshot.
        const stopped = onEachControlPlane("stop", () => prepared);
        const applied = onEachControlPlane("apply", () => stopped);
        const started = onEachControlPlane("start", () => applied);
        const first = args.controlPlane[0];
        const verified = step("verify", first, `etcd-dr restore verify ${id}`, started);
        const reconciled = [
            ...args.workers.map((node) => step("reconcile", node, RESTART_KUBELET, [verified])),
            ...(args.reconcileWorkloads ? [step("reconcile", first, ROLL_CONTROL_PLANE_PODS, [verified])] : []),
        ];

        const stdouts = pulumi.all(this.steps.map((s) => s.stdout));
        this.restoredRevision = verified.stdout.apply((out) => {
            const revision = verifiedRevision(parseResults(out));
            if (revision === undefined) {
                throw new Error(`restore verify of ${id} did not report a revision: ${out}`);
            }
            return revision;
        });
        this.report = stdouts.apply((outs) => summarizeTimings(outs.flatMap(parseResults)));
        this.registerOutputs({
            snapshotId: id,
            restoredRevision: this.restoredRevision,
            report: this.report,
            reconciled: reconciled.length,
        });
    }
}
