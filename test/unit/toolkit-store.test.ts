// The toolkit's backup, list, verify and download path (fetch_and_check, what `restore prepare`
// runs) against the project's own object-store emulator (lab/objstore, built here and bound to
// 127.0.0.1), with etcdctl, etcdutl and the host name stubbed as bash functions. Each test names
// the review finding (../shared/reviews/reliability.md) it pins; each failed on the toolkit before
// the fix (run them against an older build with ETCD_DR_TOOLKIT=<file>, as toolkit-bash.test.ts).
import * as assert from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { gzipSync } from "zlib";
import { manifestAuthentic } from "../../lib/snapshot";
import { readToolkit } from "../../lib/toolkitSource";
import { startObjstore } from "../helpers/objstore";
import { freePort } from "../helpers/ports";

const SITE_KEY = "site-key-0123456789abcdefghijklmnopqrstuvwxyzABCD";
const ATTACKER_KEY = "attacker-key-0123456789abcdefghijklmnopqrstuvwxyz";
const PREFIX = "etcd/payments/";

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const errorLines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("etcd-dr: ERROR:"));
const lastLine = (text: string) => text.trimEnd().split("\n").pop() ?? "";

/** A snapshot id for a time, as the toolkit names them. */
function idAt(date: Date, revision: number): string {
    return `${date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z")}-r${revision}`;
}

// The stubs a node's etcd would answer. FAKE_* variables steer them per run:
//   FAKE_LEADER      Leader in `endpoint status` (7 is this member; 0 no leader)
//   FAKE_DB          the file `snapshot save` copies;  FAKE_DB_SIZE the DBSize etcd reports
//   FAKE_REVISION    what `snapshot status` says;  FAKE_RECORD the file behind put/get
//   FAKE_CLOCK       a file holding the epoch `date` answers with; `snapshot save` adds 90 s to it
//   FAKE_SAVE_SLEEP  seconds `snapshot save` takes
const WRAPPER = `
source "$ETCD_DR_TEST_TOOLKIT"
[[ -z "\${ETCD_DR_TEST_CURL_MAX_TIME:-}" ]] || CURL_SMALL=(--max-time "$ETCD_DR_TEST_CURL_MAX_TIME")
discover_etcd() { ETCD_ENDPOINT=https://127.0.0.1:2379 ETCD_CA=ca ETCD_CERT=cert ETCD_KEY=key ETCD_DATA_DIR=/nonexistent; }
hostname() { echo cp1; }
etcdutl() {
    [[ "$1" == version ]] && { echo "etcdutl version: 3.6.6"; return 0; }
    printf '%s\\n' '"Hash" : 1' "\\"Revision\\" : \${FAKE_REVISION:-42}" '"TotalKey" : 3'
}
etcdctl() {
    while [[ "\${1:-}" == --* ]]; do shift; done
    case "$1 \${2:-}" in
        "version ") echo "etcdctl version: 3.6.6" ;;
        "endpoint status") printf '%s\\n' '"MemberID" : 7' "\\"Leader\\" : \${FAKE_LEADER:-7}" "\\"DBSize\\" : \${FAKE_DB_SIZE:-4096}" '"Version" : "3.6.6"' ;;
        "snapshot save")
            sleep "\${FAKE_SAVE_SLEEP:-0}"
            [[ -z "\${FAKE_CLOCK:-}" ]] || echo $(($(<"$FAKE_CLOCK") + 90)) >"$FAKE_CLOCK"
            cp "$FAKE_DB" "$3" ;;
        "member list") printf '%s\\n' '1, started, cp1, https://cp1:2380, https://cp1:2379, false' '2, started, cp2, https://cp2:2380, https://cp2:2379, false' '3, started, cp3, https://cp3:2380, https://cp3:2379, false' ;;
        "put "*) printf '%s' "$3" >"$FAKE_RECORD"; echo OK ;;
        "get "*) [[ -f "$FAKE_RECORD" ]] && cat "$FAKE_RECORD"; true ;;
        *) echo "etcdctl stub: unexpected $*" >&2; return 1 ;;
    esac
}
if [[ -n "\${FAKE_CLOCK:-}" ]]; then
    date() {
        local now; now="$(<"$FAKE_CLOCK")"
        case "$*" in
            "-u +%Y%m%dT%H%M%SZ") command date -u -d "@$now" +%Y%m%dT%H%M%SZ ;;
            "-u +%s") echo "$now" ;;
            *) command date "$@" ;;
        esac
    }
fi
if [[ "\${1:-}" == --function ]]; then
    shift
    load_settings
    "$@"
else
    main "$@"
fi
`;

describe("toolkit against the object-store emulator (backup, list, verify, fetch_and_check)", function () {
    this.timeout(120_000);
    let work: string;
    let toolkit: string;
    let wrapper: string;
    let stopStore: (() => void) | undefined;
    let writeUrl: string;
    let readUrl: string;
    let db: string;

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-store-"));
        toolkit = process.env.ETCD_DR_TOOLKIT ?? path.join(work, "etcd-dr");
        if (!process.env.ETCD_DR_TOOLKIT) fs.writeFileSync(toolkit, readToolkit(), { mode: 0o755 });
        wrapper = path.join(work, "run.sh");
        fs.writeFileSync(wrapper, WRAPPER);
        const objstore = await startObjstore(work, PREFIX);
        stopStore = objstore.stop;
        writeUrl = objstore.writeUrl;
        readUrl = objstore.readUrl;
        db = path.join(work, "snapshot.db");
        fs.writeFileSync(db, randomBytes(96 * 1024));
        for (const [name, key] of [["site.key", SITE_KEY], ["attacker.key", ATTACKER_KEY]]) fs.writeFileSync(path.join(work, name), `${key}\n`, { mode: 0o600 });
        fs.mkdirSync(path.join(work, "pki"));
        fs.writeFileSync(path.join(work, "pki", "sa.key"), "PRIMARY-SA-KEY\n");
        fs.writeFileSync(path.join(work, "pki", "sa.pub"), "PRIMARY-SA-PUB\n");
    });

    after(() => {
        stopStore?.();
        fs.rmSync(work, { recursive: true, force: true });
    });

    /** A node's settings file and state dir. key: "site", "attacker" or none. */
    function node(name: string, options: { key?: "site" | "attacker"; extra?: string[]; readUrl?: string; writeUrl?: string } = {}): { env: string; state: string; metrics: string } {
        const state = path.join(work, name, "state");
        const metrics = path.join(work, name, "metrics");
        fs.mkdirSync(path.join(work, name), { recursive: true });
        const env = path.join(work, name, "etcd-dr.env");
        const lines = [
            "ETCD_DR_CLUSTER=payments",
            "ETCD_DR_MEMBERS=cp1,cp2,cp3",
            `ETCD_DR_WRITE_URL='${options.writeUrl ?? writeUrl}'`,
            `ETCD_DR_READ_URL='${options.readUrl ?? readUrl}'`,
            `ETCD_DR_STATE_DIR=${state}`,
            `ETCD_DR_METRICS_DIR=${metrics}`,
            `ETCD_DR_PKI_DIR=${path.join(work, "pki")}`,
            ...(options.key ? [`ETCD_DR_ENCRYPTION_KEY_FILE=${path.join(work, `${options.key}.key`)}`] : []),
            ...(options.extra ?? []),
        ];
        fs.writeFileSync(env, `${lines.join("\n")}\n`, { mode: 0o600 });
        fs.chmodSync(env, 0o600);
        return { env, state, metrics };
    }

    function runEnv(env: string, fake: Record<string, string>): NodeJS.ProcessEnv {
        return {
            ...process.env,
            INVOCATION_ID: "etcd-dr-unit-test",
            ETCD_DR_ENV: env,
            ETCD_DR_TEST_TOOLKIT: toolkit,
            FAKE_DB: db,
            FAKE_RECORD: path.join(path.dirname(env), "etcd-record"),
            ...fake,
        };
    }

    function etcdDr(env: string, args: string[], fake: Record<string, string> = {}): Run {
        const run = spawnSync("bash", [wrapper, ...args], { encoding: "utf8", cwd: work, env: runEnv(env, fake), timeout: 90_000 });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    }

    /** Asserts a refusal: non-zero, and the last stderr line is the one ERROR line. */
    function assertRefused(run: Run, pattern: RegExp): void {
        const what = `exit ${run.status}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`;
        assert.notStrictEqual(run.status, 0, what);
        assert.match(lastLine(run.stderr), pattern, what);
        assert.strictEqual(errorLines(run.stderr).length, 1, what);
    }

    /** Files under DIR, recursively, relative. */
    function filesUnder(dir: string): string[] {
        if (!fs.existsSync(dir)) return [];
        return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
    }

    async function put(name: string, body: Buffer | string): Promise<number> {
        const response = await fetch(`${writeUrl}${name}`, { method: "PUT", body: typeof body === "string" ? body : new Uint8Array(body) });
        return response.status;
    }

    async function get(name: string): Promise<Buffer> {
        const response = await fetch(`${readUrl}${name}`);
        assert.strictEqual(response.status, 200, name);
        return Buffer.from(await response.arrayBuffer());
    }

    /** fetch_and_check (what `restore prepare` runs) into a fresh dir; prints the revision. */
    function fetchAndCheck(env: string, id: string, dir: string): Run {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        return etcdDr(env, ["--function", "fetch_and_check", id, dir]);
    }

    let committedId: string;

    describe("an authenticated snapshot (#1)", () => {
        it("backup commits it: encrypted objects, a manifest whose HMAC verifies in TypeScript, pkiSha256 pinned", async () => {
            const primary = node("primary", { key: "site" });
            const run = etcdDr(primary.env, ["backup"]);
            assert.strictEqual(run.status, 0, run.stderr);
            committedId = run.stdout.trim();
            assert.match(committedId, /^\d{8}T\d{6}Z-r42$/);
            const manifest = (await get(`${PREFIX}${committedId}/manifest.json`)).toString();
            assert.ok(manifestAuthentic(manifest, SITE_KEY), manifest);
            assert.ok(!manifestAuthentic(manifest, ATTACKER_KEY));
            const parsed = JSON.parse(manifest);
            assert.strictEqual(parsed.formatVersion, 2);
            assert.strictEqual(parsed.encryption, "aes-256-cbc-pbkdf2");
            assert.strictEqual(parsed.snapshotSha256, sha256(fs.readFileSync(db)));
            assert.strictEqual(parsed.snapshotBytes, fs.statSync(db).size);
            assert.match(parsed.pkiSha256, /^[0-9a-f]{64}$/);
            assert.deepStrictEqual(parsed.objects.map((o: { name: string }) => o.name), ["snapshot.db.zst.enc", "pki.tar.zst.enc"]);
            assert.deepStrictEqual(filesUnder(primary.state).filter((f) => !f.endsWith(".json") && !f.endsWith(".lock")), [], "no work file is left");
        });

        it("list, verify and fetch_and_check on the standby accept it, and fetch_and_check leaves exactly the verified files", () => {
            const standby = node("standby", { key: "site" });
            const list = etcdDr(standby.env, ["list", "--json"]);
            assert.strictEqual(list.status, 0, list.stderr);
            assert.deepStrictEqual(JSON.parse(list.stdout).map((s: { id: string }) => s.id), [committedId]);
            const verify = etcdDr(standby.env, ["verify", committedId]);
            assert.strictEqual(verify.status, 0, verify.stderr);
            assert.match(verify.stdout, new RegExp(`^snapshot ${committedId} verified: revision 42`));
            const dir = path.join(work, "standby", "download");
            const fetched = fetchAndCheck(standby.env, committedId, dir);
            assert.strictEqual(fetched.status, 0, fetched.stderr);
            assert.deepStrictEqual(filesUnder(dir), ["manifest.json", "pki.tar", "snapshot.db"]);
            assert.ok(fs.readFileSync(path.join(dir, "snapshot.db")).equals(fs.readFileSync(db)));
            assert.match(execFileSync("tar", ["-xOf", path.join(dir, "pki.tar"), "sa.key"], { encoding: "utf8" }), /PRIMARY-SA-KEY/);
            assert.deepStrictEqual(filesUnder(standby.state).filter((f) => !f.endsWith(".json")), [], "verify leaves no work dir");
        });

        it("writing a snapshot never overwrites an object that exists (if-none-match)", () => {
            const primary = node("primary", { key: "site" });
            const run = etcdDr(primary.env, ["--function", "store_put", db, `${PREFIX}${committedId}/manifest.json`]);
            assertRefused(run, /^etcd-dr: ERROR: upload of .*manifest\.json to the snapshot store refused: an object of that name exists already/);
        });
    });

    describe("forged and downgraded snapshots are refused by list, verify and fetch_and_check (#1, #26)", () => {
        // An attacker with the write PAR plants a complete, self-consistent snapshot carrying their
        // own sa.key, under an id dated far in the future (it would sort first in the list).
        async function plant(id: string, options: { encryption: string; signWith?: string; names?: string[]; sizes?: number[]; objects?: Buffer[] }): Promise<void> {
            const pki = execFileSync("bash", ["-c", `d=$(mktemp -d); echo ATTACKER-SA-KEY >"$d/sa.key"; echo pub >"$d/sa.pub"; tar -C "$d" -cf - sa.key sa.pub; rm -rf "$d"`]);
            const database = fs.readFileSync(db);
            const objects = options.objects ?? [gzipSync(database), gzipSync(pki)];
            const names = options.names ?? ["snapshot.db.gz", "pki.tar.gz"];
            for (let i = 0; i < objects.length; i++) assert.strictEqual(await put(`${PREFIX}${id}/${names[i]}`, objects[i]), 200);
            const objectLines = objects.map((o, i) => `    {"name": "${names[i]}", "size": ${options.sizes?.[i] ?? o.length}, "sha256": "${sha256(o)}"}${i < objects.length - 1 ? "," : ""}`);
            const body = [
                "{",
                '  "formatVersion": 2,',
                `  "id": "${id}",`,
                '  "createdAt": "2099-12-31T23:59:59Z",',
                '  "cluster": "payments",',
                '  "sourceHost": "cp1",',
                '  "members": ["cp1","cp2","cp3"],',
                `  "etcdRevision": ${id.split("-r")[1]},`,
                '  "etcdHash": 1,',
                '  "etcdTotalKeys": 3,',
                '  "etcdVersion": "3.6.6",',
                '  "kubernetesVersion": "1.35.8",',
                '  "compression": "gzip",',
                `  "encryption": "${options.encryption}",`,
                `  "snapshotSha256": "${sha256(database)}",`,
                `  "snapshotBytes": ${database.length},`,
                `  "pkiSha256": "${sha256(pki)}",`,
                '  "objects": [',
                ...objectLines,
                "  ]",
                "}",
                "",
            ].join("\n");
            const { signManifest } = await import("../../lib/snapshot");
            assert.strictEqual(await put(`${PREFIX}${id}/manifest.json`, options.signWith ? signManifest(body, options.signWith) : body), 200);
        }

        const FUTURE = "20991231T235959Z-r42";
        before(async () => {
            await plant(FUTURE, { encryption: "none" });
        });

        it("a keyed site does not list a plaintext, unauthenticated, future-dated snapshot, and says why on stderr", () => {
            const standby = node("standby", { key: "site" });
            const list = etcdDr(standby.env, ["list", "--json"]);
            assert.strictEqual(list.status, 0, list.stderr);
            assert.ok(!list.stdout.includes(FUTURE), list.stdout);
            assert.match(list.stderr, new RegExp(`snapshot ${FUTURE} is left out: its manifest is not authenticated with this site's key`));
        });

        it("verify and fetch_and_check refuse it with one ERROR line and leave no plaintext behind", () => {
            const standby = node("standby", { key: "site" });
            assertRefused(etcdDr(standby.env, ["verify", FUTURE]), new RegExp(`^etcd-dr: ERROR: snapshot ${FUTURE} is refused: its manifest is not authenticated with this site's key`));
            const dir = path.join(work, "standby", "forged");
            assertRefused(fetchAndCheck(standby.env, FUTURE, dir), /is refused: its manifest is not authenticated/);
            assert.deepStrictEqual(filesUnder(dir), [], "nothing downloaded, nothing decoded");
            assert.deepStrictEqual(filesUnder(standby.state).filter((f) => !f.endsWith(".json")), []);
        });

        it("a snapshot encrypted and authenticated with another key (re-signed by an attacker) is refused", () => {
            const attacker = node("attacker", { key: "attacker" });
            const made = etcdDr(attacker.env, ["backup"], { FAKE_REVISION: "77" });
            assert.strictEqual(made.status, 0, made.stderr);
            const id = made.stdout.trim();
            const standby = node("standby", { key: "site" });
            assertRefused(etcdDr(standby.env, ["verify", id]), /is refused: its manifest is not authenticated with this site's key/);
            assert.ok(!etcdDr(standby.env, ["list", "--json"]).stdout.includes(id));
        });

        it("a snapshot the toolkit took without a key (downgrade to plaintext) is refused by a keyed site", () => {
            const unkeyed = node("unkeyed", {});
            const made = etcdDr(unkeyed.env, ["backup"], { FAKE_REVISION: "78" });
            assert.strictEqual(made.status, 0, made.stderr);
            const id = made.stdout.trim();
            const standby = node("standby", { key: "site" });
            assertRefused(etcdDr(standby.env, ["verify", id]), /is refused: its manifest is not authenticated/);
            // Even with a MAC under the right key, a plaintext bundle is not what a keyed site takes.
            const taken = etcdDr(unkeyed.env, ["verify", id], { FAKE_REVISION: "78" });
            assert.strictEqual(taken.status, 0, `a site without a key takes it: ${taken.stderr}`);
        });

        it("a signed manifest that says encryption none is still refused by a keyed site", async () => {
            const id = idAt(new Date(Date.now() - 60_000), 79);
            await plant(id, { encryption: "none", signWith: SITE_KEY });
            const standby = node("standby", { key: "site" });
            assertRefused(etcdDr(standby.env, ["verify", id]), /is refused: it is not encrypted \('none'\), and this site accepts only encrypted snapshots/);
        });

        it("a site without a key refuses an id dated in the future (#26)", () => {
            const unkeyed = node("unkeyed", {});
            assertRefused(etcdDr(unkeyed.env, ["verify", FUTURE]), /is refused: it is dated in the future/);
            const list = etcdDr(unkeyed.env, ["list", "--json"]);
            assert.strictEqual(list.status, 0, list.stderr);
            assert.ok(!list.stdout.includes(FUTURE));
        });

        it("object names other than the bundle's two are refused before anything is written (#11)", async () => {
            const id = idAt(new Date(Date.now() - 120_000), 80);
            const database = gzipSync(fs.readFileSync(db));
            await plant(id, { encryption: "none", names: ["snapshot.db.gz", "../started"], objects: [database, Buffer.from("x")] });
            const unkeyed = node("unkeyed", {});
            const dir = path.join(work, "unkeyed", "restore", id, "download");
            assertRefused(fetchAndCheck(unkeyed.env, id, dir), /is refused: its manifest names the objects 'snapshot\.db\.gz \.\.\/started\.\.\.'; a bundle of it has exactly snapshot\.db\.gz and pki\.tar\.gz/);
            assert.deepStrictEqual(filesUnder(path.dirname(dir)), []);
        });

        it("sizes are capped: an object larger than ETCD_DR_MAX_SNAPSHOT_BYTES is refused before its download, a small one that decompresses beyond it after (#11)", async () => {
            const capped = node("capped", { extra: ["ETCD_DR_MAX_SNAPSHOT_BYTES=65536"] });
            const big = idAt(new Date(Date.now() - 180_000), 81);
            await plant(big, { encryption: "none" }); // the 96 KiB database, gzip does not shrink random bytes
            assertRefused(etcdDr(capped.env, ["verify", big]), /is refused: its database is '98304' bytes, more than the 65536 allowed/);
            // A gzip bomb: 10 MiB of zeros in a few KiB, with a manifest that lies about the database.
            const bomb = idAt(new Date(Date.now() - 240_000), 82);
            const zeros = gzipSync(Buffer.alloc(10 * 1024 * 1024));
            const pki = execFileSync("bash", ["-c", `d=$(mktemp -d); echo k >"$d/sa.key"; echo p >"$d/sa.pub"; tar -C "$d" -cf - sa.key sa.pub; rm -rf "$d"`]);
            await plant(bomb, { encryption: "none", objects: [zeros, gzipSync(pki)] });
            const dir = path.join(work, "capped", "download");
            const manifestPatched = (await get(`${PREFIX}${bomb}/manifest.json`)).toString().replace(/"snapshotBytes": \d+/, '"snapshotBytes": 100');
            // Replacing an object needs the admin API (PARs never overwrite through the toolkit); a
            // new id with the lying manifest does the same.
            const liar = idAt(new Date(Date.now() - 300_000), 83);
            assert.strictEqual(await put(`${PREFIX}${liar}/snapshot.db.gz`, zeros), 200);
            assert.strictEqual(await put(`${PREFIX}${liar}/pki.tar.gz`, gzipSync(pki)), 200);
            assert.strictEqual(await put(`${PREFIX}${liar}/manifest.json`, manifestPatched.replace(bomb, liar).replace('"etcdRevision": 82', '"etcdRevision": 83')), 200);
            assertRefused(fetchAndCheck(capped.env, liar, dir), /the snapshot\.db of snapshot .* decompresses to more than its limit/);
            assert.deepStrictEqual(filesUnder(dir), [], "the partial decode is removed");
        });
    });

    describe("backups (#17, #26, #16, #8)", () => {
        it("no leader (quorum lost) fails the run with one ERROR line and a 0 in the metrics, instead of a skip", () => {
            const primary = node("noleader", { key: "site" });
            const run = etcdDr(primary.env, ["backup"], { FAKE_LEADER: "0" });
            assertRefused(run, /^etcd-dr: ERROR: etcd has no leader \(quorum lost\?\); no snapshot can be taken this round$/);
            const metrics = fs.readFileSync(path.join(primary.metrics, "etcd_dr.prom"), "utf8");
            assert.match(metrics, /^etcd_dr_backup_last_run_success\{cluster="payments"\} 0$/m);
            assert.match(fs.readFileSync(path.join(primary.state, "backup-last-run.json"), "utf8"), /"result": "failed", "message": "etcd has no leader/);
        });

        it("a follower skips, and exports the cluster's newest snapshot time from etcd's record (a missed round shows on every member)", () => {
            const leader = node("leader", { key: "site" });
            const record = path.join(work, "leader", "etcd-record");
            const made = etcdDr(leader.env, ["backup"], { FAKE_REVISION: "90", FAKE_RECORD: record });
            assert.strictEqual(made.status, 0, made.stderr);
            const id = made.stdout.trim();
            assert.match(fs.readFileSync(record, "utf8"), new RegExp(`^\\{"id": "${id}", "committedAt": \\d+\\}$`));
            const follower = node("follower", { key: "site" });
            const skipped = etcdDr(follower.env, ["backup"], { FAKE_LEADER: "8", FAKE_RECORD: record });
            assert.strictEqual(skipped.status, 0, skipped.stderr);
            const metrics = fs.readFileSync(path.join(follower.metrics, "etcd_dr.prom"), "utf8");
            const stamp = id.split("-r")[0];
            const expected = Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(9, 11), +stamp.slice(11, 13), +stamp.slice(13, 15)) / 1000;
            assert.match(metrics, new RegExp(`^etcd_dr_cluster_last_snapshot_timestamp_seconds\\{cluster="payments"\\} ${expected}$`, "m"));
            assert.match(metrics, /^etcd_dr_backup_last_run_success\{cluster="payments"\} 1$/m);
            assert.match(metrics, /^etcd_dr_backup_last_run_timestamp_seconds\{cluster="payments"\} [1-9]\d+$/m);
        });

        it("the id's time is taken before the save (#26)", () => {
            const primary = node("clock", { key: "site" });
            const clock = path.join(work, "clock", "now");
            const start = Math.floor(Date.now() / 1000) - 3600;
            fs.writeFileSync(clock, `${start}\n`);
            const run = etcdDr(primary.env, ["backup"], { FAKE_CLOCK: clock, FAKE_REVISION: "91" });
            assert.strictEqual(run.status, 0, run.stderr);
            assert.strictEqual(run.stdout.trim(), idAt(new Date(start * 1000), 91), "the save moved the clock 90 s; the id is from before it");
        });

        it("refuses to start without room for the database twice over on the state dir's filesystem (#16)", () => {
            const primary = node("full", { key: "site", extra: ["ETCD_DR_MAX_SNAPSHOT_BYTES=999999999999999999"] });
            const run = etcdDr(primary.env, ["backup"], { FAKE_DB_SIZE: String(2 ** 50) });
            assertRefused(run, /^etcd-dr: ERROR: a backup of this \d+-byte etcd database needs \d+ MiB free under .*, and its filesystem has \d+ MiB; free some space/);
        });

        it("a database above ETCD_DR_MAX_SNAPSHOT_BYTES fails the backup (a restore would refuse it)", () => {
            const primary = node("toolarge", { key: "site", extra: ["ETCD_DR_MAX_SNAPSHOT_BYTES=1000"] });
            assertRefused(etcdDr(primary.env, ["backup"]), /^etcd-dr: ERROR: etcd's database is 1 MiB, more than ETCD_DR_MAX_SNAPSHOT_BYTES \(1 MiB\) a restore accepts/);
        });

        it("SIGTERM during a backup (systemd's timeout) ends it with one ERROR line, records the failure and removes the plaintext work dir (#16)", async () => {
            const primary = node("sigterm", { key: "site" });
            const child = spawn("bash", [wrapper, "backup"], { env: runEnv(primary.env, { FAKE_SAVE_SLEEP: "2" }) });
            let stderr = "";
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
            // Wait until the save is under way (its work dir has the save's log).
            const saving = () =>
                fs.existsSync(primary.state) &&
                fs.readdirSync(primary.state, { withFileTypes: true }).some((e) => e.isDirectory() && e.name.startsWith("backup.") && fs.existsSync(path.join(primary.state, e.name, "save.log")));
            for (let i = 0; i < 1200 && !saving(); i++) {
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            assert.ok(saving(), `the save never started: ${stderr}`);
            child.kill("SIGTERM");
            const status = await closed;
            assert.notStrictEqual(status, 0);
            assert.strictEqual(lastLine(stderr), "etcd-dr: ERROR: stopped by SIGTERM", stderr);
            assert.deepStrictEqual(fs.readdirSync(primary.state).filter((f) => f.startsWith("backup.") && f !== "backup.lock"), []);
            assert.match(fs.readFileSync(path.join(primary.state, "backup-last-run.json"), "utf8"), /"result": "failed", "message": "stopped by SIGTERM"/);
        });

        it("a work dir left by a killed run is swept at the next backup (#16)", () => {
            const primary = node("sweep", { key: "site" });
            fs.mkdirSync(path.join(primary.state, "backup.999999999.AbCdEf"), { recursive: true });
            fs.writeFileSync(path.join(primary.state, "backup.999999999.AbCdEf", "snapshot.db"), "plaintext");
            fs.mkdirSync(path.join(primary.state, "verify.OldOne"), { recursive: true });
            const run = etcdDr(primary.env, ["backup"], { FAKE_REVISION: "92" });
            assert.strictEqual(run.status, 0, run.stderr);
            assert.deepStrictEqual(fs.readdirSync(primary.state).filter((f) => /^(backup|verify)\./.test(f) && f !== "backup.lock"), []);
        });

        it("a dead store fails the upload with curl's own reason in the one ERROR line (#2, #24)", async () => {
            const deadPort = await freePort();
            const primary = node("deadstore", { key: "site", writeUrl: `http://127.0.0.1:${deadPort}/p/x/n/lab/b/primary/o/` });
            const run = etcdDr(primary.env, ["backup"], { FAKE_REVISION: "93" });
            assertRefused(run, /^etcd-dr: ERROR: upload of .*snapshot\.db\.zst\.enc to the snapshot store failed: Failed to connect to 127\.0\.0\.1 port \d+.*; check the store is reachable/);
            assert.match(fs.readFileSync(path.join(primary.metrics, "etcd_dr.prom"), "utf8"), /^etcd_dr_backup_last_run_success\{cluster="payments"\} 0$/m);
        });
    });

    describe("the store's size and secrets (#2, #10, #24)", () => {
        it("an upload streams from the file: curl's peak memory stays flat for a 96 MiB object", () => {
            const big = path.join(work, "big.bin");
            fs.writeFileSync(big, randomBytes(96 * 1024 * 1024));
            const primary = node("bigupload", { key: "site" });
            const timed = spawnSync("/usr/bin/time", ["-f", "maxrss_kb=%M", "bash", wrapper, "--function", "store_put", big, `${PREFIX}big/${Date.now()}.bin`], {
                encoding: "utf8",
                env: runEnv(primary.env, {}),
            });
            fs.rmSync(big);
            assert.strictEqual(timed.status, 0, timed.stderr);
            const kb = Number(/maxrss_kb=(\d+)/.exec(timed.stderr)?.[1]);
            // --data-binary @file reads the whole object into curl first (about 98 000 KiB here).
            assert.ok(kb < 48 * 1024, `peak RSS ${kb} KiB`);
        });

        it("the store URL is never in a process's arguments, and a store that never answers ends the listing (--max-time)", async () => {
            // Accepts connections and never answers, as a black-holed store.
            const sockets: net.Socket[] = [];
            const silent = net.createServer((socket) => sockets.push(socket));
            await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
            const silentPort = (silent.address() as net.AddressInfo).port;
            const standby = node("silent", { key: "site", readUrl: `http://127.0.0.1:${silentPort}/p/SECRET-PAR-TOKEN/n/lab/b/standby/o/` });
            const child = spawn("bash", [wrapper, "list"], { env: runEnv(standby.env, { ETCD_DR_TEST_CURL_MAX_TIME: "4" }) });
            let stderr = "";
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
            let curlSeen = false;
            for (let i = 0; i < 60 && !curlSeen; i++) {
                await new Promise((resolve) => setTimeout(resolve, 50));
                const ps = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
                assert.ok(!ps.includes("SECRET-PAR-TOKEN"), `a process shows the PAR: ${ps.split("\n").filter((l) => l.includes("SECRET")).join(" | ")}`);
                curlSeen = ps.split("\n").some((line) => line.startsWith("curl -K -"));
            }
            assert.ok(curlSeen, "curl ran while we looked");
            const status = await closed;
            sockets.forEach((s) => s.destroy());
            silent.close();
            assert.notStrictEqual(status, 0);
            assert.match(lastLine(stderr), /^etcd-dr: ERROR: listing the snapshot store failed: Operation timed out after \d+ milliseconds/);
            assert.strictEqual(errorLines(stderr).length, 1, stderr);
        });
    });

    describe("settings are parsed, never sourced, and validated (#23, #31)", () => {
        function settings(name: string, lines: string[]): string {
            const dir = path.join(work, "settings", name);
            fs.mkdirSync(dir, { recursive: true });
            const env = path.join(dir, "etcd-dr.env");
            fs.writeFileSync(env, `${["ETCD_DR_CLUSTER=payments", `ETCD_DR_STATE_DIR=${path.join(dir, "state")}`, `ETCD_DR_READ_URL='${readUrl}'`, ...lines].join("\n")}\n`, { mode: 0o600 });
            fs.chmodSync(env, 0o600);
            return env;
        }

        it("a value with $(...) is refused and never runs", () => {
            const marker = path.join(work, "settings", "pwned");
            const env = settings("subst", [`ETCD_DR_MEMBERS="$(touch ${marker})"`]);
            assertRefused(etcdDr(env, ["status"]), /^etcd-dr: ERROR: line 4 of .* the value of ETCD_DR_MEMBERS is not one quoted word; write it as ETCD_DR_MEMBERS='value'$/);
            assert.ok(!fs.existsSync(marker), "the substitution ran");
        });

        it("an unquoted value with a space is refused, not run as a command", () => {
            const marker = path.join(work, "settings", "pwned2");
            const env = settings("space", [`ETCD_DR_MEMBERS=cp1, touch ${marker}`]);
            assertRefused(etcdDr(env, ["status"]), /the value of ETCD_DR_MEMBERS is not one quoted word/);
            assert.ok(!fs.existsSync(marker));
        });

        it("the quoting lib/toolkit.ts writes reads back exactly, quotes included", () => {
            const env = settings("quoted", ["ETCD_DR_KUBERNETES_VERSION='it'\\''s 1.35'", 'ETCD_DR_PREFIX="etcd"', "# a comment", "", "ETCD_DR_MEMBERS=cp1,cp2"]);
            const read = spawnSync("bash", ["-c", `source ${q(toolkit)}; load_settings; printf '%s|%s|%s' "$ETCD_DR_KUBERNETES_VERSION" "$ETCD_DR_PREFIX" "$ETCD_DR_MEMBERS"`], {
                encoding: "utf8",
                env: { ...process.env, ETCD_DR_ENV: env, INVOCATION_ID: "x" },
            });
            assert.strictEqual(read.stdout, "it's 1.35|etcd|cp1,cp2", read.stderr);
        });

        const refusals: [string, string[], RegExp][] = [
            ["a misspelt key", ["ETCD_DR_STOP_TIMEOUTS=60"], /sets ETCD_DR_STOP_TIMEOUTS, which is not an etcd-dr setting; check its spelling$/],
            ["a timeout with a unit", ["ETCD_DR_STOP_TIMEOUT=60s"], /ETCD_DR_STOP_TIMEOUT '60s' is not a whole number/],
            ["a port out of range", ["ETCD_DR_PEER_PORT=70000"], /ETCD_DR_PEER_PORT '70000' is not a TCP port$/],
            ["a prefix with a .. segment (#31)", ["ETCD_DR_PREFIX=a/../b"], /ETCD_DR_PREFIX 'a\/\.\.\/b' is not an object-name prefix/],
            ["a read URL that is not a PAR (named, not printed)", ["ETCD_DR_READ_URL='https://x.invalid/secret path/o/'"], /^etcd-dr: ERROR: ETCD_DR_READ_URL is not a pre-authenticated request URL \(https:\/\/\.\.\.\/o\/\)$/],
            ["a calendar that would add a unit directive", ["ETCD_DR_ON_CALENDAR='*:0/15;ExecStart=x'"], /ETCD_DR_ON_CALENDAR .* is not a systemd calendar expression/],
        ];
        for (const [what, lines, pattern] of refusals) {
            it(`refuses ${what} with one line`, () => {
                assertRefused(etcdDr(settings(what.replace(/\W+/g, "-"), lines), ["status"]), pattern);
            });
        }

        it("refuses a settings file another user owns", () => {
            const env = settings("owner", []);
            fs.chownSync(env, 65534, 65534);
            assertRefused(etcdDr(env, ["status"]), /^etcd-dr: ERROR: settings file .* is owned by uid 65534, not by uid 0 that runs etcd-dr; run: chown 0 /);
        });
    });
});
