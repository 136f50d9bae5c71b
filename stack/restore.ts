// The failover, wired: the prechecks that refuse a bad restore before any node is touched, then
// the RestoreFromSnapshot chain on the site's nodes.

import * as pulumi from "@pulumi/pulumi";
import { NodeToolkit } from "../components/dr/nodeToolkit";
import { RestoreFromSnapshot } from "../components/dr/restoreFromSnapshot";
import { knownValue } from "../lib/outputs";
import { runPrechecks } from "../lib/prechecks";
import { MirroredSpec } from "../lib/spec";
import { httpFetch } from "../lib/store";
import { SiteConfig } from "./config";
import { BuiltSite } from "./platforms";
import { ConfigProblems } from "./problems";

/** Set by the offline plan: nothing outside this process can be reached. */
export const OFFLINE_ENV = "ETCD_DR_OFFLINE_PLAN";

export async function restoreSite(
    config: SiteConfig,
    snapshotId: string,
    spec: MirroredSpec,
    site: BuiltSite,
    toolkit: NodeToolkit,
    now: Date,
    encryptionKey: pulumi.Output<string>,
): Promise<RestoreFromSnapshot> {
    const offline = process.env[OFFLINE_ENV] === "1";
    const last = await lastRestoredSnapshot(config.stack);
    const lastRestored = last?.snapshotId;
    const restore = (manifestSha256: string | undefined) => new RestoreFromSnapshot(`${config.stack}-restore`, {
        snapshotId, controlPlane: site.controlPlane, workers: site.workers, toolkit, lastRestored, manifestSha256,
    });
    // The prechecks guard a chain about to run. Once an update has restored this id, every later
    // preview and drift check would ask the store again (a replica's snapshot may even have aged
    // out by then) for a chain that will not run again. The digest the restore pinned stays, so
    // its prepare steps stay as they ran.
    if (lastRestored === snapshotId) {
        void pulumi.log.info(`prechecks skipped: this stack's last update restored ${snapshotId}; a new id runs them again`);
        return restore(last?.manifestSha256);
    }
    const checked = await runPrechecks({
        snapshotId,
        // The one place the program waits on a resource output: the checks must run before any node is touched.
        readUrl: offline ? undefined : await knownValue(site.readUrl),
        prefix: config.snapshots.prefix,
        cluster: spec.topology.clusterName,
        controlPlane: spec.topology.controlPlane,
        kubernetesVersion: spec.cluster.kubernetesVersion,
        etcdVersion: spec.cluster.etcdVersion,
        parExpiresAt: config.snapshots.parExpiresAt || undefined,
        encryptionKey: offline ? undefined : await knownValue(encryptionKey),
        now,
        offline,
        fetch: httpFetch,
    });
    for (const skipped of checked.skipped) {
        void pulumi.log.info(skipped);
    }
    if (checked.problems.length > 0) {
        throw new ConfigProblems(checked.problems.map((p) => `restore refused before touching any node: ${p}`));
    }
    return restore(checked.manifestSha256);
}

/**
 * The snapshot id the stack's last update restored, and the manifest digest its prepare steps
 * were pinned to, from its own `restore` output (a StackReference to itself): whether the chain
 * has run for this id decides whether its steps may ignore a new connection
 * (components/dr/restoreFromSnapshot.ts). A failed update exports nothing new, so an unfinished
 * failover reads as not restored.
 */
async function lastRestoredSnapshot(stack: string): Promise<{ snapshotId: string; manifestSha256?: string } | undefined> {
    const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    const details = await new pulumi.StackReference(`${stack}-last-restore`, { name: self }).getOutputDetails("restore");
    const restore = details.value ?? details.secretValue;
    if (restore === null || typeof restore !== "object") return undefined;
    const { snapshotId, manifestSha256 } = restore as { snapshotId?: unknown; manifestSha256?: unknown };
    if (typeof snapshotId !== "string") return undefined;
    return { snapshotId, ...(typeof manifestSha256 === "string" ? { manifestSha256 } : {}) };
}
