// A snapshot is committed on a replica only when all of it has arrived: its manifest.json and every
// object the manifest names, at the manifest's size. Cross-region replication copies each object
// on its own and in no order, so a replica can list a manifest before its data (review #12, F17).
//
// The three readers of a store (`etcd-dr list` on a node, the restore prechecks, and
// `npm run snapshots` through lib/bundle.ts) are run against one fake replica: a local HTTP server
// that answers the OCI PAR requests they make, listing only the fields asked for, as OCI does.
//
// ETCD_DR_TOOLKIT=<file> runs the bash part against another build of the toolkit, e.g. the one
// before this rule: git show <commit>:node/etcd-dr and its node/lib into a directory.
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { committedSnapshots } from "../../lib/bundle";
import { PrecheckInput, runPrechecks } from "../../lib/prechecks";
import { groupSnapshots, httpFetch, missingObjects } from "../../lib/store";
import { parseSnapshotId, signManifest } from "../../lib/snapshot";
import { readToolkit } from "../../lib/toolkitSource";

const GOLDEN_MANIFEST = path.resolve(__dirname, "..", "fixtures", "manifest.golden.json");
const ROOT = "etcd/payments/";
const READ_PATH = "/p/read-token/n/ns/b/replica/o/";

/** The site's snapshot encryption key: the manifests are authenticated with it, as a backup writes them. */
const KEY = "committed-test-key-0123456789abcdefghijklmnopqrs";

/** A manifest in the toolkit's own layout (the golden fixture's), naming these objects, signed with KEY. */
function manifestText(id: string, objects: { name: string; size: number }[]): string {
    const golden = fs.readFileSync(GOLDEN_MANIFEST, "utf8");
    const lines = objects.map((o, i) => `    {"name": "${o.name}", "size": ${o.size}, "sha256": "${"ab".repeat(32)}"}${i < objects.length - 1 ? "," : ""}`);
    const unsigned = golden
        .replace(/^ {2}"hmacSha256": .*\n/m, "")
        .replace(/"id": "[^"]*"/, `"id": "${id}"`)
        .replace(/"createdAt": "[^"]*"/, `"createdAt": "${parseSnapshotId(id)?.createdAt.toISOString().replace(".000Z", "Z")}"`)
        .replace(/"etcdRevision": \d+/, `"etcdRevision": ${id.split("-r")[1]}`)
        .replace(/ {2}"objects": \[\n[\s\S]*\n {2}\]/, `  "objects": [\n${lines.join("\n")}\n  ]`);
    return signManifest(unsigned, KEY);
}

const bytes = (n: number) => Buffer.alloc(n, 7);
const DATA = [
    { name: "snapshot.db.gz.enc", size: 15 },
    { name: "pki.tar.gz.enc", size: 10 },
];

// The replica, as listing would find it a moment after a few backups:
//   r3, r20  complete: committed
//   r9       manifest arrived, snapshot.db not yet
//   r12      snapshot.db listed at another size than the manifest's
//   r15      data arrived, manifest not yet
//   r25      listed, but its manifest is deleted (retention) before it is read
const OBJECTS: Record<string, Buffer> = {};
function put(id: string, files: { name: string; size: number }[], manifest = true): void {
    for (const f of files) OBJECTS[`${ROOT}${id}/${f.name}`] = bytes(f.size);
    if (manifest) OBJECTS[`${ROOT}${id}/manifest.json`] = Buffer.from(manifestText(id, DATA));
}
put("20261121T170053Z-r3", DATA);
put("20261121T171500Z-r9", [DATA[1]]);
put("20261121T173000Z-r12", [{ name: "snapshot.db.gz.enc", size: 9 }, DATA[1]]);
put("20261121T174500Z-r15", DATA, false);
put("20261121T180000Z-r20", DATA);
put("20261121T181500Z-r25", DATA);
const DELETED_AFTER_LISTING = `${ROOT}20261121T181500Z-r25/manifest.json`;

const sizeOf = (id: string) =>
    Object.entries(OBJECTS)
        .filter(([name]) => name.startsWith(`${ROOT}${id}/`))
        .reduce((sum, [, body]) => sum + body.length, 0);

interface FakeStore {
    url: string;
    /** Names of objects whose GET answers this status instead. */
    failing: Map<string, number>;
    close(): Promise<void>;
}

/** OCI's PAR data path for one read + list PAR: GET of an object, and ListObjects in pages of 2. */
async function fakeReplica(): Promise<FakeStore> {
    const failing = new Map<string, number>();
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://replica.invalid");
        if (!url.pathname.startsWith(READ_PATH) || req.method !== "GET") {
            res.writeHead(404).end(JSON.stringify({ code: "NotAuthorizedOrNotFound", message: "" }));
            return;
        }
        const name = decodeURIComponent(url.pathname.slice(READ_PATH.length));
        if (name === "") {
            const prefix = url.searchParams.get("prefix") ?? "";
            const start = url.searchParams.get("start") ?? "";
            const fields = (url.searchParams.get("fields") ?? "name").split(",");
            const names = Object.keys(OBJECTS)
                .filter((n) => n.startsWith(prefix) && n >= start)
                .sort();
            const page = names.slice(0, 2).map((n) => ({ name: n, ...(fields.includes("size") ? { size: OBJECTS[n].length } : {}) }));
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ objects: page, ...(names.length > 2 ? { nextStartWith: names[2] } : {}) }));
            return;
        }
        const status = failing.get(name) ?? (name === DELETED_AFTER_LISTING || !OBJECTS[name] ? 404 : 200);
        if (status !== 200) {
            res.writeHead(status).end(JSON.stringify({ code: status === 404 ? "ObjectNotFound" : "InternalServerError", message: "" }));
            return;
        }
        res.writeHead(200, { "content-length": OBJECTS[name].length }).end(OBJECTS[name]);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}${READ_PATH}`,
        failing,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

describe("a snapshot is committed on a replica only when all of it has arrived", function () {
    this.timeout(60_000);
    let store: FakeStore;
    let work: string;
    let toolkit: string;

    before(async () => {
        store = await fakeReplica();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-committed-"));
        toolkit = process.env.ETCD_DR_TOOLKIT ?? path.join(work, "etcd-dr");
        if (!process.env.ETCD_DR_TOOLKIT) fs.writeFileSync(toolkit, readToolkit(), { mode: 0o755 });
    });

    afterEach(() => store.failing.clear());

    after(async () => {
        await store.close();
        fs.rmSync(work, { recursive: true, force: true });
    });

    describe("etcd-dr list (real bash and curl against the fake replica)", () => {
        // Asynchronous: the fake replica answers from this very process, so its event loop must run.
        // A run that outlives the test is killed, so that no curl is left waiting on a stopped store.
        function list(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
            const env = path.join(work, "list.env");
            const key = path.join(work, "encryption.key");
            fs.writeFileSync(key, `${KEY}\n`, { mode: 0o600 });
            fs.writeFileSync(
                env,
                [
                    "ETCD_DR_CLUSTER=payments",
                    `ETCD_DR_STATE_DIR=${path.join(work, "state")}`,
                    `ETCD_DR_METRICS_DIR=${path.join(work, "metrics")}`,
                    `ETCD_DR_READ_URL=${store.url}`,
                    `ETCD_DR_ENCRYPTION_KEY_FILE=${key}`,
                ].join("\n") + "\n",
                { mode: 0o600 },
            );
            fs.chmodSync(env, 0o600);
            const child = spawn("bash", [toolkit, ...args], { env: { ...process.env, INVOCATION_ID: "etcd-dr-unit-test", ETCD_DR_ENV: env }, timeout: 30_000 });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
        }

        it("lists only the complete snapshots and names the ones still arriving on stderr", async () => {
            const run = await list(["list", "--json"]);
            assert.deepStrictEqual(
                { status: run.status, stdout: run.stdout },
                {
                    status: 0,
                    stdout: `[{"id":"20261121T180000Z-r20","sizeBytes":${sizeOf("20261121T180000Z-r20")},"revision":20},{"id":"20261121T170053Z-r3","sizeBytes":${sizeOf("20261121T170053Z-r3")},"revision":3}]\n`,
                },
                run.stderr,
            );
            assert.deepStrictEqual(run.stderr.trimEnd().split("\n"), [
                "etcd-dr: snapshot 20261121T173000Z-r12 is not complete in the store (snapshot.db.gz.enc is 9 bytes, the manifest says 15); it is left out until all of it has arrived",
                "etcd-dr: snapshot 20261121T171500Z-r9 is not complete in the store (snapshot.db.gz.enc missing); it is left out until all of it has arrived",
            ]);
        });

        it("the table shows the same two snapshots", async () => {
            const run = await list(["list"]);
            assert.strictEqual(run.status, 0, run.stderr);
            const ids = run.stdout.trimEnd().split("\n").slice(1).map((line) => line.split(/ +/)[0]);
            assert.deepStrictEqual(ids, ["20261121T180000Z-r20", "20261121T170053Z-r3"]);
        });

        it("a manifest the store will not serve fails the listing with one ERROR line", async () => {
            store.failing.set(`${ROOT}20261121T170053Z-r3/manifest.json`, 403);
            const run = await list(["list", "--json"]);
            assert.strictEqual(run.status, 1);
            assert.strictEqual(run.stdout, "");
            assert.deepStrictEqual(
                run.stderr.split("\n").filter((l) => l.startsWith("etcd-dr: ERROR:")),
                [`etcd-dr: ERROR: cannot read ${ROOT}20261121T170053Z-r3/manifest.json from the store (HTTP 403 InternalServerError); check ETCD_DR_READ_URL and that its PAR has not expired`],
            );
        });
    });

    describe("npm run snapshots (lib/bundle.ts committedSnapshots)", () => {
        it("counts the complete snapshots as committed and says why the others are not", async () => {
            const result = await committedSnapshots(store.url, ROOT, httpFetch);
            assert.deepStrictEqual(
                result.committed.map((e) => [e.id, e.sizeBytes]),
                [
                    ["20261121T180000Z-r20", sizeOf("20261121T180000Z-r20")],
                    ["20261121T170053Z-r3", sizeOf("20261121T170053Z-r3")],
                ],
            );
            assert.deepStrictEqual(result.incomplete, [
                { id: "20261121T173000Z-r12", reason: "still arriving: snapshot.db.gz.enc is 9 bytes, the manifest says 15" },
                { id: "20261121T171500Z-r9", reason: "still arriving: snapshot.db.gz.enc missing" },
            ]);
        });

        it("fails, naming the snapshot, when a manifest cannot be read", async () => {
            store.failing.set(`${ROOT}20261121T170053Z-r3/manifest.json`, 403);
            await assert.rejects(committedSnapshots(store.url, ROOT, httpFetch), /reading the manifest of 20261121T170053Z-r3 failed with HTTP 403/);
        });

        it("missingObjects compares names and sizes with the listing (pure)", () => {
            const [entry] = groupSnapshots(
                [
                    { name: `${ROOT}20261121T170053Z-r3/manifest.json`, size: 700 },
                    { name: `${ROOT}20261121T170053Z-r3/pki.tar.gz.enc`, size: 10 },
                    { name: `${ROOT}20261121T170053Z-r3/snapshot.db.gz.enc`, size: 14 },
                ],
                ROOT,
            );
            assert.deepStrictEqual(missingObjects(entry, DATA), ["snapshot.db.gz.enc is 14 bytes, the manifest says 15"]);
            assert.deepStrictEqual(missingObjects(entry, [...DATA.slice(1), { name: "snapshot.db.zst", size: 1 }]), ["snapshot.db.zst missing"]);
            assert.deepStrictEqual(missingObjects(undefined, DATA.slice(1)), ["pki.tar.gz.enc missing"]);
            assert.deepStrictEqual(missingObjects(entry, [{ name: "pki.tar.gz.enc", size: 10 }]), []);
        });
    });

    describe("the restore prechecks", () => {
        function input(snapshotId: string): PrecheckInput {
            return {
                snapshotId,
                readUrl: store.url,
                prefix: "etcd",
                cluster: "payments",
                controlPlane: ["cp1", "cp2", "cp3"],
                kubernetesVersion: "1.31.4",
                etcdVersion: "3.5.15",
                parExpiresAt: "2027-06-30T00:00:00Z",
                now: new Date("2026-11-21T18:30:00Z"),
                offline: false,
                fetch: httpFetch,
            };
        }

        it("pass for a snapshot that is all there", async () => {
            assert.deepStrictEqual((await runPrechecks(input("20261121T170053Z-r3"))).problems, []);
        });

        const refusals: [string, string][] = [
            [
                "20261121T171500Z-r9",
                "snapshot 20261121T171500Z-r9 is not complete in the replica yet (snapshot.db.gz.enc missing); replication copies each object on its own, so wait for the rest and run again, or pick a snapshot `npm run snapshots -- <stack>` lists",
            ],
            [
                "20261121T173000Z-r12",
                "snapshot 20261121T173000Z-r12 is not complete in the replica yet (snapshot.db.gz.enc is 9 bytes, the manifest says 15); replication copies each object on its own, so wait for the rest and run again, or pick a snapshot `npm run snapshots -- <stack>` lists",
            ],
        ];
        for (const [id, problem] of refusals) {
            it(`refuse ${id}, whose manifest arrived before all of its data, with one line`, async () => {
                assert.deepStrictEqual((await runPrechecks(input(id))).problems, [problem]);
            });
        }

        it("refuse with one line when the replica cannot be listed", async () => {
            const problems = (await runPrechecks({ ...input("20261121T170053Z-r3"), readUrl: store.url.replace("/o/", "/x/o/") })).problems;
            assert.strictEqual(problems.length, 1);
            assert.match(problems[0], /^snapshot 20261121T170053Z-r3 does not exist in the replica/);
            const unlisted = await runPrechecks({
                ...input("20261121T170053Z-r3"),
                fetch: async (url) => (url.includes("?") ? { status: 404, body: "" } : httpFetch(url)),
            });
            assert.deepStrictEqual(unlisted.problems, [
                "listing snapshot 20261121T170053Z-r3 in the replica failed (listing the snapshot store failed with HTTP 404; check that the PAR allows listing and has not expired); check the replica's pre-authenticated request allows listing, then run again",
            ]);
        });
    });
});
