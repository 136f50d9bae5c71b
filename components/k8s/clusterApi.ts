import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { kubeadmDifferences } from "../../lib/parity";

export interface ClusterApiArgs {
    /** The node whose /etc/kubernetes/admin.conf gives access. */
    controlPlane: NodeConnection;
    /** Where Pulumi reaches the API server from (an address in the API certificate). */
    endpoint: pulumi.Input<string>;
    /** The other site's admin kubeconfig (standby only), for the parity check. */
    peerKubeconfig?: pulumi.Input<string>;
    /** After a restore: what to record in kube-system/etcd-dr-status. */
    restored?: { snapshotId: string; revision: pulumi.Input<number>; at: pulumi.Input<string>; after: pulumi.Resource };
}

function pointAt(kubeconfig: string, endpoint: string): string {
    return kubeconfig.replace(/server: https:\/\/[^\s]+/g, `server: https://${endpoint}:6443`);
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
        this.kubeconfig = pulumi.secret(pulumi.all([read.stdout, args.endpoint]).apply(([text, endpoint]) => pointAt(text ?? "", endpoint)));
        const provider = new k8s.Provider(`${name}-provider`, { kubeconfig: this.kubeconfig }, { parent: this });

        if (args.peerKubeconfig) {
            const peer = new k8s.Provider(`${name}-peer-provider`, { kubeconfig: args.peerKubeconfig }, { parent: this });
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
