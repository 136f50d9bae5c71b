import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubeconfigFor, openApiTunnel, preferredPort, SshLogin, tunnelKubeconfig } from "../../lib/apiTunnel";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { kubeadmDifferences } from "../../lib/parity";

export interface ClusterApiArgs {
    /** The node whose /etc/kubernetes/admin.conf gives access; the SSH tunnel to the API logs in to it. */
    controlPlane: NodeConnection;
    /** Where that node reaches the API server (the platform adapter's apiEndpoint): the tunnel's target. */
    endpoint: pulumi.Input<string>;
    /** The API alias, a name in the API certificate: the TLS server name through the tunnel. */
    apiAlias: string;
    /**
     * The other site's admin kubeconfig (standby only), for the parity check. Give it only while no
     * restore is configured: a failover must not need the primary's API, which may be gone.
     */
    peerKubeconfig?: pulumi.Input<string>;
    /**
     * After a restore: what to record in kube-system/etcd-dr-status. The site's API is used only
     * once the restore has ended (`at` known): the provider decides once, when it is configured,
     * whether the cluster is reachable, and during the restore the control plane is stopped.
     */
    restored?: { snapshotId: string; revision: pulumi.Input<number>; at: pulumi.Input<string>; after: pulumi.Resource };
}

const API_PORT = 6443;

/** True under pulumi.runtime.setMocks (plan tests, `npm run plan`): no tunnel is opened there. */
function mocked(): boolean {
    const monitor = pulumi.runtime.getMonitor() as unknown as { mocks?: unknown } | undefined;
    return monitor?.mocks !== undefined;
}

/** A node connection's SSH logins, resolved; the host key only where the platform gives one. */
type WithHostKey = { hostKey?: pulumi.Input<string> };

function login(c: { host: pulumi.Input<string>; port?: number; user: string; privateKey: pulumi.Input<string> } & WithHostKey): pulumi.Output<SshLogin> {
    return pulumi.all([c.host, c.privateKey, c.hostKey]).apply(([host, privateKey, hostKey]) => ({
        host, port: c.port ?? 22, user: c.user, privateKey, ...(hostKey ? { hostKey } : {}),
    }));
}

/**
 * The Kubernetes API of one site, through the admin kubeconfig read from its first control-plane
 * node (kept a secret). It checks that both sites run the same kubeadm ClusterConfiguration and,
 * after a restore, records what was restored in kube-system/etcd-dr-status.
 */
export class ClusterApi extends pulumi.ComponentResource {
    readonly kubeconfig: pulumi.Output<string>;
    readonly parity?: pulumi.Output<string[]>;

    constructor(name: string, args: ClusterApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:k8s:ClusterApi", name, {}, opts);
        const read = new command.remote.Command(`${name}-admin-kubeconfig`, {
            connection: connectionArgs(args.controlPlane),
            create: asRoot(args.controlPlane, "cat /etc/kubernetes/admin.conf"),
            // The cluster-admin credentials: the provider would print every line of stdout into the
            // update's log (console, CI) and, on a re-run, send it as an SSH env request.
            logging: "none",
            addPreviousOutputInEnv: false,
        }, { parent: this, additionalSecretOutputs: ["stdout"], dependsOn: afterReady(args.controlPlane) });
        // What an operator (or the other stack) uses from inside the VCN: the API front end, verified as the alias.
        this.kubeconfig = pulumi.secret(pulumi.all([read.stdout, args.endpoint]).apply(([text, endpoint]) =>
            kubeconfigFor(text ?? "", `https://${endpoint}:${API_PORT}`, args.apiAlias)));
        // The nodes' API is private: the program holds an SSH tunnel to it open for the deployment
        // (through the node's proxy, the bastion, where it has one), and the provider dials the
        // tunnel with the alias as TLS server name. The local port is the same on every run of the
        // stack, so the provider's kubeconfig does not change between runs.
        const node = args.controlPlane as NodeConnection & WithHostKey;
        const jump = node.proxy ? login({ ...node.proxy, port: 22 }) : undefined;
        const seed = `${pulumi.getStack()}:${name}`;
        const restoreEnded = args.restored ? pulumi.output(args.restored.at) : pulumi.output("");
        const tunneled = pulumi.all([read.stdout, args.endpoint, login(node), jump, restoreEnded]).apply(async ([text, endpoint, nodeLogin, jumpLogin]) => {
            if (mocked()) return tunnelKubeconfig(text ?? "", preferredPort(seed), args.apiAlias);
            const tunnel = await openApiTunnel(
                { node: nodeLogin, ...(jumpLogin ? { jump: jumpLogin } : {}), target: { host: endpoint, port: API_PORT } },
                { seed },
            );
            return tunnelKubeconfig(text ?? "", tunnel.port, args.apiAlias);
        });
        const provider = new k8s.Provider(`${name}-provider`, { kubeconfig: pulumi.secret(tunneled) }, { parent: this });

        if (args.peerKubeconfig) {
            // Straight to the primary's front end (the runner reaches it through the peering); a
            // primary built before its kubeconfig named the alias is verified as the alias here too.
            const peerKubeconfig = pulumi.secret(pulumi.output(args.peerKubeconfig).apply((text) => kubeconfigFor(text, undefined, args.apiAlias)));
            const peer = new k8s.Provider(`${name}-peer-provider`, { kubeconfig: peerKubeconfig }, { parent: this });
            const mine = k8s.core.v1.ConfigMap.get(`${name}-kubeadm-config`, "kube-system/kubeadm-config", { parent: this, provider });
            const theirs = k8s.core.v1.ConfigMap.get(`${name}-peer-kubeadm-config`, "kube-system/kubeadm-config", { parent: this, provider: peer });
            this.parity = pulumi.all([theirs.data, mine.data]).apply(([primary, standby]) => {
                const differences = kubeadmDifferences(primary?.ClusterConfiguration ?? "", standby?.ClusterConfiguration ?? "");
                for (const difference of differences) {
                    void pulumi.log.warn(`sites differ: ${difference}`, this);
                }
                return differences;
            });
        }

        if (args.restored) {
            new k8s.core.v1.ConfigMap(`${name}-etcd-dr-status`, {
                metadata: { name: "etcd-dr-status", namespace: "kube-system", labels: { "app.kubernetes.io/managed-by": "etcd-dr" } },
                data: {
                    snapshotId: args.restored.snapshotId,
                    revision: pulumi.output(args.restored.revision).apply(String),
                    restoredAt: args.restored.at,
                },
            }, { parent: this, provider, dependsOn: [args.restored.after] });
        }
        this.registerOutputs({ parity: this.parity });
    }
}
