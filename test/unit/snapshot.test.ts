import * as assert from "assert";
import { formatSnapshotId, manifestProblems, parseSnapshotId, sameMembers, SnapshotManifest } from "../../lib/snapshot";
import { snapshotDir } from "../../lib/store";

export function sampleManifest(): SnapshotManifest {
    return {
        formatVersion: 1,
        id: "20261121T170053Z-r3",
        createdAt: "2026-11-21T17:00:53Z",
        cluster: "lab",
        sourceHost: "cp1",
        members: ["cp1", "cp2", "cp3"],
        etcdRevision: 3,
        etcdHash: 3304735227,
        etcdTotalKeys: 8,
        etcdVersion: "3.4.23",
        kubernetesVersion: "1.31.4",
        compression: "gzip",
        encryption: "aes-256-cbc-pbkdf2",
        snapshotSha256: "a".repeat(64),
        objects: [
            { name: "snapshot.db.gz.enc", size: 2000, sha256: "b".repeat(64) },
            { name: "pki.tar.gz.enc", size: 600, sha256: "c".repeat(64) },
        ],
    };
}

describe("snapshot ids and manifests", () => {
    it("parses ids into creation time and revision, and formats them back", () => {
        const parsed = parseSnapshotId("20261121T170053Z-r1234");
        assert.strictEqual(parsed?.createdAt.toISOString(), "2026-11-21T17:00:53.000Z");
        assert.strictEqual(parsed?.revision, 1234);
        assert.strictEqual(formatSnapshotId(new Date("2026-11-21T17:00:53.789Z"), 1234), "20261121T170053Z-r1234");
    });

    it("refuses malformed and impossible ids", () => {
        for (const bad of ["", "latest", "20261121T170053Z", "20261121T170053-r1", "20261321T170053Z-r1", "20260230T000000Z-r1", "20261121T250000Z-r1", "20261121T170053Z-r"]) {
            assert.strictEqual(parseSnapshotId(bad), undefined, bad);
        }
    });

    it("sorts ids by time as strings", () => {
        const ids = ["20261121T170053Z-r9", "20261121T165959Z-r100", "20251231T235959Z-r5"];
        assert.deepStrictEqual([...ids].sort(), ["20251231T235959Z-r5", "20261121T165959Z-r100", "20261121T170053Z-r9"]);
    });

    it("accepts a sound manifest and names each problem of a broken one", () => {
        assert.deepStrictEqual(manifestProblems(sampleManifest(), "20261121T170053Z-r3"), []);
        const broken = { ...sampleManifest(), etcdRevision: 4, members: [], objects: [{ name: "pki.tar.gz", size: 1, sha256: "x" }], compression: "lz4" };
        const problems = manifestProblems(broken, "20261121T170053Z-r9");
        for (const expected of ["differs from 20261121T170053Z-r9", "etcdRevision 4 differs", "members must be", "lacks a name, size or sha256", "no snapshot.db", "compression 'lz4'"]) {
            assert.ok(problems.some((p) => p.includes(expected)), `${expected} in ${problems.join(" | ")}`);
        }
        assert.deepStrictEqual(manifestProblems("nope"), ["manifest.json is not a JSON object"]);
    });

    it("places a snapshot under prefix/cluster/id and compares members as sets", () => {
        assert.strictEqual(snapshotDir("etcd/", "lab", "20261121T170053Z-r3"), "etcd/lab/20261121T170053Z-r3/");
        assert.ok(sameMembers(["cp2", "cp1", "cp3"], ["cp1", "cp2", "cp3"]));
        assert.ok(!sameMembers(["cp1", "cp2"], ["cp1", "cp2", "cp3"]));
    });
});
