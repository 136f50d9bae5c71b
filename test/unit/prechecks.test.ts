import * as assert from "assert";
import { createHash } from "crypto";
import { HttpResult, PrecheckInput, runPrechecks } from "../../lib/prechecks";
import { signManifest } from "../../lib/snapshot";
import { sampleManifest } from "./snapshot.test";

const ID = "20261121T170053Z-r3";
const URL = "https://objectstorage.example.invalid/p/par/n/ns/b/replica/o/";

function input(overrides: Partial<PrecheckInput> = {}, answer?: HttpResult | Error): PrecheckInput {
    const manifest = sampleManifest();
    const reply = answer ?? { status: 200, body: JSON.stringify(manifest) };
    return {
        snapshotId: ID,
        readUrl: URL,
        prefix: "etcd",
        cluster: "lab",
        controlPlane: ["cp1", "cp2", "cp3"],
        kubernetesVersion: "1.31.4",
        etcdVersion: "3.4.23",
        parExpiresAt: "2027-06-30T00:00:00Z",
        now: new Date("2026-11-21T18:00:00Z"),
        offline: false,
        fetch: async (url) => {
            if (reply instanceof Error) throw reply;
            // The listing of the snapshot's directory: every object the sample manifest names, at its size.
            if (url.startsWith(`${URL}?prefix=${encodeURIComponent(`etcd/lab/${ID}/`)}&fields=name,size`)) {
                const objects = [...manifest.objects, { name: "manifest.json", size: 700 }].map((o) => ({ name: `etcd/lab/${ID}/${o.name}`, size: o.size }));
                return { status: 200, body: JSON.stringify({ objects }) };
            }
            assert.strictEqual(url, `${URL}etcd/lab/${ID}/manifest.json`);
            return reply;
        },
        ...overrides,
    };
}

function manifestWith(change: (m: ReturnType<typeof sampleManifest>) => void): HttpResult {
    const manifest = sampleManifest();
    change(manifest);
    return { status: 200, body: JSON.stringify(manifest) };
}

async function problemsOf(i: PrecheckInput): Promise<string[]> {
    return (await runPrechecks(i)).problems;
}

describe("restore prechecks", () => {
    it("pass for a committed snapshot of the same members and versions", async () => {
        const result = await runPrechecks(input());
        assert.deepStrictEqual(result.problems, []);
        assert.strictEqual(result.manifest?.etcdRevision, 3);
    });

    const cases: [string, () => PrecheckInput, RegExp][] = [
        ["a malformed id", () => input({ snapshotId: "yesterday" }), /'yesterday' is not a snapshot id/],
        ["an expired PAR", () => input({ parExpiresAt: "2026-11-01T00:00:00Z" }), /pre-authenticated request expired at 2026-11-01T00:00:00Z: raise etcd-dr:snapshots.parExpiresAt/],
        ["a snapshot missing from the replica", () => input({}, { status: 404, body: "" }), /snapshot 20261121T170053Z-r3 does not exist in the replica \(no committed manifest.json\)/],
        ["an unreadable store", () => input({}, { status: 500, body: "" }), /failed with HTTP 500; check the pre-authenticated request/],
        ["an unreachable store", () => input({}, new Error("connect ECONNREFUSED")), /the snapshot store did not answer \(connect ECONNREFUSED\)/],
        ["a manifest that is not JSON", () => input({}, { status: 200, body: "<html>" }), /manifest of snapshot .* is not valid JSON/],
        ["a broken manifest", () => input({}, manifestWith((m) => { m.objects = []; })), /manifest of snapshot .* is unusable \(manifest lists no objects/],
        ["other member host names", () => input({}, manifestWith((m) => { m.members = ["cp1", "cp2", "cp4"]; })), /taken from members cp1,cp2,cp4 but this site's control plane is cp1,cp2,cp3/],
        ["another etcd version", () => input({}, manifestWith((m) => { m.etcdVersion = "3.5.15"; })), /comes from etcd 3.5.15 but this site runs etcd 3.4.23/],
        ["another Kubernetes version", () => input({}, manifestWith((m) => { m.kubernetesVersion = "1.30.2"; })), /comes from Kubernetes 1.30.2 but this site runs 1.31.4/],
        ["another cluster", () => input({}, manifestWith((m) => { m.cluster = "other"; })), /belongs to cluster 'other', not 'lab'/],
    ];
    for (const [name, make, expected] of cases) {
        it(`refuse ${name} with one line`, async () => {
            const problems = await problemsOf(make());
            assert.ok(problems.some((p) => expected.test(p)), `${expected} in ${JSON.stringify(problems)}`);
            assert.ok(problems.every((p) => !p.includes("\n")));
        });
    }

    // The nodes refuse these at prepare (node/lib/manifest.sh); the prechecks refuse them before
    // `pulumi up` starts the chain, and `pulumi preview` shows why (review #1, #26).
    describe("with the sites' snapshot key", () => {
        const KEY = "prechecks-site-key-0123456789abcdefghijklmnopqrs";
        const signed = (change: (m: ReturnType<typeof sampleManifest>) => void = () => {}, key = KEY): HttpResult => {
            const manifest = sampleManifest();
            manifest.formatVersion = 2;
            change(manifest);
            return { status: 200, body: signManifest(`${JSON.stringify(manifest, null, 2)}\n`, key) };
        };

        it("pass for a manifest the key authenticates", async () => {
            assert.deepStrictEqual(await problemsOf(input({ encryptionKey: KEY }, signed())), []);
        });

        // Review #18: what every member's prepare is pinned to: the bytes read here, not a re-encoding.
        it("give the sha256 of the manifest's bytes as they came, for the prepare steps", async () => {
            const answer = signed();
            const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(answer.body)]);
            const result = await runPrechecks(input({ encryptionKey: KEY }, { ...answer, bytes }));
            assert.deepStrictEqual(result.problems, []);
            assert.strictEqual(result.manifestSha256, createHash("sha256").update(bytes).digest("hex"));
            const decodedOnly = await runPrechecks(input({ encryptionKey: KEY }, answer));
            assert.strictEqual(decodedOnly.manifestSha256, createHash("sha256").update(answer.body).digest("hex"));
            assert.strictEqual((await runPrechecks(input({ encryptionKey: KEY }, signed((m) => { m.etcdVersion = "3.5.15"; })))).manifestSha256, undefined,
                "no digest for a refused manifest");
        });

        const refusals: [string, () => PrecheckInput, RegExp][] = [
            ["a manifest without a MAC (forged with the write PAR)", () => input({ encryptionKey: KEY }), /^the manifest of snapshot 20261121T170053Z-r3 is not authenticated with the sites' snapshot key \(forged, altered, or made with another key\)/],
            ["a manifest made with another key", () => input({ encryptionKey: KEY }, signed(() => {}, "another-key-0123456789abcdefghijklmnopqrstuvw")), /is not authenticated with the sites' snapshot key/],
            ["an altered manifest", () => input({ encryptionKey: KEY }, { status: 200, body: signed().body.replace('"sourceHost": "cp1"', '"sourceHost": "cp2"') }), /is not authenticated with the sites' snapshot key/],
            ["a plaintext snapshot, even with a valid MAC (a downgrade)", () => input({ encryptionKey: KEY }, signed((m) => { m.encryption = "none"; m.objects = [{ name: "snapshot.db.gz", size: 2000, sha256: "b".repeat(64) }, { name: "pki.tar.gz", size: 600, sha256: "c".repeat(64) }]; })), /^snapshot 20261121T170053Z-r3 is not encrypted, and this site holds the snapshot key: it restores only encrypted snapshots/],
        ];
        for (const [name, make, expected] of refusals) {
            it(`refuse ${name} with one line`, async () => {
                const problems = await problemsOf(make());
                assert.ok(problems.some((p) => expected.test(p)), `${expected} in ${JSON.stringify(problems)}`);
            });
        }

        it("say so when the key is not known yet, and refuse nothing for it", async () => {
            const result = await runPrechecks(input({ encryptionKey: undefined }));
            assert.deepStrictEqual(result.problems, []);
            assert.ok(result.skipped.some((s) => /^manifest authentication not checked here: the snapshot key is not known yet; the nodes check it at prepare$/.test(s)), JSON.stringify(result.skipped));
        });
    });

    it("refuse an id dated more than 5 minutes after now, before reading the store", async () => {
        const problems = await problemsOf(input({ snapshotId: "20261121T180600Z-r3", fetch: async () => assert.fail("a future id must not be looked up") }));
        assert.deepStrictEqual(problems, ["snapshot 20261121T180600Z-r3 is dated 2026-11-21T18:06:00Z, after this machine's clock (2026-11-21T18:00:00Z): its id is forged or its maker's clock is wrong; pick another snapshot"]);
        assert.deepStrictEqual(await problemsOf(input({ snapshotId: "20261121T180400Z-r3", fetch: async () => ({ status: 404, body: "" }) })), [
            "snapshot 20261121T180400Z-r3 does not exist in the replica (no committed manifest.json); `npm run snapshots -- <stack>` lists the snapshots there",
        ], "within the clock skew the nodes allow");
    });

    it("say which checks they did not run in the offline plan, and still check what they can", async () => {
        const result = await runPrechecks(input({ offline: true, fetch: async () => assert.fail("offline must not fetch") }));
        assert.deepStrictEqual(result.problems, []);
        assert.match(result.skipped[0], /^prechecks not run in the offline plan \(the snapshot store is not reachable\): snapshot exists in the replica/);
        const expired = await runPrechecks(input({ offline: true, parExpiresAt: "2020-01-01T00:00:00Z" }));
        assert.strictEqual(expired.problems.length, 1);
    });

    it("say so when the replica's URL is not known yet", async () => {
        const result = await runPrechecks(input({ readUrl: undefined }));
        assert.match(result.skipped[0], /read URL is not known yet/);
    });
});
