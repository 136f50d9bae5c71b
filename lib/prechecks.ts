// Checks that run before a restore touches any node: during `pulumi preview` and at the start of
// `pulumi up`. Each failure is one line saying what is wrong and what to do.

import { createHash } from "crypto";
import { parExpired } from "./par";
import { manifestAuthentic, manifestProblems, parseSnapshotId, sameMembers, SnapshotManifest } from "./snapshot";
import { Fetch, groupSnapshots, HttpResult, listObjects, ListedObject, missingObjects, snapshotDir, snapshotPrefix } from "./store";

export type { Fetch, HttpResult };

export interface PrecheckInput {
    snapshotId: string;
    /** Read + list PAR URL of this site's replica bucket, ending in /o/; undefined when not known yet. */
    readUrl?: string;
    prefix: string;
    cluster: string;
    controlPlane: string[];
    kubernetesVersion: string;
    etcdVersion: string;
    parExpiresAt?: string;
    /**
     * The sites' snapshot key; undefined while it is not known (a preview of a new stack). With it,
     * only a manifest the key authenticates, of an encrypted snapshot, passes, as on the nodes.
     */
    encryptionKey?: string;
    now: Date;
    /** True in the offline plan: there is no store to reach. */
    offline: boolean;
    fetch: Fetch;
}

export interface PrecheckResult {
    problems: string[];
    /** Checks that were not run, and why. */
    skipped: string[];
    manifest?: SnapshotManifest;
    /**
     * sha256 of the manifest exactly as these checks read it. Every member's prepare is given it
     * and refuses another manifest under the same id (review #18): all members restore the bytes
     * checked here, even if the id is written again in between.
     */
    manifestSha256?: string;
}

/** How far ahead of this machine's clock a snapshot id may be dated (the nodes allow the same, node/lib/settings.sh). */
export const ID_CLOCK_SKEW_MS = 5 * 60 * 1000;

const STORE_CHECKS = "snapshot exists in the replica with every object its manifest names, manifest readable, member host names, etcd and Kubernetes versions";

export async function runPrechecks(input: PrecheckInput): Promise<PrecheckResult> {
    const problems: string[] = [];
    const id = input.snapshotId;
    const parsed = parseSnapshotId(id);
    if (!parsed) {
        problems.push(`etcd-dr:restoreSnapshot '${id}' is not a snapshot id (YYYYMMDDTHHMMSSZ-r<revision>)`);
        return { problems, skipped: [] };
    }
    // A forged id dated in the future would sort as the newest snapshot (review #26).
    if (parsed.createdAt.getTime() > input.now.getTime() + ID_CLOCK_SKEW_MS) {
        const at = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
        problems.push(`snapshot ${id} is dated ${at(parsed.createdAt)}, after this machine's clock (${at(input.now)}): its id is forged or its maker's clock is wrong; pick another snapshot`);
        return { problems, skipped: [] };
    }
    if (input.parExpiresAt && parExpired(input.parExpiresAt, input.now)) {
        problems.push(
            `the replica's pre-authenticated request expired at ${input.parExpiresAt}: raise etcd-dr:snapshots.parExpiresAt and run pulumi up without restoreSnapshot first`,
        );
    }
    if (input.offline) {
        return { problems, skipped: [`prechecks not run in the offline plan (the snapshot store is not reachable): ${STORE_CHECKS}`] };
    }
    if (!input.readUrl || input.readUrl.includes("[secret]")) {
        return { problems, skipped: [`prechecks not run: the replica's read URL is not known yet (${STORE_CHECKS})`] };
    }

    const dir = snapshotDir(input.prefix, input.cluster, id);
    const manifestUrl = `${input.readUrl}${dir}manifest.json`;
    let response: HttpResult;
    try {
        response = await input.fetch(manifestUrl);
    } catch (error) {
        problems.push(`the snapshot store did not answer (${(error as Error).message}); check the replica's address and network, then run again`);
        return { problems, skipped: [] };
    }
    if (response.status === 404) {
        problems.push(
            `snapshot ${id} does not exist in the replica (no committed manifest.json); \`npm run snapshots -- <stack>\` lists the snapshots there`,
        );
        return { problems, skipped: [] };
    }
    if (response.status !== 200) {
        problems.push(`reading the manifest of ${id} from the replica failed with HTTP ${response.status}; check the pre-authenticated request`);
        return { problems, skipped: [] };
    }
    let manifest: SnapshotManifest;
    try {
        manifest = JSON.parse(response.body) as SnapshotManifest;
    } catch {
        problems.push(`the manifest of snapshot ${id} is not valid JSON; pick another snapshot`);
        return { problems, skipped: [] };
    }
    const broken = manifestProblems(manifest, id);
    if (broken.length > 0) {
        problems.push(`the manifest of snapshot ${id} is unusable (${broken.join("; ")}); pick another snapshot`);
        return { problems, skipped: [] };
    }
    // Whoever holds the store's write PAR can upload a complete, self-consistent snapshot with
    // their own sa.key; only the sites hold the key that authenticates a manifest (review #1).
    const skipped: string[] = [];
    if (input.encryptionKey === undefined) {
        skipped.push("manifest authentication not checked here: the snapshot key is not known yet; the nodes check it at prepare");
    } else if (!manifestAuthentic(response.body, input.encryptionKey)) {
        problems.push(`the manifest of snapshot ${id} is not authenticated with the sites' snapshot key (forged, altered, or made with another key); pick a snapshot \`npm run snapshots -- <stack>\` verifies`);
        return { problems, skipped };
    } else if (manifest.encryption === "none") {
        problems.push(`snapshot ${id} is not encrypted, and this site holds the snapshot key: it restores only encrypted snapshots; pick another snapshot`);
        return { problems, skipped };
    }
    // Replication copies each object on its own and in no order: the manifest can be in the
    // replica before the data it describes.
    let listed: ListedObject[];
    try {
        listed = await listObjects(input.readUrl, dir, input.fetch);
    } catch (error) {
        problems.push(`listing snapshot ${id} in the replica failed (${(error as Error).message}); check the replica's pre-authenticated request allows listing, then run again`);
        return { problems, skipped };
    }
    const entry = groupSnapshots(listed, snapshotPrefix(input.prefix, input.cluster)).find((e) => e.id === id);
    const missing = missingObjects(entry, manifest.objects);
    if (missing.length > 0) {
        problems.push(
            `snapshot ${id} is not complete in the replica yet (${missing.join(", ")}); replication copies each object on its own, so wait for the rest and run again, or pick a snapshot \`npm run snapshots -- <stack>\` lists`,
        );
    }
    if (manifest.cluster !== input.cluster) {
        problems.push(`snapshot ${id} belongs to cluster '${manifest.cluster}', not '${input.cluster}'`);
    }
    if (!sameMembers(manifest.members, input.controlPlane)) {
        problems.push(
            `snapshot ${id} was taken from members ${[...manifest.members].sort().join(",")} but this site's control plane is ${[...input.controlPlane].sort().join(",")}; a restore needs the same host names`,
        );
    }
    if (manifest.etcdVersion !== input.etcdVersion) {
        problems.push(`snapshot ${id} comes from etcd ${manifest.etcdVersion} but this site runs etcd ${input.etcdVersion}; the sites must run the same etcd`);
    }
    if (manifest.kubernetesVersion !== input.kubernetesVersion) {
        problems.push(
            `snapshot ${id} comes from Kubernetes ${manifest.kubernetesVersion} but this site runs ${input.kubernetesVersion}; the sites must run the same version`,
        );
    }
    if (problems.length > 0) return { problems, skipped, manifest };
    const manifestSha256 = createHash("sha256").update(response.bytes ?? Buffer.from(response.body, "utf8")).digest("hex");
    return { problems, skipped, manifest, manifestSha256 };
}
