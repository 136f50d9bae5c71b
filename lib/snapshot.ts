// The snapshot bundle contract shared with the node toolkit (node/etcd-dr): ids, object names and
// manifest.json. Pure functions; the toolkit writes, these read and check.

import { createHash, createHmac, timingSafeEqual } from "crypto";

/** How the toolkit may compress a bundle's objects (ETCD_DR_COMPRESSION). */
export const COMPRESSIONS = ["gzip", "zstd", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** How the toolkit may encrypt them (a key file is configured, or not). */
export const ENCRYPTIONS = ["aes-256-cbc-pbkdf2", "none"] as const;
export type Encryption = (typeof ENCRYPTIONS)[number];

export const SNAPSHOT_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-r(\d+)$/;

export interface SnapshotId {
    id: string;
    createdAt: Date;
    revision: number;
}

/** Parses "YYYYMMDDTHHMMSSZ-r<revision>"; undefined when the text is not a valid id. */
export function parseSnapshotId(id: string): SnapshotId | undefined {
    const m = SNAPSHOT_ID.exec(id);
    if (!m) return undefined;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const createdAt = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    if (createdAt.getUTCMonth() !== month - 1 || createdAt.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
        return undefined;
    }
    return { id, createdAt, revision: Number(m[7]) };
}

export function formatSnapshotId(createdAt: Date, revision: number): string {
    const stamp = createdAt.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
    return `${stamp}-r${revision}`;
}

export interface ManifestObject {
    name: string;
    size: number;
    sha256: string;
}

export interface SnapshotManifest {
    /** 2: hmacSha256, snapshotBytes and pkiSha256 (node/lib/manifest.sh); 1: none of them. */
    formatVersion: number;
    /** HMAC-SHA256 of the manifest's text without this line, keyed by manifestMacKey (format 2, a site with a key). */
    hmacSha256?: string;
    id: string;
    createdAt: string;
    cluster: string;
    sourceHost: string;
    members: string[];
    etcdRevision: number;
    etcdHash: number;
    etcdTotalKeys: number;
    etcdVersion: string;
    kubernetesVersion: string;
    compression: Compression;
    encryption: Encryption;
    snapshotSha256: string;
    /** Size of the plaintext database (format 2). */
    snapshotBytes?: number;
    /** sha256 of the plaintext pki.tar (format 2). */
    pkiSha256?: string;
    /** Encryption of Secrets at rest on the source apiserver: "none", "sha256:<EncryptionConfiguration digest>" or "unknown". */
    apiserverEncryption?: string;
    objects: ManifestObject[];
}

/** The object names a bundle holds for a compression and encryption: nothing else may be named. */
export function bundleObjectNames(compression: string, encryption: string): string[] | undefined {
    const ext = ({ gzip: ".gz", zstd: ".zst", none: "" } as Record<string, string>)[compression];
    if (ext === undefined || !(ENCRYPTIONS as readonly string[]).includes(encryption)) return undefined;
    const suffix = `${ext}${encryption === "none" ? "" : ".enc"}`;
    return [`snapshot.db${suffix}`, `pki.tar${suffix}`];
}

/**
 * The manifest's authentication key, as node/lib/encoding.sh manifest_mac_key derives it: SHA-256
 * of a fixed label and the snapshot encryption key (the password openssl uses).
 */
export function manifestMacKey(encryptionKey: string): Buffer {
    return createHash("sha256").update(`etcd-dr manifest hmac v1\n${encryptionKey}`).digest();
}

const MAC_LINE = /^ {2}"hmacSha256": "([0-9a-f]{64})",$/;

/** Whether manifest.json's text carries, on its line 2, a valid HMAC of the rest under this key. */
export function manifestAuthentic(text: string, encryptionKey: string): boolean {
    const lines = text.split("\n");
    const mac = MAC_LINE.exec(lines[1] ?? "");
    if (!mac) return false;
    const body = [lines[0], ...lines.slice(2)].join("\n");
    const expected = createHmac("sha256", manifestMacKey(encryptionKey)).update(body).digest();
    return timingSafeEqual(expected, Buffer.from(mac[1], "hex"));
}

/** Adds the HMAC line to an unsigned manifest text, as `etcd-dr backup` writes it (tests, tools). */
export function signManifest(text: string, encryptionKey: string): string {
    const mac = createHmac("sha256", manifestMacKey(encryptionKey)).update(text).digest("hex");
    return text.replace(/^\{\n/, `{\n  "hmacSha256": "${mac}",\n`);
}


/** Checks a parsed manifest.json; returns one line per problem (empty when it is sound). */
export function manifestProblems(manifest: unknown, expectedId?: string): string[] {
    if (manifest === null || typeof manifest !== "object") return ["manifest.json is not a JSON object"];
    const m = manifest as Partial<SnapshotManifest>;
    const problems: string[] = [];
    if (m.formatVersion !== 1 && m.formatVersion !== 2) problems.push(`manifest formatVersion ${String(m.formatVersion)} is not 1 or 2`);
    if (typeof m.id !== "string" || !parseSnapshotId(m.id)) problems.push(`manifest id '${String(m.id)}' is not a snapshot id`);
    if (expectedId !== undefined && m.id !== expectedId) problems.push(`manifest id ${String(m.id)} differs from ${expectedId}`);
    if (typeof m.id === "string" && parseSnapshotId(m.id)?.revision !== m.etcdRevision) {
        problems.push(`manifest etcdRevision ${String(m.etcdRevision)} differs from the id's revision`);
    }
    if (!Array.isArray(m.members) || m.members.length === 0 || !m.members.every((x) => typeof x === "string")) {
        problems.push("manifest members must be a non-empty list of host names");
    }
    if (!Array.isArray(m.objects) || m.objects.length === 0) {
        problems.push("manifest lists no objects");
    } else {
        for (const o of m.objects) {
            if (typeof o?.name !== "string" || !/^[0-9a-f]{64}$/.test(String(o?.sha256)) || !Number.isInteger(o?.size)) {
                problems.push(`manifest object ${JSON.stringify(o)} lacks a name, size or sha256`);
            }
        }
        if (!m.objects.some((o) => o?.name?.startsWith("snapshot.db"))) problems.push("manifest lists no snapshot.db object");
        if (!m.objects.some((o) => o?.name?.startsWith("pki.tar"))) problems.push("manifest lists no pki.tar object");
        // A name becomes a path on the restoring node: only the two a bundle has (review #11).
        const allowed = bundleObjectNames(String(m.compression), String(m.encryption));
        const names = m.objects.map((o) => String(o?.name));
        if (allowed && (names.length !== 2 || [...names].sort().join(",") !== [...allowed].sort().join(","))) {
            problems.push(`manifest objects ${JSON.stringify(names)} are not exactly ${allowed.join(" and ")}`);
        }
    }
    if (!(COMPRESSIONS as readonly string[]).includes(String(m.compression))) problems.push(`manifest compression '${String(m.compression)}' is unknown`);
    if (!(ENCRYPTIONS as readonly string[]).includes(String(m.encryption))) problems.push(`manifest encryption '${String(m.encryption)}' is unknown`);
    return problems;
}

/** Same host names, whatever the order. */
export function sameMembers(a: string[], b: string[]): boolean {
    return [...a].sort().join(",") === [...b].sort().join(",");
}
