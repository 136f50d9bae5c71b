// Checking a snapshot bundle the node toolkit wrote: whether all of it is in the store (listing
// against its manifest), and its objects against its manifest (sha256, decryption, decompression),
// read through a PAR URL. Listing itself lives in store.ts.

import { spawn } from "child_process";
import { createDecipheriv, createHash, Decipher, pbkdf2Sync } from "crypto";
import { once } from "events";
import { Duplex, PassThrough, Readable, Transform, Writable } from "stream";
import { pipeline } from "stream/promises";
import { createGunzip } from "zlib";
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

/** A GET whose body is a stream: an object is never held in memory whole (review #21). */
export type FetchObject = (url: string) => Promise<{ status: number; body: Readable }>;

/** A manifest is a few KiB; anything near this is not one. */
const MANIFEST_MAX_BYTES = 1024 * 1024;

/** Decrypts the toolkit's `openssl enc -aes-256-cbc -pbkdf2` format as it flows ("Salted__", salt, ciphertext). */
export function opensslDecipher(password: string): Transform {
    let header = Buffer.alloc(0);
    let decipher: Decipher | undefined;
    return new Transform({
        transform(chunk: Buffer, _encoding, done) {
            if (decipher) return done(null, decipher.update(chunk));
            header = Buffer.concat([header, chunk]);
            if (header.length < 16) return done();
            if (header.subarray(0, 8).toString("latin1") !== "Salted__") return done(new Error("not openssl salted data"));
            const derived = pbkdf2Sync(password, header.subarray(8, 16), PBKDF2_ITERATIONS, 48, "sha256");
            decipher = createDecipheriv("aes-256-cbc", derived.subarray(0, 32), derived.subarray(32, 48));
            done(null, decipher.update(header.subarray(16)));
        },
        flush(done) {
            if (!decipher) return done(new Error("not openssl salted data"));
            try {
                done(null, decipher.final());
            } catch (error) {
                done(error as Error);
            }
        },
    });
}

/** The toolkit's compression, undone as a stream; zstd through the zstd command (Node 20 has none). */
function decompressor(compression: string): Duplex {
    if (compression === "gzip") return createGunzip();
    if (compression === "none") return new PassThrough();
    const zstd = spawn("zstd", ["-q", "-dc"], { stdio: ["pipe", "pipe", "ignore"] });
    const stream = Duplex.from({ writable: zstd.stdin, readable: zstd.stdout });
    zstd.on("error", (error) => stream.destroy(new Error(`the zstd command is needed to check a zstd snapshot (${error.message})`)));
    zstd.on("exit", (code) => {
        if (code !== 0) stream.destroy(new Error(`zstd exited with status ${code}`));
    });
    return stream;
}

interface ObjectCheck {
    bytes: number;
    sha256: string;
    /** sha256 of the decoded bytes, when they decoded. */
    decodedSha256?: string;
    /** The stage that failed to decode: "decrypt" or "decompress". */
    failed?: "decrypt" | "decompress";
    failure?: string;
}

/**
 * Reads an object to its end once: its own sha256 and size, and, on a branch that may fail without
 * stopping the read, its decoded bytes' sha256. The object's digest decides first (a corrupt
 * object is "corrupt", not "does not decrypt"), so it is read whole even when decoding fails.
 */
async function checkObject(body: Readable, decrypt: Transform | undefined, decompress: Duplex): Promise<ObjectCheck> {
    const raw = createHash("sha256");
    const decoded = createHash("sha256");
    let bytes = 0;
    let failed: ObjectCheck["failed"];
    let failure: string | undefined;
    const stages: (Transform | Duplex)[] = decrypt ? [decrypt, decompress] : [decompress];
    stages.forEach((stage, i) => stage.on("error", (error: Error) => {
        if (failed) return;
        failed = decrypt && i === 0 ? "decrypt" : "decompress";
        failure = error.message;
    }));
    const head = new PassThrough();
    const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
            decoded.update(chunk);
            done();
        },
    });
    const decoding = pipeline([head, ...stages, sink]).catch(() => undefined);
    for await (const chunk of body) {
        const data = chunk as Buffer;
        raw.update(data);
        bytes += data.length;
        if (failed || head.destroyed) continue;
        if (!head.write(data)) await Promise.race([once(head, "drain"), once(head, "close")]);
    }
    head.end();
    await decoding;
    return { bytes, sha256: raw.digest("hex"), decodedSha256: failed ? undefined : decoded.digest("hex"), failed, failure };
}

async function readSmall(body: Readable): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > MANIFEST_MAX_BYTES) {
            body.destroy();
            return undefined;
        }
        chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
}

/**
 * Downloads and checks one snapshot; returns undefined when it verifies, else why not. Every
 * object is streamed: its sha256, then its decryption with the stack's key and its decompression,
 * then the decoded database's (and pki.tar's) sha256 against the manifest, in one read and in
 * constant memory, whatever the database's size.
 */
export async function verifySnapshot(
    readUrl: string,
    dir: string,
    id: string,
    encryptionKey: string | undefined,
    fetchObject: FetchObject,
): Promise<{ problem?: string; manifest?: SnapshotManifest }> {
    const manifestResponse = await fetchObject(`${readUrl}${dir}manifest.json`);
    if (manifestResponse.status !== 200) {
        manifestResponse.body.resume();
        return { problem: `manifest.json unreadable (HTTP ${manifestResponse.status})` };
    }
    const manifestBytes = await readSmall(manifestResponse.body);
    if (!manifestBytes) return { problem: `manifest.json is larger than ${MANIFEST_MAX_BYTES} bytes` };
    const manifestText = manifestBytes.toString("utf8");
    let manifest: SnapshotManifest;
    try {
        manifest = JSON.parse(manifestText) as SnapshotManifest;
    } catch {
        return { problem: "manifest.json is not JSON" };
    }
    const problems = manifestProblems(manifest, id);
    if (problems.length > 0) return { problem: problems.join("; "), manifest };
    // With the stack's key, only what that key authenticated counts, as on the nodes (review #1):
    // anyone with the write PAR can upload a complete, self-consistent snapshot of their own.
    if (encryptionKey !== undefined) {
        if (!manifestAuthentic(manifestText, encryptionKey)) {
            return { problem: "manifest.json is not authenticated with this stack's key (forged, altered, or made with another key)", manifest };
        }
        if (manifest.encryption === "none") return { problem: "not encrypted, and this stack has a key", manifest };
    }
    if (manifest.encryption !== "none" && !encryptionKey) return { problem: "encrypted, and no key to check it with", manifest };
    for (const object of manifest.objects) {
        const response = await fetchObject(`${readUrl}${dir}${object.name}`);
        if (response.status !== 200) {
            response.body.resume();
            return { problem: `${object.name} unreadable (HTTP ${response.status})`, manifest };
        }
        const decrypt = manifest.encryption !== "none" && encryptionKey ? opensslDecipher(encryptionKey) : undefined;
        const checked = await checkObject(response.body, decrypt, decompressor(manifest.compression));
        if (checked.bytes !== object.size || checked.sha256 !== object.sha256) return { problem: `${object.name} is corrupt`, manifest };
        if (checked.failed === "decrypt") return { problem: "does not decrypt with this stack's key", manifest };
        if (checked.failed === "decompress") {
            return { problem: checked.failure?.startsWith("the zstd command") ? checked.failure : "does not decompress", manifest };
        }
        if (object.name.startsWith("snapshot.db") && checked.decodedSha256 !== manifest.snapshotSha256) {
            return { problem: "decodes to a different database than was saved", manifest };
        }
        if (object.name.startsWith("pki.tar") && manifest.pkiSha256 !== undefined && checked.decodedSha256 !== manifest.pkiSha256) {
            return { problem: "its keys decode to a different pki.tar than was saved", manifest };
        }
    }
    return { manifest };
}
