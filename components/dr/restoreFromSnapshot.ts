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
    /** The snapshot id the stack's last update restored (its own `restore` output), if any. */
    lastRestored?: string;
    /**
     * sha256 of the snapshot's manifest as the prechecks read it (lib/prechecks.ts), when they
     * read it: every member's prepare refuses another manifest under the same id (review #18).
     * A different manifest under the same id changes the prepare steps, which then run again.
     */
    manifestSha256?: string;
}

/**
 * The failover, as a resource. Its children run in order -- prepare on every control-plane node,
 * stop on all, apply on each, start on all, verify on the first, the kubelet restarted on every
 * node, then the cluster reconciled from the first (node/lib/restore.sh) -- and every child
 * carries the snapshot id in its triggers: a new id replaces the whole chain, and that replacement
 * is the restore. The toolkit makes each phase a no-op when it already ran for that id.
 *
 * A step is one-shot: the command provider re-runs `create` on ANY input change
 * (remote/commandController.go Update), so a new bastion, a rotated key or a new host key would
 * run the failover again. Once the stack has restored this id, the steps ignore changes of their
 * connection. Not before: the engine keeps an ignored input's old value even for a replacement
 * (step_generator.go processIgnoreChanges), so the next failover's new steps would dial the old
 * bastion with the old key. Without that guard a changed connection re-runs a step of an
 * unfinished failover, which the toolkit's markers per id make a no-op.
 */
export class RestoreFromSnapshot extends pulumi.ComponentResource {
    readonly snapshotId: string;
    readonly manifestSha256?: string;
    readonly restoredRevision: pulumi.Output<number>;
    readonly report: pulumi.Output<RestoreReport>;
    readonly steps: command.remote.Command[] = [];

    constructor(name: string, args: RestoreFromSnapshotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:dr:RestoreFromSnapshot", name, { snapshotId: args.snapshotId }, opts);
        this.snapshotId = args.snapshotId;
        const id = args.snapshotId;
        const pinned = args.manifestSha256;
        if (pinned !== undefined && !/^[0-9a-f]{64}$/.test(pinned)) {
            throw new Error(`the manifest digest of ${id} is not a sha256: '${pinned}'`);
        }
        this.manifestSha256 = pinned;
        const restored = args.lastRestored === id;

        const step = (phase: string, node: NodeConnection, script: string, after: pulumi.Resource[]) => {
            const resource = new command.remote.Command(`${name}-${phase}-${node.name}`, {
                connection: connectionArgs(node),
                create: asRoot(node, resultCommand(phase, node.name, script)),
                triggers: [id],
                // A re-run would send the last stdout as an SSH env request, which a stock sshd refuses with a warning.
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: afterReady(node, after), ...(restored ? { ignoreChanges: ["connection"] } : {}) });
            this.steps.push(resource);
            return resource;
        };
        const onEachControlPlane = (phase: string, after: (node: NodeConnection) => pulumi.Resource[], prefix = "") =>
            args.controlPlane.map((node) => step(phase, node, `${prefix}etcd-dr restore ${phase} ${id}`, after(node)));

        // Each member downloads the manifest itself; the digest makes them all take the one checked.
        const prepared = onEachControlPlane("prepare", (node) => args.toolkit.installedOn(node.name),
            pinned ? `ETCD_DR_MANIFEST_SHA256=${pinned} ` : "");
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
            manifestSha256: pinned,
            restoredRevision: this.restoredRevision,
            report: this.report,
        });
    }
}
