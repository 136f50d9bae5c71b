// The snapshot store contract shared with the node toolkit (node/etcd-dr) and the lab's emulator:
// where a snapshot's objects live, how a pre-authenticated request lists them, and how the
// listing becomes snapshots. Object names: "<prefix>/<cluster>/<snapshotId>/<object>".

import { parseSnapshotId } from "./snapshot";

export interface HttpResult {
    status: number;
    body: string;
    /** The body byte for byte, as it came (httpFetch sets it): a digest of what was read is taken over these, not over the decoded text. */
    bytes?: Buffer;
}

/** A GET that returns status and text; injected so the store logic is tested without a network. */
export type Fetch = (url: string) => Promise<HttpResult>;

/** Plain HTTP(S) GET with Node's fetch, with a timeout so a preview never hangs on a dead store. */
export const httpFetch: Fetch = async (url) => {
    const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    const bytes = Buffer.from(await response.arrayBuffer());
    // Decoded as response.text() decodes.
    return { status: response.status, body: new TextDecoder().decode(bytes), bytes };
};

/** Object-name prefix under which one cluster's snapshots live: "<prefix>/<cluster>/". */
export function snapshotPrefix(prefix: string, clusterName: string): string {
    return `${prefix.replace(/\/+$/, "")}/${clusterName}/`;
}

/** Object-name directory of one snapshot: "<prefix>/<cluster>/<id>/". */
export function snapshotDir(prefix: string, cluster: string, id: string): string {
    return `${snapshotPrefix(prefix, cluster)}${id}/`;
}

export interface ListedObject {
    name: string;
    size: number;
}

export interface SnapshotEntry {
    id: string;
    createdAt: Date;
    revision: number;
    sizeBytes: number;
    /**
     * manifest.json is listed. On the site that took the snapshot this commits it (the manifest goes
     * up last); on a replica it does not, see missingObjects.
     */
    hasManifest: boolean;
    /** Size of every object listed under the snapshot's directory, by its name there. */
    objects: Map<string, number>;
}

/** Groups a listing under "<prefix>/<cluster>/" into snapshots, newest first. */
export function groupSnapshots(objects: ListedObject[], root: string): SnapshotEntry[] {
    const byId = new Map<string, SnapshotEntry>();
    for (const object of objects) {
        if (!object.name.startsWith(root)) continue;
        const [id, file] = object.name.slice(root.length).split("/");
        const parsed = parseSnapshotId(id);
        if (!parsed || !file) continue;
        const entry = byId.get(id) ?? { id, createdAt: parsed.createdAt, revision: parsed.revision, sizeBytes: 0, hasManifest: false, objects: new Map() };
        entry.sizeBytes += object.size;
        entry.hasManifest = entry.hasManifest || file === "manifest.json";
        entry.objects.set(object.name.slice(root.length + id.length + 1), object.size);
        byId.set(id, entry);
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : -1));
}

/**
 * What the listing lacks of the objects a manifest names, one phrase each; empty when all of them
 * are there at the manifest's size. Cross-region replication copies each object on its own and in
 * no order, so a replica can list a manifest before the data it describes: only a snapshot with
 * nothing missing is committed there.
 */
export function missingObjects(entry: SnapshotEntry | undefined, wanted: { name: string; size: number }[]): string[] {
    const missing: string[] = [];
    for (const object of wanted) {
        const size = entry?.objects.get(object.name);
        if (size === undefined) missing.push(`${object.name} missing`);
        else if (size !== object.size) missing.push(`${object.name} is ${size} bytes, the manifest says ${object.size}`);
    }
    return missing;
}

interface ListingPage {
    objects?: { name: string; size?: number }[];
    nextStartWith?: string;
}

/** Every object under the prefix, across pages, through a read + list PAR URL ending in /o/. */
export async function listObjects(readUrl: string, prefix: string, fetchText: Fetch): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let start = "";
    for (;;) {
        const url = `${readUrl}?prefix=${encodeURIComponent(prefix)}&fields=name,size${start ? `&start=${encodeURIComponent(start)}` : ""}`;
        const response = await fetchText(url);
        if (response.status !== 200) {
            throw new Error(`listing the snapshot store failed with HTTP ${response.status}; check that the PAR allows listing and has not expired`);
        }
        const page = JSON.parse(response.body) as ListingPage;
        for (const o of page.objects ?? []) objects.push({ name: o.name, size: o.size ?? 0 });
        if (!page.nextStartWith) return objects;
        start = page.nextStartWith;
    }
}
