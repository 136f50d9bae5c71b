// Checking a snapshot bundle the node toolkit wrote: whether all of it is in the store (listing
// against its manifest), and its objects against its manifest (sha256, decryption, decompression),
// read through a PAR URL. Listing itself lives in store.ts.

import { createDecipheriv, createHash, pbkdf2Sync } from "crypto";
import { gunzipSync } from "zlib";
import { manifestAuthentic, manifestProblems, SnapshotManifest } from "./snapshot";
import { Fetch, groupSnapshots, listObjects, missingObjects, SnapshotEntry } from "./store";

/** The toolkit's `openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt` format: "Salted__", salt, ciphertext. */
export const PBKDF2_ITERATIONS = 100_000;

export function decryptOpenssl(data: Buffer, password: string): Buffer {
    if (data.length < 16 || data.subarray(0, 8).toString("latin1") !== "Salted__") {
        throw new Error("not openssl salted data");
    }
    const salt = data.subarray(8, 16);
    const derived = pbkdf2Sync(password, salt, PBKDF2_ITERATIONS, 48, "sha256");
    const decipher = createDecipheriv("aes-256-cbc", derived.subarray(0, 32), derived.subarray(32, 48));
    return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]);
}

export interface StoreSnapshots {
    /** Newest first: manifest.json and every object it names are listed, at the manifest's sizes. */
    committed: SnapshotEntry[];
    /** Snapshots with a manifest that are not committed where this URL reads, and why. */
    incomplete: { id: string; reason: string }[];
}

/**
 * The snapshots under root ("<prefix>/<cluster>/") as the store behind readUrl holds them. A
 * manifest is not enough on a replica: replication copies each object on its own and in no order,
 * so a manifest can arrive before its data. Reads every listed manifest (one GET each).
 */
export async function committedSnapshots(readUrl: string, root: string, fetchText: Fetch): Promise<StoreSnapshots> {
    const result: StoreSnapshots = { committed: [], incomplete: [] };
    for (const entry of groupSnapshots(await listObjects(readUrl, root, fetchText), root)) {
        if (!entry.hasManifest) continue;
        const response = await fetchText(`${readUrl}${root}${entry.id}/manifest.json`);
        // Gone since the listing (retention deleted it): it is no snapshot any more.
        if (response.status === 404) continue;
        if (response.status !== 200) {
            throw new Error(`reading the manifest of ${entry.id} failed with HTTP ${response.status}; check that the PAR allows reads and has not expired`);
        }
        let manifest: SnapshotManifest;
        try {
            manifest = JSON.parse(response.body) as SnapshotManifest;
        } catch {
            result.incomplete.push({ id: entry.id, reason: "manifest.json is not JSON" });
            continue;
        }
        const problems = manifestProblems(manifest, entry.id);
        if (problems.length > 0) {
            result.incomplete.push({ id: entry.id, reason: problems.join("; ") });
            continue;
        }
        const missing = missingObjects(entry, manifest.objects);
        if (missing.length > 0) {
            result.incomplete.push({ id: entry.id, reason: `still arriving: ${missing.join(", ")}` });
            continue;
        }
        result.committed.push(entry);
    }
    return result;
}

export type FetchBytes = (url: string) => Promise<{ status: number; body: Buffer }>;

/** Downloads and checks one snapshot; returns undefined when it verifies, else why not. */
export async function verifySnapshot(
    readUrl: string,
    dir: string,
    id: string,
    encryptionKey: string | undefined,
    fetchBytes: FetchBytes,
): Promise<{ problem?: string; manifest?: SnapshotManifest }> {
    const manifestResponse = await fetchBytes(`${readUrl}${dir}manifest.json`);
    if (manifestResponse.status !== 200) return { problem: `manifest.json unreadable (HTTP ${manifestResponse.status})` };
    let manifest: SnapshotManifest;
    try {
        manifest = JSON.parse(manifestResponse.body.toString("utf8")) as SnapshotManifest;
    } catch {
        return { problem: "manifest.json is not JSON" };
    }
    const problems = manifestProblems(manifest, id);
    if (problems.length > 0) return { problem: problems.join("; "), manifest };
    // With the stack's key, only what that key authenticated counts, as on the nodes (review #1):
    // anyone with the write PAR can upload a complete, self-consistent snapshot of their own.
    if (encryptionKey !== undefined) {
        if (!manifestAuthentic(manifestResponse.body.toString("utf8"), encryptionKey)) {
            return { problem: "manifest.json is not authenticated with this stack's key (forged, altered, or made with another key)", manifest };
        }
        if (manifest.encryption === "none") return { problem: "not encrypted, and this stack has a key", manifest };
    }
    for (const object of manifest.objects) {
        const response = await fetchBytes(`${readUrl}${dir}${object.name}`);
        if (response.status !== 200) return { problem: `${object.name} unreadable (HTTP ${response.status})`, manifest };
        const sum = createHash("sha256").update(response.body).digest("hex");
        if (response.body.length !== object.size || sum !== object.sha256) return { problem: `${object.name} is corrupt`, manifest };
        if (!object.name.startsWith("snapshot.db")) continue;
        let plain = response.body;
        if (manifest.encryption !== "none") {
            if (!encryptionKey) return { problem: "encrypted, and no key to check it with", manifest };
            try {
                plain = decryptOpenssl(plain, encryptionKey);
            } catch {
                return { problem: "does not decrypt with this stack's key", manifest };
            }
        }
        if (manifest.compression === "zstd") continue; // Node has no zstd; the sha256 above still holds.
        if (manifest.compression === "gzip") {
            try {
                plain = gunzipSync(plain);
            } catch {
                return { problem: "does not decompress", manifest };
            }
        }
        if (createHash("sha256").update(plain).digest("hex") !== manifest.snapshotSha256) {
            return { problem: "decodes to a different database than was saved", manifest };
        }
    }
    return { manifest };
}
