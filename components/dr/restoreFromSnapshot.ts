import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { parseResults, RestoreReport, resultCommand, summarizeTimings, verifiedRevision } from "../../lib/nodeReport";
import { NodeToolkit } from "./nodeToolkit";

export interface RestoreFromSnapshotArgs {
    snapshotId: string;
    controlPlane: NodeConnection[];
    workers: NodeConnection[];
    /** The toolkit on every node; each node's phases run after its install. */
    toolkit: NodeToolkit;
}

/**
 * The failover, as a resource. Its children run in order -- prepare on every control-plane node,
 * stop on all, apply on each, start on all, verify on the first, the kubelet restarted on every
 * node, then the cluster reconciled from the first (node/lib/restore.sh) -- and every child
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
        const kubelets = [...args.controlPlane, ...args.workers].map((node) =>
            step("restart-kubelet", node, `etcd-dr restore restart-kubelet ${id}`, [verified, ...args.toolkit.installedOn(node.name)]));
        step("reconcile", first, `etcd-dr restore reconcile ${id}`, kubelets);

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
        });
    }
}
