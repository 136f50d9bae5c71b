// The toolkit's restore phases (node/lib/restore.sh) on a fake control-plane node, without the lab:
// the real toolkit (assembled, as a node receives it) runs as root against the project's own
// object-store emulator on loopback, over a node of plain directories (static-pod manifests, pki,
// the etcd data dir, the state dir). What a kubeadm node would answer is stubbed as bash functions:
// the container runtime (a static pod runs while its manifest is in the manifest dir), etcdctl and
// etcdutl (a "database" is a text file whose first line is REV=<revision>), kubectl, systemctl.
// Each test names the review finding (../shared/reviews/reliability.md) it pins.
//
// Faults are injected by FAKE_KILL_AT=<point>: the stub at that point SIGKILLs the whole run, so
// no trap runs, as when the engine is killed, the SSH session is cut or the node loses power.
//
// ETCD_DR_TOOLKIT=<file> runs these tests against another build of the toolkit.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { formatSnapshotId, signManifest } from "../../lib/snapshot";
import { readToolkit } from "../../lib/toolkitSource";
import { Objstore, startObjstore } from "../helpers/objstore";
import { freePort } from "../helpers/ports";

const FAKE_NODE = path.resolve(__dirname, "..", "fixtures", "fake-node.sh");
const SITE_KEY = "restore-site-key-0123456789abcdefghijklmnopqrstuv";
const PREFIX = "etcd/payments/";
const PHASES = ["prepare", "stop", "apply", "start", "verify", "restart-kubelet", "reconcile"] as const;
type Phase = (typeof PHASES)[number];

interface Run {
    status: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}

const errorLines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("etcd-dr: ERROR:"));
const lastLine = (text: string) => text.trimEnd().split("\n").pop() ?? "";
const describeRun = (run: Run) => `exit ${run.status} ${run.signal ?? ""}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`;

/** A kubeadm etcd manifest with IP-based peer flags, as kubeadm writes it, for a node whose data dir is DATA. */
function etcdManifest(data: string): string {
    return [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        "  annotations:",
        "    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.1.10:2379",
        "  labels:",
        "    component: etcd",
        "    tier: control-plane",
        "  name: etcd",
        "  namespace: kube-system",
        "spec:",
        "  containers:",
        "  - command:",
        "    - etcd",
        "    - --cert-file=/etc/kubernetes/pki/etcd/server.crt",
        `    - --data-dir=${data}`,
        "    - --initial-advertise-peer-urls=https://10.0.1.10:2380",
        "    - --initial-cluster=cp1=https://10.0.1.10:2380",
        "    - --key-file=/etc/kubernetes/pki/etcd/server.key",
        "    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.1.10:2379",
        "    - --name=cp1",
        "    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "    image: registry.k8s.io/etcd:3.6.6-0",
        "",
    ].join("\n");
}

interface Node {
    dir: string;
    env: string;
    data: string;
    pki: string;
    manifests: string;
    state: string;
}

describe("the toolkit's restore phases on a fake node (real store, stubbed etcd, runtime and kubelet)", function () {
    this.timeout(300_000);
    let work: string;
    let toolkit: string;
    let store: Objstore;
    const mounts: string[] = [];
    /** Snapshot ids on the store, and the database bytes each holds. */
    const snapshots: Record<"A" | "B" | "C", { id: string; db: Buffer }> = {} as Record<"A" | "B" | "C", { id: string; db: Buffer }>;
    const STANDBY_DB = "REV=77\nthe standby's own data\n";

    /** A control-plane node: manifests, pki, data dir with its own database, settings. */
    function makeNode(name: string, options: { mount?: boolean; mountSize?: string; extra?: string[]; db?: string; saKey?: string; encryptionConfig?: string } = {}): Node {
        const dir = path.join(work, name);
        const node: Node = {
            dir,
            env: path.join(dir, "etcd-dr.env"),
            data: path.join(dir, "data"),
            pki: path.join(dir, "pki"),
            manifests: path.join(dir, "manifests"),
            state: path.join(dir, "state"),
        };
        for (const d of [node.data, node.pki, node.manifests]) fs.mkdirSync(d, { recursive: true });
        if (options.mount) {
            execFileSync("mount", ["-t", "tmpfs", "-o", `size=${options.mountSize ?? "32m"},mode=0700`, "etcd-dr-test", node.data]);
            mounts.push(node.data);
        }
        fs.mkdirSync(path.join(node.data, "member", "snap"), { recursive: true });
        fs.writeFileSync(path.join(node.data, "member", "snap", "db"), options.db ?? STANDBY_DB);
        fs.writeFileSync(path.join(node.pki, "sa.key"), options.saKey ?? "STANDBY-ORIGINAL-SA-KEY\n");
        fs.writeFileSync(path.join(node.pki, "sa.pub"), "STANDBY-ORIGINAL-SA-PUB\n");
        fs.writeFileSync(path.join(node.manifests, "etcd.yaml"), etcdManifest(node.data));
        for (const pod of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
            fs.writeFileSync(path.join(node.manifests, `${pod}.yaml`), `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${pod}\n  namespace: kube-system\n`);
        }
        if (options.encryptionConfig !== undefined) {
            // Secrets encrypted at rest: the apiserver names its EncryptionConfiguration (which holds the keys).
            const config = path.join(dir, "encryption-config.yaml");
            fs.writeFileSync(config, options.encryptionConfig, { mode: 0o600 });
            fs.writeFileSync(path.join(node.manifests, "kube-apiserver.yaml"), [
                "apiVersion: v1", "kind: Pod", "metadata:", "  name: kube-apiserver", "  namespace: kube-system", "spec:", "  containers:", "  - command:",
                "    - kube-apiserver", "    - --advertise-address=10.0.1.10", `    - --encryption-provider-config=${config}`, "    - --etcd-servers=https://127.0.0.1:2379", "",
            ].join("\n"));
        }
        const lines = [
            "ETCD_DR_CLUSTER=payments",
            // gzip here, zstd (the default) in toolkit-store and on the lab: both stay readable.
            "ETCD_DR_COMPRESSION=gzip",
            "ETCD_DR_MEMBERS=cp1",
            `ETCD_DR_WRITE_URL='${store.writeUrl}'`,
            `ETCD_DR_READ_URL='${store.readUrl}'`,
            `ETCD_DR_ENCRYPTION_KEY_FILE=${path.join(work, "site.key")}`,
            `ETCD_DR_STATE_DIR=${node.state}`,
            `ETCD_DR_METRICS_DIR=${path.join(dir, "metrics")}`,
            `ETCD_DR_MANIFEST_DIR=${node.manifests}`,
            `ETCD_DR_PKI_DIR=${node.pki}`,
            `ETCD_DR_KUBECONFIG=${path.join(dir, "admin.conf")}`,
            "ETCD_DR_STOP_TIMEOUT=2",
            "ETCD_DR_VERIFY_TIMEOUT=10",
            "ETCD_DR_APISERVER_STOP_GRACE=1",
            "ETCD_DR_START_TIMEOUT=5",
            ...(options.extra ?? []),
        ];
        fs.writeFileSync(node.env, `${lines.join("\n")}\n`, { mode: 0o600 });
        fs.chmodSync(node.env, 0o600);
        return node;
    }

    function etcdDr(node: Node, args: string[], fake: Record<string, string> = {}): Run {
        const run = spawnSync("bash", [FAKE_NODE, ...args], {
            encoding: "utf8",
            cwd: work,
            timeout: 120_000,
            env: { ...process.env, PATH: `${path.join(work, "bin")}:${process.env.PATH}`, INVOCATION_ID: "etcd-dr-unit-test", ETCD_DR_ENV: node.env, ETCD_DR_TEST_TOOLKIT: toolkit, FAKE_NODE: node.dir, ...fake },
        });
        return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
    }

    function phase(node: Node, name: Phase, id: string, fake: Record<string, string> = {}): Run {
        return etcdDr(node, ["restore", name, id], fake);
    }

    function ok(node: Node, name: Phase, id: string, fake: Record<string, string> = {}): string {
        const run = phase(node, name, id, fake);
        assert.strictEqual(run.status, 0, `restore ${name} ${id}: ${describeRun(run)}`);
        return run.stdout;
    }

    /** Runs PHASES in order; returns each phase's stdout. */
    function chain(node: Node, id: string, phases: readonly Phase[] = PHASES): string[] {
        return phases.map((p) => ok(node, p, id));
    }

    /** SIGKILLs a phase at POINT and asserts it got there. */
    function killedAt(node: Node, name: Phase, id: string, point: string): void {
        const run = phase(node, name, id, { FAKE_KILL_AT: point });
        assert.strictEqual(run.signal, "SIGKILL", `restore ${name} was to be killed at ${point}: ${describeRun(run)}`);
    }

    const read = (file: string) => fs.readFileSync(file, "utf8");
    const liveDb = (node: Node) => fs.readFileSync(path.join(node.data, "member", "snap", "db"));
    const calls = (node: Node) => (fs.existsSync(path.join(node.dir, "calls")) ? read(path.join(node.dir, "calls")).trimEnd().split("\n") : []);
    const restoreDir = (node: Node, id: string) => path.join(node.state, "restore", id);

    /** Files under DIR, recursively, relative. */
    function filesUnder(dir: string): string[] {
        if (!fs.existsSync(dir)) return [];
        return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
    }

    /** What a finished restore of SNAPSHOT must have left on NODE, whatever interrupted it on the way. */
    function assertRestored(node: Node, snapshot: { id: string; db: Buffer }, before: string = STANDBY_DB): void {
        const id = snapshot.id;
        assert.ok(liveDb(node).equals(snapshot.db), `the data dir holds ${JSON.stringify(liveDb(node).toString().split("\n")[0])}, not ${id}'s database`);
        assert.strictEqual(read(path.join(node.data, ".etcd-dr-before-" + id, "member", "snap", "db")), before, "the data it replaced is kept for rollback");
        assert.deepStrictEqual(fs.readdirSync(node.data).filter((f) => f.startsWith(".etcd-dr-restore-")), [], "no staging copy is left");
        assert.strictEqual(read(path.join(node.pki, "sa.key")), "PRIMARY-SA-KEY\n");
        assert.strictEqual(read(path.join(node.pki, "sa.pub")), "PRIMARY-SA-PUB\n");
        // Live once started, in the toolkit's keeping while stopped.
        const live = path.join(node.manifests, "etcd.yaml");
        const etcd = read(fs.existsSync(live) ? live : path.join(node.state, "stopped-manifests", "etcd.yaml"));
        assert.match(etcd, /^ {4}- --initial-advertise-peer-urls=https:\/\/cp1:2380$/m);
        assert.match(etcd, /^ {4}- --initial-cluster=cp1=https:\/\/cp1:2380$/m);
        assert.match(etcd, new RegExp(`^ {4}etcd-dr/restored-snapshot: "${id}"$`, "m"));
        assert.deepStrictEqual(fs.readdirSync(node.pki).filter((f) => f.startsWith(".etcd-dr-sa")), [], "no half-installed keys");
    }

    function assertRollbackMaterial(node: Node, id: string, saKey = "STANDBY-ORIGINAL-SA-KEY\n"): void {
        const rollback = path.join(restoreDir(node, id), "rollback");
        assert.strictEqual(read(path.join(rollback, "sa.key")), saKey, "the rollback copy holds the site's own sa.key");
        const manifest = read(path.join(rollback, "manifests", "etcd.yaml"));
        assert.match(manifest, /^ {4}- --initial-cluster=cp1=https:\/\/10\.0\.1\.10:2380$/m, "the rollback copy holds kubeadm's own peer flags");
        assert.doesNotMatch(manifest, /etcd-dr\/restored-snapshot/);
    }

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-restore-"));
        toolkit = process.env.ETCD_DR_TOOLKIT ?? path.join(work, "etcd-dr");
        if (!process.env.ETCD_DR_TOOLKIT) fs.writeFileSync(toolkit, readToolkit(), { mode: 0o755 });
        store = await startObjstore(work, PREFIX);
        // Whatever build of the toolkit runs here, no real process is ever signalled by name: the
        // host may run etcd members of its own (the lab's nodes).
        fs.mkdirSync(path.join(work, "bin"));
        for (const tool of ["pgrep", "pkill", "killall"]) {
            fs.writeFileSync(path.join(work, "bin", tool), `#!/bin/sh\necho "${tool} $*" >>"$FAKE_NODE/calls"\nexit 1\n`, { mode: 0o755 });
        }
        fs.writeFileSync(path.join(work, "site.key"), `${SITE_KEY}\n`, { mode: 0o600 });
        // The primary takes three snapshots, A, B and C, each of its own data.
        const primary = makeNode("primary", { saKey: "PRIMARY-SA-KEY\n" });
        fs.writeFileSync(path.join(primary.pki, "sa.pub"), "PRIMARY-SA-PUB\n");
        for (const [name, revision] of [["A", 400], ["B", 500], ["C", 600]] as const) {
            const db = Buffer.concat([Buffer.from(`REV=${revision}\nthe primary's data at ${revision}\n`), randomBytes(2048)]);
            const file = path.join(work, `${name}.db`);
            fs.writeFileSync(file, db);
            const run = etcdDr(primary, ["backup"], { FAKE_DB: file });
            assert.strictEqual(run.status, 0, describeRun(run));
            snapshots[name] = { id: run.stdout.trim(), db };
        }
    });

    after(() => {
        store?.stop();
        for (const mount of mounts) spawnSync("umount", [mount]);
        if (work && mounts.every((m) => spawnSync("mountpoint", ["-q", m]).status !== 0)) fs.rmSync(work, { recursive: true, force: true });
    });

    describe("a restore, phase by phase", () => {
        let node: Node;
        before(() => {
            node = makeNode("standby");
        });

        it("lands the snapshot's database, the primary's sa keys and host-name peers, and keeps what it replaced", () => {
            const outputs = chain(node, snapshots.A.id);
            assert.match(outputs[2], new RegExp(`^applied snapshot ${snapshots.A.id} on cp1 into ${node.data} `, "m"));
            assert.match(outputs[4], /^verified snapshot .* apiserver ready, controller-manager and scheduler leading$/m);
            assertRestored(node, snapshots.A);
            assertRollbackMaterial(node, snapshots.A.id);
            assert.deepStrictEqual(fs.readdirSync(node.manifests).sort(), ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]);
        });

        it("restores with a revision bump past anything the standby's clients saw, the old revisions marked compacted (#19)", () => {
            const restores = calls(node).filter((c) => c.startsWith("etcdutl snapshot restore"));
            assert.strictEqual(restores.length, 1);
            assert.match(restores[0], / --bump-revision 1000000000 --mark-compacted /);
            assert.match(restores[0], / --name cp1 .*--initial-cluster cp1=https:\/\/cp1:2380 /);
        });

        it("says in `etcd-dr status` what the restore bumped the revision by, and what it served (#19)", () => {
            const status = etcdDr(node, ["status"]);
            assert.strictEqual(status.status, 0, describeRun(status));
            const last = (JSON.parse(status.stdout) as { "restore-last": Record<string, unknown> })["restore-last"];
            assert.deepStrictEqual({ id: last.id, revision: last.revision, snapshotRevision: last.snapshotRevision, bumpRevision: last.bumpRevision },
                { id: snapshots.A.id, revision: 1_000_000_400, snapshotRevision: 400, bumpRevision: 1_000_000_000 });
        });

        it("restores with ETCD_DR_BUMP_REVISION when it is set, and says that one", () => {
            const other = makeNode("bump-5000", { extra: ["ETCD_DR_BUMP_REVISION=5000"] });
            const outputs = chain(other, snapshots.A.id, ["prepare", "stop", "apply", "start", "verify"]);
            assert.match(calls(other).find((c) => c.startsWith("etcdutl snapshot restore")) ?? "", / --bump-revision 5000 --mark-compacted /);
            assert.match(outputs[4], /revision 5400 \(snapshot 400 \+ bump 5000\)/);
            const last = JSON.parse(read(path.join(other.state, "restore-last.json"))) as Record<string, unknown>;
            assert.deepStrictEqual([last.revision, last.bumpRevision], [5400, 5000]);
            const bad = etcdDr(makeNode("bump-bad", { extra: ["ETCD_DR_BUMP_REVISION=1e9"] }), ["status"]);
            assert.strictEqual(bad.status, 1);
            assert.strictEqual(bad.stderr, "etcd-dr: ERROR: ETCD_DR_BUMP_REVISION '1e9' is not a whole number of revisions below 10^15\n");
        });

        it("does not verify data that lacks the bump: a member serving its own data above the snapshot's revision", () => {
            const own = makeNode("unbumped", { extra: ["ETCD_DR_VERIFY_TIMEOUT=2"] });
            chain(own, snapshots.A.id, ["prepare", "stop", "apply", "start"]);
            // As if the swap had not happened: the standby's own data, at a revision past the snapshot's 400.
            fs.writeFileSync(path.join(own.data, "member", "snap", "db"), "REV=5000\nthe standby's own data\n");
            fs.rmSync(path.join(own.data, "member", "snap", "bump"));
            const run = phase(own, "verify", snapshots.A.id);
            assert.notStrictEqual(run.status, 0, describeRun(run));
            assert.strictEqual(lastLine(run.stderr), `etcd-dr: ERROR: restore of ${snapshots.A.id} does not verify after 2s: revision 5000 is below the snapshot's 400 plus the restore's bump 1000000000 (ETCD_DR_BUMP_REVISION)`);
        });

        it("leaves no plaintext of the snapshot on the node once it is applied: no database, no pki.tar (#16)", () => {
            assert.deepStrictEqual(filesUnder(restoreDir(node, snapshots.A.id)).filter((f) => !f.startsWith("rollback/")), [
                "applied", "manifest.json", "prepared", "restore.log", "restored", "started", "stopped",
            ]);
        });

        it("a second run of every phase changes nothing, and what prepare downloads again does not stay (#16)", () => {
            const outputs = chain(node, snapshots.A.id);
            for (const [i, name] of PHASES.entries()) {
                if (name !== "prepare" && name !== "verify") assert.match(outputs[i], /already|nothing to do/, `${name}: ${outputs[i]}`);
            }
            assertRestored(node, snapshots.A);
            assert.ok(!fs.existsSync(path.join(restoreDir(node, snapshots.A.id), "snapshot.db")), "the database prepare staged again is gone");
            assert.ok(!fs.existsSync(path.join(restoreDir(node, snapshots.A.id), "pki.tar")), "the keys prepare staged again are gone");
        });
    });

    describe("A, then B, then A again (#4)", () => {
        it("each restore lands its own data; the second restore of A is not taken for done", () => {
            const node = makeNode("abA");
            chain(node, snapshots.A.id);
            assert.ok(liveDb(node).equals(snapshots.A.db));
            chain(node, snapshots.B.id);
            assert.ok(liveDb(node).equals(snapshots.B.db), "B landed");
            const again = chain(node, snapshots.A.id);
            for (const [i, name] of PHASES.entries()) assert.doesNotMatch(again[i], /already|nothing to do/, `${name} of A's second restore: ${again[i]}`);
            assertRestored(node, snapshots.A, snapshots.B.db.toString());
        });
    });

    describe("refusals at prepare leave the standby untouched", () => {
        const ATTACKER_KEY = "attacker-key-0123456789abcdefghijklmnopqrstuvwx";
        let node: Node;
        let seconds = 0;

        const objectUrl = (base: string, id: string, name: string) => `${base}${PREFIX}${id}/${name}`;
        async function getObject(id: string, name: string): Promise<Buffer> {
            const response = await fetch(objectUrl(store.readUrl, id, name));
            assert.strictEqual(response.status, 200, name);
            return Buffer.from(await response.arrayBuffer());
        }

        /** A copy of snapshot A under a new id, changed by CHANGE, its manifest signed with KEY (or not at all). */
        async function plantCopy(change: (objects: Record<string, Buffer>, manifest: string) => string, key: string | undefined): Promise<string> {
            seconds += 1;
            const id = formatSnapshotId(new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000 + seconds * 1000), 400);
            const manifestText = (await getObject(snapshots.A.id, "manifest.json")).toString().replace(/^ {2}"hmacSha256": .*\n/m, "").split(snapshots.A.id).join(id);
            const objects: Record<string, Buffer> = {};
            for (const name of ["snapshot.db.gz.enc", "pki.tar.gz.enc"]) objects[name] = await getObject(snapshots.A.id, name);
            const unsigned = change(objects, manifestText);
            for (const [name, body] of Object.entries(objects)) {
                const response = await fetch(objectUrl(store.writeUrl, id, name), { method: "PUT", body: new Uint8Array(body) });
                assert.strictEqual(response.status, 200);
            }
            const manifest = key ? signManifest(unsigned, key) : unsigned;
            assert.strictEqual((await fetch(objectUrl(store.writeUrl, id, "manifest.json"), { method: "PUT", body: manifest })).status, 200);
            return id;
        }

        /** Everything a refused restore must not have changed: manifests, data, keys, and no stopped container. */
        function standbyState(): string {
            const digest = (dir: string) => filesUnder(dir).map((f) => `${f}:${fs.readFileSync(path.join(dir, f)).toString("base64")}`).join(",");
            return [digest(node.manifests), digest(node.data), digest(node.pki), calls(node).filter((c) => c.startsWith("crictl stop")).join(",")].join("\n");
        }

        before(() => {
            node = makeNode("refusals");
        });

        const cases: [string, (objects: Record<string, Buffer>, manifest: string) => string, "site" | "attacker" | undefined, RegExp][] = [
            ["a corrupt object (the manifest intact)", (o, m) => { o["snapshot.db.gz.enc"][o["snapshot.db.gz.enc"].length >> 1] ^= 1; return m; }, "site", /object snapshot\.db\.gz\.enc of snapshot .* is corrupt \(size or sha256 differs from its manifest\); use another snapshot$/],
            ["a truncated object", (o, m) => { o["pki.tar.gz.enc"] = o["pki.tar.gz.enc"].subarray(0, 20); return m; }, "site", /object pki\.tar\.gz\.enc of snapshot .* is corrupt/],
            ["a forged manifest (no MAC: the write PAR is all it took)", (_o, m) => m, undefined, /is refused: its manifest is not authenticated with this site's key/],
            ["a snapshot re-signed with another key", (_o, m) => m, "attacker", /is refused: its manifest is not authenticated with this site's key/],
            ["a downgrade to plaintext", (o, m) => {
                o["snapshot.db.gz"] = o["snapshot.db.gz.enc"]; delete o["snapshot.db.gz.enc"];
                o["pki.tar.gz"] = o["pki.tar.gz.enc"]; delete o["pki.tar.gz.enc"];
                return m.replace('"encryption": "aes-256-cbc-pbkdf2"', '"encryption": "none"').split(".gz.enc").join(".gz");
            }, undefined, /is refused: its manifest is not authenticated with this site's key/],
        ];
        for (const [what, change, signer, expected] of cases) {
            it(`refuses ${what} with one ERROR line; nothing is stopped, changed or left behind`, async () => {
                const id = await plantCopy(change, signer === "site" ? SITE_KEY : signer === "attacker" ? ATTACKER_KEY : undefined);
                const before = standbyState();
                const run = phase(node, "prepare", id);
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.match(lastLine(run.stderr), /^etcd-dr: ERROR: /);
                assert.match(lastLine(run.stderr), expected);
                assert.strictEqual(errorLines(run.stderr).length, 1, describeRun(run));
                assert.deepStrictEqual(filesUnder(restoreDir(node, id)), [], "nothing of the snapshot stays on the node");
                const stop = phase(node, "stop", id);
                assert.match(lastLine(stop.stderr), /is not prepared on this node/);
                assert.strictEqual(standbyState(), before, "the standby changed");
            });
        }

        // Review #18: the prechecks read the manifest once, and every member's prepare is given its
        // sha256; an id written again in between (the write PAR can overwrite) is refused on each.
        describe("a manifest pinned by its digest (ETCD_DR_MANIFEST_SHA256, what the prechecks read)", () => {
            const digest = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
            const rewritten = (manifest: string) => manifest.replace(/"sourceHost": "[^"]*"/, '"sourceHost": "cp9"');

            it("takes the manifest with that digest", async () => {
                const id = await plantCopy((_o, m) => m, SITE_KEY);
                const pinned = digest(await getObject(id, "manifest.json"));
                const out = ok(node, "prepare", id, { ETCD_DR_MANIFEST_SHA256: pinned });
                assert.match(out, new RegExp(`^prepared snapshot ${id} on cp1: revision 400`, "m"));
            });

            it("refuses the id written again since, with one ERROR line, before changing anything", async () => {
                const id = await plantCopy((_o, m) => m, SITE_KEY);
                const checked = digest(await getObject(id, "manifest.json"));
                // A whole, authentic snapshot under the same id, as the primary (or a second upload) writes it.
                const again = signManifest(rewritten((await getObject(id, "manifest.json")).toString().replace(/^ {2}"hmacSha256": .*\n/m, "")), SITE_KEY);
                assert.strictEqual((await fetch(objectUrl(store.writeUrl, id, "manifest.json"), { method: "PUT", body: again })).status, 200);
                const now = digest(Buffer.from(again));
                assert.notStrictEqual(now, checked);
                const before = standbyState();
                const run = phase(node, "prepare", id, { ETCD_DR_MANIFEST_SHA256: checked });
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.strictEqual(lastLine(run.stderr),
                    `etcd-dr: ERROR: the manifest of snapshot ${id} in the store (sha256 ${now}) is not the one the restore was checked with (sha256 ${checked}): the id was written again since; nothing was changed here; run pulumi up again to check the manifest now there, or pick another snapshot`);
                assert.strictEqual(errorLines(run.stderr).length, 1, describeRun(run));
                assert.deepStrictEqual(filesUnder(restoreDir(node, id)), [], "nothing of the snapshot stays on the node");
                assert.match(lastLine(phase(node, "stop", id).stderr), /is not prepared on this node/);
                assert.strictEqual(standbyState(), before, "the standby changed");
                // Pinned to what is there now, and by hand without a digest, the same id prepares.
                ok(node, "prepare", id, { ETCD_DR_MANIFEST_SHA256: now });
                ok(node, "prepare", id);
            });

            it("leaves an earlier restore of the same id as it was when it refuses (its markers, its rollback copy)", async () => {
                const id = await plantCopy((_o, m) => m, SITE_KEY);
                const checked = digest(await getObject(id, "manifest.json"));
                const earlier = makeNode("pinned-earlier");
                chain(earlier, id, ["prepare", "stop", "apply", "start"]);
                chain(earlier, snapshots.B.id, ["prepare", "stop", "apply", "start"]);
                const again = signManifest(rewritten((await getObject(id, "manifest.json")).toString().replace(/^ {2}"hmacSha256": .*\n/m, "")), SITE_KEY);
                assert.strictEqual((await fetch(objectUrl(store.writeUrl, id, "manifest.json"), { method: "PUT", body: again })).status, 200);
                const kept = () => [fs.readdirSync(earlier.data).sort().join(","), filesUnder(restoreDir(earlier, id)).join(",")].join("\n");
                const before = kept();
                assert.match(before, new RegExp(`\\.etcd-dr-before-${id}(,|$)`, "m"));
                const run = phase(earlier, "prepare", id, { ETCD_DR_MANIFEST_SHA256: checked });
                assert.match(lastLine(run.stderr), /is not the one the restore was checked with/);
                assert.strictEqual(kept(), before);
            });

            it("refuses on a node that applied the id from the manifest it had before, which apply would keep", async () => {
                const id = await plantCopy((_o, m) => m, SITE_KEY);
                const first = digest(await getObject(id, "manifest.json"));
                const applied = makeNode("pinned-applied");
                for (const name of ["prepare", "stop", "apply"] as const) ok(applied, name, id, { ETCD_DR_MANIFEST_SHA256: first });
                const again = signManifest(rewritten((await getObject(id, "manifest.json")).toString().replace(/^ {2}"hmacSha256": .*\n/m, "")), SITE_KEY);
                assert.strictEqual((await fetch(objectUrl(store.writeUrl, id, "manifest.json"), { method: "PUT", body: again })).status, 200);
                const now = digest(Buffer.from(again));
                const before = filesUnder(applied.dir).join(",");
                const run = phase(applied, "prepare", id, { ETCD_DR_MANIFEST_SHA256: now });
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.strictEqual(lastLine(run.stderr), `etcd-dr: ERROR: snapshot ${id} is applied on cp1 from another manifest (sha256 ${first}) than the restore was checked with (sha256 ${now}): the id was written again since; restore under a new snapshot id`);
                assert.strictEqual(errorLines(run.stderr).length, 1);
                assert.strictEqual(filesUnder(applied.dir).join(","), before, "nothing downloaded, nothing changed");
            });

            it("refuses a digest that is not a sha256, with one line", () => {
                const run = phase(node, "prepare", snapshots.A.id, { ETCD_DR_MANIFEST_SHA256: "abc" });
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.strictEqual(lastLine(run.stderr), "etcd-dr: ERROR: ETCD_DR_MANIFEST_SHA256 'abc' is not a sha256 (64 lower-case hex digits); leave it unset to take the manifest the store has");
                assert.strictEqual(errorLines(run.stderr).length, 1);
            });
        });
    });

    describe("the store unreachable during prepare", () => {
        it("fails with curl's reason in one ERROR line and changes nothing", async () => {
            const dead = await freePort();
            const node = makeNode("store-down", { extra: [`ETCD_DR_READ_URL='http://127.0.0.1:${dead}/p/read-secret-par/n/lab/b/primary/o/'`] });
            const run = phase(node, "prepare", snapshots.A.id);
            assert.notStrictEqual(run.status, 0, describeRun(run));
            assert.match(lastLine(run.stderr), /^etcd-dr: ERROR: cannot read etcd\/payments\/.*\/manifest\.json from the store \(Failed to connect to 127\.0\.0\.1 port \d+/);
            assert.strictEqual(errorLines(run.stderr).length, 1);
            assert.deepStrictEqual(filesUnder(restoreDir(node, snapshots.A.id)), []);
            assert.strictEqual(liveDb(node).toString(), STANDBY_DB);
            assert.match(lastLine(phase(node, "stop", snapshots.A.id).stderr), /is not prepared on this node/);
        });
    });

    describe("size (#2, #16)", () => {
        it("backs up and prepares a 256 MiB database with no process of either run above 64 MiB", function () {
            this.timeout(300_000);
            const MiB = 1024 * 1024;
            const big = path.join(work, "big.db");
            fs.writeFileSync(big, Buffer.concat([Buffer.from("REV=900\n"), randomBytes(256 * MiB)]));
            const primary = makeNode("big-primary", { saKey: "PRIMARY-SA-KEY\n" });
            fs.writeFileSync(path.join(primary.pki, "sa.pub"), "PRIMARY-SA-PUB\n");
            // GNU time's %M: the largest resident set of the run or any process it waited for (curl, openssl, gzip).
            const timed = (node: Node, args: string[], fake: Record<string, string> = {}) => {
                const run = spawnSync("/usr/bin/time", ["-f", "maxrss_kb=%M", "bash", FAKE_NODE, ...args], {
                    encoding: "utf8",
                    cwd: work,
                    env: { ...process.env, PATH: `${path.join(work, "bin")}:${process.env.PATH}`, INVOCATION_ID: "etcd-dr-unit-test", ETCD_DR_ENV: node.env, ETCD_DR_TEST_TOOLKIT: toolkit, FAKE_NODE: node.dir, ...fake },
                });
                assert.strictEqual(run.status, 0, run.stderr);
                return { stdout: run.stdout, kb: Number(/maxrss_kb=(\d+)/.exec(run.stderr)?.[1]) };
            };
            const backup = timed(primary, ["backup"], { FAKE_DB: big });
            const id = backup.stdout.trim();
            const node = makeNode("big-standby");
            const prepare = timed(node, ["restore", "prepare", id]);
            process.stdout.write(`      peak RSS: backup ${Math.round(backup.kb / 1024)} MiB, prepare ${Math.round(prepare.kb / 1024)} MiB (a 256 MiB database)\n`);
            assert.ok(backup.kb < 64 * 1024, `backup peak ${backup.kb} KiB`);
            assert.ok(prepare.kb < 64 * 1024, `prepare peak ${prepare.kb} KiB`);
            assert.ok(fs.readFileSync(path.join(restoreDir(node, id), "snapshot.db")).equals(fs.readFileSync(big)), "the staged database is the primary's");
            fs.rmSync(big);
            fs.rmSync(primary.dir, { recursive: true });
            fs.rmSync(node.dir, { recursive: true });
        });
    });

    describe("a data dir that is its own mount point, as etcd's hardware guide advises (#6)", () => {
        it("prepare refuses, while everything still runs, a snapshot the data volume has no room to restore beside its data", () => {
            const primary = makeNode("roomy-primary", { saKey: "PRIMARY-SA-KEY\n" });
            fs.writeFileSync(path.join(primary.pki, "sa.pub"), "PRIMARY-SA-PUB\n");
            const db = path.join(work, "700k.db");
            fs.writeFileSync(db, Buffer.concat([Buffer.from("REV=950\n"), randomBytes(700 * 1024)]));
            const made = etcdDr(primary, ["backup"], { FAKE_DB: db });
            assert.strictEqual(made.status, 0, describeRun(made));
            const id = made.stdout.trim();
            const node = makeNode("small-volume", { mount: true, mountSize: "1m" });
            const run = phase(node, "prepare", id);
            assert.notStrictEqual(run.status, 0, describeRun(run));
            assert.match(lastLine(run.stderr), new RegExp(`^etcd-dr: ERROR: restoring ${id} into ${node.data} needs 2 MiB free under ${node.data}, and its filesystem has 1 MiB; free some space on the etcd data volume`));
            assert.deepStrictEqual(filesUnder(restoreDir(node, id)), [], "nothing of the snapshot stays");
            assert.match(lastLine(phase(node, "stop", id).stderr), /is not prepared on this node/);
            assert.strictEqual(liveDb(node).toString(), STANDBY_DB);
        });

        it("restores inside the volume: no rename of the mount point, the old data kept inside it", () => {
            const node = makeNode("mounted", { mount: true });
            chain(node, snapshots.A.id);
            assertRestored(node, snapshots.A);
            assert.strictEqual(spawnSync("mountpoint", ["-q", node.data]).status, 0, "the data dir is still the mount point");
        });
    });

    describe("an apply killed at each step resumes when run again, and keeps the rollback material it wrote first (#5)", () => {
        // In order: during the restore into the staging copy; between moving the old data aside
        // and moving the new data in; after the swap, before the keys; after the keys, before the
        // manifests name the host-name peers.
        for (const point of ["etcdutl-restore", "swap-in", "tar-extract", "rewrite-peers"]) {
            it(`killed at ${point}`, () => {
                const node = makeNode(`killed-apply-${point}`);
                const id = snapshots.A.id;
                chain(node, id, ["prepare", "stop"]);
                killedAt(node, "apply", id, point);
                assert.ok(!fs.existsSync(path.join(restoreDir(node, id), "applied")));
                ok(node, "apply", id);
                assertRestored(node, snapshots.A);
                assertRollbackMaterial(node, id);
                chain(node, id, ["start", "verify"]);
            });
        }
    });

    describe("an apply killed while it writes the primary's keys (#5)", () => {
        it("never leaves a half-written sa.key in the pki dir: it is the site's own until the new one is whole", () => {
            const node = makeNode("killed-keys");
            const id = snapshots.A.id;
            chain(node, id, ["prepare", "stop"]);
            killedAt(node, "apply", id, "tar-partial");
            assert.strictEqual(read(path.join(node.pki, "sa.key")), "STANDBY-ORIGINAL-SA-KEY\n");
            ok(node, "apply", id);
            assertRestored(node, snapshots.A);
        });
    });

    describe("stop, start and prepare killed halfway resume when run again", () => {
        it("stop killed after the apiserver's manifest went", () => {
            const node = makeNode("killed-stop");
            const id = snapshots.A.id;
            ok(node, "prepare", id);
            killedAt(node, "stop", id, "crictl-ps-kube-scheduler");
            assert.ok(fs.existsSync(path.join(node.manifests, "etcd.yaml")), "killed before etcd was stopped");
            chain(node, id, ["stop", "apply", "start", "verify"]);
            assertRestored(node, snapshots.A);
        });

        it("start killed after etcd's manifest went back", () => {
            const node = makeNode("killed-start");
            const id = snapshots.A.id;
            chain(node, id, ["prepare", "stop", "apply"]);
            killedAt(node, "start", id, "start-apiserver");
            assert.ok(fs.existsSync(path.join(node.manifests, "etcd.yaml")));
            assert.ok(!fs.existsSync(path.join(node.manifests, "kube-apiserver.yaml")));
            chain(node, id, ["start", "verify"]);
            assert.deepStrictEqual(fs.readdirSync(node.manifests).sort(), ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]);
        });

        it("prepare killed during its download: the next restore step removes the decrypted database it left (#16)", () => {
            const node = makeNode("killed-prepare");
            killedAt(node, "prepare", snapshots.B.id, "download-pki");
            const download = path.join(restoreDir(node, snapshots.B.id), "download");
            assert.ok(filesUnder(download).includes("snapshot.db"), "the dead run left the decrypted database");
            // Another id's restore: the dead run's plaintext goes, whichever id it was for.
            chain(node, snapshots.A.id);
            assert.ok(!fs.existsSync(download), `left behind: ${filesUnder(download).join(", ")}`);
            assertRestored(node, snapshots.A);
        });
    });

    describe("stop stops the static pods and nothing else (#9)", () => {
        it("stops an etcd that outlives its manifest through the runtime, by its container id, and signals no process by name", () => {
            const node = makeNode("stuck");
            const id = snapshots.A.id;
            ok(node, "prepare", id);
            const run = phase(node, "stop", id, { FAKE_STUCK: "etcd", FAKE_STRAY_ETCD: "1" });
            assert.strictEqual(run.status, 0, describeRun(run));
            assert.match(run.stderr, /etcd is still running 2s after its manifest moved out; stopping it through the runtime/);
            assert.deepStrictEqual(calls(node).filter((c) => /^(crictl stop|pgrep|pkill)/.test(c)), ["crictl stop container-etcd"]);
        });
    });

    describe("rollback copies are bounded (#16)", () => {
        it("keeps the newest ETCD_DR_KEEP_ROLLBACKS copies inside the data volume", () => {
            const node = makeNode("bounded", { extra: ["ETCD_DR_KEEP_ROLLBACKS=2"] });
            for (const name of ["A", "B", "C"] as const) chain(node, snapshots[name].id, ["prepare", "stop", "apply", "start"]);
            assert.deepStrictEqual(fs.readdirSync(node.data).filter((f) => f.startsWith(".etcd-dr-before-")).sort(), [
                `.etcd-dr-before-${snapshots.B.id}`,
                `.etcd-dr-before-${snapshots.C.id}`,
            ]);
            assert.ok(liveDb(node).equals(snapshots.C.db));
        });
    });

    describe("Secrets encrypted at rest (#20)", () => {
        const AESCBC = "kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: c2VjcmV0LWtleS0xLTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\n  - identity: {}\n";
        let encrypted: { id: string; db: Buffer };

        before(() => {
            const primary = makeNode("primary-encrypting", { saKey: "PRIMARY-SA-KEY\n", encryptionConfig: AESCBC });
            fs.writeFileSync(path.join(primary.pki, "sa.pub"), "PRIMARY-SA-PUB\n");
            const db = Buffer.from("REV=700\nthe primary's data, its Secrets encrypted with key1\n");
            fs.writeFileSync(path.join(work, "encrypted.db"), db);
            const run = etcdDr(primary, ["backup"], { FAKE_DB: path.join(work, "encrypted.db") });
            assert.strictEqual(run.status, 0, describeRun(run));
            encrypted = { id: run.stdout.trim(), db };
        });

        it("prepare refuses, before anything stops, a snapshot whose Secrets this site's apiserver could not decrypt", () => {
            for (const [name, config] of [["no-encryption", undefined], ["other-key", AESCBC.replace("key1", "key2")]] as const) {
                const node = makeNode(`at-rest-${name}`, config === undefined ? {} : { encryptionConfig: config });
                const run = phase(node, "prepare", encrypted.id);
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.match(lastLine(run.stderr), new RegExp(`^etcd-dr: ERROR: snapshot ${encrypted.id} was taken where the apiserver encrypts Secrets at rest with another EncryptionConfiguration \\(sha256:[0-9a-f]{64}; this node: ${config === undefined ? "none" : "sha256:[0-9a-f]{64}"}\\)`));
                assert.strictEqual(errorLines(run.stderr).length, 1);
                assert.deepStrictEqual(filesUnder(restoreDir(node, encrypted.id)), [], "nothing downloaded stays");
            }
        });

        it("restores it where the apiserver has the same EncryptionConfiguration", () => {
            const node = makeNode("at-rest-same", { encryptionConfig: AESCBC });
            chain(node, encrypted.id);
            assertRestored(node, encrypted);
        });

        it("restores a snapshot taken without encryption at rest where there is none", () => {
            const node = makeNode("at-rest-none");
            ok(node, "prepare", snapshots.A.id);
        });
    });

    // Review #4, #18: a member restored from other bytes, or whose apply never landed, is healthy,
    // named right and past the snapshot's revision; only its data tells it apart.
    describe("verify compares etcd's hash of the keys across the members (#4, #18)", () => {
        const MEMBERS = { FAKE_MEMBERS: "cp1 cp2 cp3" };
        let three: { id: string; db: Buffer };
        let node: Node;

        before(() => {
            const primary = makeNode("primary-three", { saKey: "PRIMARY-SA-KEY\n", extra: ["ETCD_DR_MEMBERS=cp1,cp2,cp3"] });
            fs.writeFileSync(path.join(primary.pki, "sa.pub"), "PRIMARY-SA-PUB\n");
            const db = Buffer.from("REV=800\nthe primary's data, three members\n");
            fs.writeFileSync(path.join(work, "three.db"), db);
            const run = etcdDr(primary, ["backup"], { FAKE_DB: path.join(work, "three.db"), ...MEMBERS });
            assert.strictEqual(run.status, 0, describeRun(run));
            three = { id: run.stdout.trim(), db };
            node = makeNode("hashkv", { extra: ["ETCD_DR_MEMBERS=cp1,cp2,cp3"] });
            for (const name of ["prepare", "stop", "apply", "start"] as const) ok(node, name, three.id, MEMBERS);
        });

        it("passes when every member has the same hash at the revision this member serves, and records it", () => {
            const out = ok(node, "verify", three.id, MEMBERS);
            assert.match(out, /^verified snapshot \S+: members cp1,cp2,cp3 healthy and equal \(hashkv \d+ at revision 1000000800\)/m);
            const last = JSON.parse(read(path.join(node.state, "restore-last.json"))) as { id: string; revision: number; hashKv: number };
            assert.strictEqual(last.id, three.id);
            assert.strictEqual(last.revision, 1_000_000_800);
            assert.ok(Number.isInteger(last.hashKv) && last.hashKv > 0, JSON.stringify(last));
        });

        const differing: [string, string, string][] = [
            ["cp3 holds other data", "cp3=4242", "cp3 differs from cp1,cp2"],
            ["cp2 and cp3 each hold data of their own", "cp2=17 cp3=4242", "no hash is held by more members than any other"],
        ];
        for (const [what, hashes, who] of differing) {
            it(`fails at once, with one ERROR line naming the members, when ${what}`, () => {
                fs.rmSync(path.join(node.state, "restore-last.json"), { force: true });
                const started = Date.now();
                const run = phase(node, "verify", three.id, { ...MEMBERS, FAKE_HASHKV: hashes });
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.strictEqual(errorLines(run.stderr).length, 1, describeRun(run));
                assert.match(lastLine(run.stderr), new RegExp(`^etcd-dr: ERROR: restore of ${three.id} does not verify: the members hold different data at revision 1000000800 \\(etcdctl endpoint hashkv: cp1 \\d+, cp2 \\d+, cp3 \\d+; ${who}\\); restore again under a new snapshot id`));
                for (const pair of hashes.split(" ")) assert.ok(lastLine(run.stderr).includes(pair.replace("=", " ")), pair);
                assert.ok(Date.now() - started < 8000, "no wait for what no wait changes (ETCD_DR_VERIFY_TIMEOUT is 10 s)");
                assert.ok(!fs.existsSync(path.join(node.state, "restore-last.json")), "a restore that does not verify is not recorded as verified");
            });
        }

        it("waits for a member that gives no hash, then fails with etcdctl's reason (ETCD_DR_VERIFY_TIMEOUT)", () => {
            const run = phase(node, "verify", three.id, { ...MEMBERS, FAKE_HASHKV: "cp3=-" });
            assert.notStrictEqual(run.status, 0, describeRun(run));
            assert.strictEqual(errorLines(run.stderr).length, 1, describeRun(run));
            assert.strictEqual(lastLine(run.stderr), `etcd-dr: ERROR: restore of ${three.id} does not verify after 10s: not every member gave etcd's hash of the keys at revision 1000000800: Failed to get the hash of endpoint https://cp3:2379 (context deadline exceeded)`);
        });
    });

    describe("verify and the primary's leader leases", () => {
        it("hands the controller-manager's and scheduler's leases back at once, conditional on what it read", () => {
            const node = makeNode("leases");
            const id = snapshots.A.id;
            chain(node, id, ["prepare", "stop", "apply", "start"]);
            // The restored data: the primary's leases, acquired long before this site's stop.
            const run = phase(node, "verify", id, { FAKE_LEASE_ACQUIRED: "2020-01-01T00:00:00Z" });
            assert.strictEqual(run.status, 0, describeRun(run));
            const patches = calls(node).filter((c) => c.includes(" patch lease "));
            assert.deepStrictEqual(patches.map((c) => c.replace(/.* patch lease (\S+) .*/, "$1")), ["kube-controller-manager", "kube-scheduler"]);
            for (const patch of patches) assert.ok(patch.includes('{"metadata":{"resourceVersion":"41"},"spec":{"holderIdentity":null}}'), patch);
        });

        it("leaves a lease this site's leader took alone", () => {
            const node = makeNode("leases-taken");
            const id = snapshots.A.id;
            chain(node, id, ["prepare", "stop", "apply", "start"]);
            const run = phase(node, "verify", id);
            assert.strictEqual(run.status, 0, describeRun(run));
            assert.deepStrictEqual(calls(node).filter((c) => c.includes(" patch lease ")), []);
        });
    });

    describe("reconcile (#15)", () => {
        it("fails with one ERROR line, and rolls nothing, when the workloads cannot be listed; the next run rolls them", () => {
            const node = makeNode("reconcile");
            const id = snapshots.A.id;
            chain(node, id, ["prepare", "stop", "apply", "start", "verify"]);
            const failed = phase(node, "reconcile", id, { FAKE_LIST_FAIL: "1" });
            assert.notStrictEqual(failed.status, 0, describeRun(failed));
            assert.strictEqual(errorLines(failed.stderr).length, 1, describeRun(failed));
            assert.match(lastLine(failed.stderr), /^etcd-dr: ERROR: /);
            assert.ok(!calls(node).some((c) => c.includes("rollout restart")), "nothing rolled");
            const done = ok(node, "reconcile", id);
            assert.match(done, /4 workloads rolled/);
            // One kubectl per namespace, naming its workloads.
            assert.deepStrictEqual(calls(node).filter((c) => c.includes("rollout restart")).map((c) => c.replace(/^.* -n /, "-n ")).sort(),
                ["-n default rollout restart Deployment/web DaemonSet/agent", "-n kube-system rollout restart Deployment/coredns DaemonSet/kube-proxy"]);
            assert.match(ok(node, "reconcile", id), /already reconciled/);
        });
    });

    describe("the etcd tools at the cluster's version (#3)", () => {
        const cases: [string, Record<string, string>, RegExp][] = [
            ["missing", { FAKE_NO_ETCDUTL: "1" }, /^etcd-dr: ERROR: etcdutl is not installed on cp1; the node bootstrap installs it at the cluster's etcd version 3\.6\.6/],
            ["of another version", { FAKE_ETCDUTL_VERSION: "3.5.21" }, /^etcd-dr: ERROR: etcdutl on cp1 is 3\.5\.21 but etcd runs 3\.6\.6; install etcdutl 3\.6\.6/],
        ];
        for (const [what, fake, expected] of cases) {
            it(`prepare refuses an etcdutl ${what} with one line, before it downloads anything`, () => {
                const node = makeNode(`tools-${what.replace(/\W+/g, "-")}`);
                const run = phase(node, "prepare", snapshots.A.id, fake);
                assert.notStrictEqual(run.status, 0, describeRun(run));
                assert.match(lastLine(run.stderr), expected);
                assert.strictEqual(errorLines(run.stderr).length, 1, describeRun(run));
                assert.deepStrictEqual(filesUnder(restoreDir(node, snapshots.A.id)), []);
            });
        }
    });

    describe("failures end with one ERROR line and change nothing they cannot undo (#8)", () => {
        it("apply: a failing snapshot restore says so, with etcdutl's own reason, before the data dir changes", () => {
            const node = makeNode("restore-fails");
            const id = snapshots.A.id;
            chain(node, id, ["prepare", "stop"]);
            const run = phase(node, "apply", id, { FAKE_RESTORE_FAIL: "1" });
            assert.notStrictEqual(run.status, 0, describeRun(run));
            assert.strictEqual(lastLine(run.stderr), `etcd-dr: ERROR: etcdutl snapshot restore of ${id} failed on cp1: Error: snapshot file integrity check failed`);
            assert.strictEqual(errorLines(run.stderr).length, 1);
            assert.strictEqual(liveDb(node).toString(), STANDBY_DB, "the standby's data is where it was");
            assert.strictEqual(read(path.join(node.pki, "sa.key")), "STANDBY-ORIGINAL-SA-KEY\n");
        });
    });
});
