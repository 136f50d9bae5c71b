// The node toolkit's functions in real bash, without the lab: the assembled toolkit (what a node
// receives) is sourced, with curl, etcdctl, etcdutl, date or hostname stubbed as bash functions
// where a test needs them, as Kubernetes' hack/lib/util_test.sh does.
//
// ETCD_DR_TOOLKIT=<file> runs these tests against another build of the toolkit, e.g. the one before
// the split, to see which behaviours it lacked:
//   git show ac1b9fe:node/etcd-dr > /tmp/old-etcd-dr && ETCD_DR_TOOLKIT=/tmp/old-etcd-dr npx mocha test/unit/toolkit-bash.test.ts
import * as assert from "assert";
import { spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { manifestAuthentic, manifestProblems, parseSnapshotId, signManifest } from "../../lib/snapshot";
import { readToolkit } from "../../lib/toolkitSource";

const ROOT = path.resolve(__dirname, "..", "..");
const FIXTURES = path.join(ROOT, "test", "fixtures");
const GOLDEN_MANIFEST = path.join(FIXTURES, "manifest.golden.json");
const ETCD_MANIFEST = path.join(FIXTURES, "etcd.yaml");

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
}

function sha256(data: string | Buffer): string {
    return createHash("sha256").update(data).digest("hex");
}

/** Single-quoted for bash. */
function q(text: string): string {
    return `'${text.replace(/'/g, `'\\''`)}'`;
}

function errorLines(stderr: string): string[] {
    return stderr.split("\n").filter((line) => line.startsWith("etcd-dr: ERROR:"));
}

function lastLine(text: string): string {
    const lines = text.trimEnd().split("\n");
    return lines[lines.length - 1];
}

describe("node toolkit functions in bash (no lab)", function () {
    this.timeout(60_000);
    let work: string;
    let toolkit: string;

    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-bash-"));
        toolkit = process.env.ETCD_DR_TOOLKIT ?? path.join(work, "etcd-dr");
        if (!process.env.ETCD_DR_TOOLKIT) fs.writeFileSync(toolkit, readToolkit(), { mode: 0o755 });
    });

    after(() => fs.rmSync(work, { recursive: true, force: true }));

    // Runs SCRIPT in bash after sourcing the toolkit. INVOCATION_ID keeps log() out of the journal.
    function sourced(script: string, env: Record<string, string> = {}): Run {
        const run = spawnSync("bash", ["-c", `source ${q(toolkit)}\n${script}`], {
            encoding: "utf8",
            cwd: work,
            env: { ...process.env, INVOCATION_ID: "etcd-dr-unit-test", ETCD_DR_ENV: path.join(work, "unset.env"), ...env },
        });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    }

    // Runs a toolkit file as a command, the way an operator or Pulumi does.
    function command(file: string, args: string[], env: Record<string, string>): Run {
        const run = spawnSync("bash", [file, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, INVOCATION_ID: "etcd-dr-unit-test", ...env } });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    }

    // A settings file as Pulumi writes it (mode 0600), with a state dir of its own.
    function settingsFile(name: string, lines: string[]): string {
        const file = path.join(work, `${name}.env`);
        fs.writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
        fs.chmodSync(file, 0o600);
        return file;
    }

    describe("check_id", () => {
        const NEEDS_ID = "etcd-dr: ERROR: name the snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); `etcd-dr list` shows them\n";
        const notAnId = (id: string) => `etcd-dr: ERROR: '${id}' is not a snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); \`etcd-dr list\` shows them\n`;
        const notATime = (id: string) => `etcd-dr: ERROR: '${id}' is not a snapshot id: ${id.split("-r")[0]} is not a real time\n`;
        const cases: [string, string][] = [
            ["", NEEDS_ID],
            ["latest", notAnId("latest")],
            ["20261121T170053Z-r", notAnId("20261121T170053Z-r")],
            ["20261121T170053Z-r3-x", notAnId("20261121T170053Z-r3-x")],
            ["20261121-170053Z-r3", notAnId("20261121-170053Z-r3")],
            ["20261332T000000Z-r5", notATime("20261332T000000Z-r5")],
            ["20260230T120000Z-r1", notATime("20260230T120000Z-r1")],
            ["20261121T240000Z-r1", notATime("20261121T240000Z-r1")],
            ["20261121T175960Z-r1", notATime("20261121T175960Z-r1")],
        ];

        it("accepts a real id and prints nothing", () => {
            const run = sourced("check_id 20261121T170053Z-r3 && echo accepted");
            assert.deepStrictEqual(run, { status: 0, stdout: "accepted\n", stderr: "" });
        });

        for (const [id, error] of cases) {
            it(`refuses '${id}' with exactly one line, as the TypeScript parser does`, () => {
                const run = sourced(`check_id ${q(id)}; echo "not reached"`);
                assert.deepStrictEqual(run, { status: 1, stdout: "", stderr: error });
                assert.strictEqual(parseSnapshotId(id), undefined, "lib/snapshot.ts must refuse it too");
            });
        }
    });

    describe("manifest.json", () => {
        const ID = "20261121T170053Z-r3";
        // The fixture's MAC is under this key (the golden manifest is what a keyed site writes).
        const GOLDEN_KEY = "golden-test-key-0123456789abcdefghijklmnopqrstuv";

        // Writes a manifest as `etcd-dr backup` does, with the clock and host name pinned.
        function writeManifest(dir: string): Run {
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "snapshot.db"), "plain snapshot\n");
            fs.writeFileSync(path.join(dir, "pki.tar"), "plain pki\n");
            fs.writeFileSync(path.join(dir, "snapshot.db.gz.enc"), "snapshot bytes\n");
            fs.writeFileSync(path.join(dir, "pki.tar.gz.enc"), "pki bytes\n");
            fs.writeFileSync(path.join(dir, "key"), `${GOLDEN_KEY}\n`);
            return sourced(
                [
                    "date() { echo 2026-11-21T17:00:53Z; }",
                    "hostname() { echo cp1; }",
                    `ETCD_DR_CLUSTER=payments ETCD_DR_COMPRESSION=gzip ETCD_DR_ENCRYPTION_KEY_FILE=${q(path.join(dir, "key"))}`,
                    "ETCD_DR_KUBERNETES_VERSION=1.31.4 SNAP_REVISION=3 SNAP_HASH=2386062415 SNAP_KEYS=1042 APISERVER_ENCRYPTION=none",
                    `cd ${q(dir)}`,
                    `write_manifest manifest.json ${ID} cp1,cp2,cp3 3.5.15 snapshot.db pki.tar snapshot.db.gz.enc pki.tar.gz.enc`,
                ].join("\n"),
            );
        }

        it("is written byte for byte as the golden fixture", () => {
            const dir = path.join(work, "manifest-write");
            const run = writeManifest(dir);
            assert.deepStrictEqual(run, { status: 0, stdout: "", stderr: "" });
            assert.strictEqual(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"), fs.readFileSync(GOLDEN_MANIFEST, "utf8"));
        });

        it("is read back by manifest_value, manifest_objects and manifest_members as the JSON says", () => {
            const golden = JSON.parse(fs.readFileSync(GOLDEN_MANIFEST, "utf8")) as Record<string, unknown>;
            const scalars = Object.keys(golden).filter((key) => typeof golden[key] !== "object");
            const run = sourced(
                [
                    ...scalars.map((key) => `printf '%s=%s\\n' ${key} "$(manifest_value ${q(GOLDEN_MANIFEST)} ${key})"`),
                    `manifest_objects ${q(GOLDEN_MANIFEST)}`,
                    `manifest_members ${q(GOLDEN_MANIFEST)}`,
                ].join("\n"),
            );
            assert.strictEqual(run.stderr, "");
            const objects = golden.objects as { name: string; size: number; sha256: string }[];
            assert.strictEqual(
                run.stdout,
                [
                    ...scalars.map((key) => `${key}=${String(golden[key])}`),
                    ...objects.map((o) => `${o.name}\t${o.size}\t${o.sha256}`),
                    (golden.members as string[]).join(","),
                ].join("\n") + "\n",
            );
            assert.strictEqual(objects.length, 2);
        });

        it("manifest_members sorts, so the members compare whatever order the backup wrote", () => {
            const shuffled = path.join(work, "shuffled.json");
            fs.writeFileSync(shuffled, fs.readFileSync(GOLDEN_MANIFEST, "utf8").replace('"members": ["cp1","cp2","cp3"],', '"members": ["cp3","cp1","cp2"],'));
            assert.deepStrictEqual(sourced(`manifest_members ${q(shuffled)}`), { status: 0, stdout: "cp1,cp2,cp3\n", stderr: "" });
        });

        it("is a manifest the TypeScript side accepts (lib/snapshot.ts manifestProblems), authenticated as lib/snapshot.ts checks it", () => {
            const text = fs.readFileSync(GOLDEN_MANIFEST, "utf8");
            const golden = JSON.parse(text);
            assert.deepStrictEqual(manifestProblems(golden, ID), []);
            assert.strictEqual(golden.formatVersion, 2);
            assert.ok(manifestAuthentic(text, GOLDEN_KEY), "the bash HMAC verifies in TypeScript");
            assert.ok(!manifestAuthentic(text, "another key"), "and not under another key");
            assert.ok(!manifestAuthentic(text.replace('"etcdRevision": 3', '"etcdRevision": 4'), GOLDEN_KEY), "nor once a line is altered");
            const unsigned = text.split("\n").filter((_, i) => i !== 1).join("\n");
            assert.strictEqual(signManifest(unsigned, GOLDEN_KEY), text, "signManifest writes what the toolkit writes");
            assert.deepStrictEqual(manifestProblems({ ...golden, etcdRevision: 4 }, ID), ["manifest etcdRevision 4 differs from the id's revision"]);
        });

        it("objects listed by manifest_objects are the files' sizes and digests", () => {
            const dir = path.join(work, "manifest-write");
            writeManifest(dir);
            const run = sourced(`manifest_objects ${q(path.join(dir, "manifest.json"))}`);
            assert.strictEqual(
                run.stdout,
                `snapshot.db.gz.enc\t15\t${sha256("snapshot bytes\n")}\npki.tar.gz.enc\t10\t${sha256("pki bytes\n")}\n`,
            );
        });
    });

    describe("the restored cluster's peers", () => {
        it("initial_cluster names every member by host name, sorted, on the peer port", () => {
            const run = sourced("ETCD_DR_MEMBERS=cp2,cp1,,cp3 ETCD_DR_PEER_PORT=2380\ninitial_cluster");
            assert.deepStrictEqual(run, { status: 0, stdout: "cp1=https://cp1:2380,cp2=https://cp2:2380,cp3=https://cp3:2380", stderr: "" });
        });

        it("initial_cluster without ETCD_DR_MEMBERS fails with the one line that names it, not an empty cluster", () => {
            const env = path.join(work, "members.env");
            const run = sourced(`ETCD_DR_PEER_PORT=2380\nnote_errors_in ${q(work)}\ncluster="$(initial_cluster)"\necho "cluster '$cluster'"`, { ETCD_DR_ENV: env });
            assert.deepStrictEqual(run, {
                status: 1,
                stdout: "",
                stderr: `etcd-dr: ERROR: ETCD_DR_MEMBERS is not set in ${env}; it is needed to know this site's control-plane host names\n`,
            });
        });

        it("rewrite_peer_flags turns kubeadm's IP-based peer flags into host-name URLs and leaves every other line alone", () => {
            const original = fs.readFileSync(ETCD_MANIFEST, "utf8");
            const manifest = path.join(work, "etcd.yaml");
            fs.writeFileSync(manifest, original);
            const cluster = "cp1=https://cp1:2380,cp2=https://cp2:2380,cp3=https://cp3:2380";
            const run = sourced(`ETCD_DR_PEER_PORT=2380\nrewrite_peer_flags ${q(manifest)} cp2 ${q(cluster)}`);
            assert.deepStrictEqual(run, { status: 0, stdout: "", stderr: "" });
            const expected = original
                .replace("    - --initial-advertise-peer-urls=https://10.0.1.11:2380\n", "    - --initial-advertise-peer-urls=https://cp2:2380\n")
                .replace("    - --initial-cluster=cp1=https://10.0.1.10:2380,cp2=https://10.0.1.11:2380\n", `    - --initial-cluster=${cluster}\n`);
            assert.notStrictEqual(expected, original, "the fixture has kubeadm's two peer flags");
            assert.strictEqual(fs.readFileSync(manifest, "utf8"), expected);
        });
    });

    describe("encoding", () => {
        let keyA: string;
        let keyB: string;
        let plain: string;
        const data = randomBytes(64 * 1024);

        before(() => {
            keyA = path.join(work, "a.key");
            keyB = path.join(work, "b.key");
            plain = path.join(work, "data.bin");
            fs.writeFileSync(keyA, randomBytes(32).toString("hex"));
            fs.writeFileSync(keyB, randomBytes(32).toString("hex"));
            fs.writeFileSync(plain, data);
        });

        // Encodes with key A, then decodes SOURCE with KEY; prints "decoded" or "refused" and the files left.
        function roundTrip(name: string, key: string, damage = ""): Run {
            const dir = path.join(work, name);
            fs.mkdirSync(dir);
            return sourced(
                [
                    `cd ${q(dir)}`,
                    `ETCD_DR_COMPRESSION=gzip ETCD_DR_ENCRYPTION_KEY_FILE=${q(keyA)}`,
                    `encode ${q(plain)} object.gz.enc`,
                    damage,
                    `ETCD_DR_ENCRYPTION_KEY_FILE=${q(key)}`,
                    "if decode object.gz.enc out gzip aes-256-cbc-pbkdf2 1000000; then echo decoded; else echo refused; fi",
                    "ls",
                ].join("\n"),
            );
        }

        it("decode with the right key gives back the exact bytes", () => {
            const run = roundTrip("right-key", keyA);
            assert.deepStrictEqual(run, { status: 0, stdout: "decoded\nobject.gz.enc\nout\n", stderr: "" });
            assert.ok(fs.readFileSync(path.join(work, "right-key", "out")).equals(data));
        });

        it("decode with a wrong key fails and leaves no output behind", () => {
            const run = roundTrip("wrong-key", keyB);
            assert.deepStrictEqual(run, { status: 0, stdout: "refused\nobject.gz.enc\n", stderr: "" });
        });

        it("decode of damaged data fails and leaves no output behind", () => {
            const run = roundTrip("damaged", keyA, "printf 'XXXXXXXXXXXXXXXX' | dd of=object.gz.enc bs=1 seek=4096 conv=notrunc status=none");
            assert.deepStrictEqual(run, { status: 0, stdout: "refused\nobject.gz.enc\n", stderr: "" });
        });

        it("decode of an encrypted object without a key file says so", () => {
            const run = sourced("unset ETCD_DR_ENCRYPTION_KEY_FILE\nif decode /dev/null out gzip aes-256-cbc-pbkdf2 1000000; then echo decoded; else echo refused; fi");
            assert.deepStrictEqual(run, {
                status: 0,
                stdout: "refused\n",
                stderr: "etcd-dr: the snapshot is encrypted but ETCD_DR_ENCRYPTION_KEY_FILE is not set\n",
            });
        });
    });

    describe("etcdctl's answers", () => {
        const STATUS = [
            '"ClusterID" : 14841639068965178418',
            '"MemberID" : 10276657743932975437',
            '"Revision" : 1234',
            '"RaftTerm" : 2',
            '"Version" : "3.5.15"',
            '"DBSize" : 20480',
            '"Leader" : 10276657743932975437',
            '"RaftIndex" : 4321',
        ].join("\n");

        it("field reads one value of `etcdctl -w fields`, without quotes, and nothing for a missing key", () => {
            const run = sourced(
                ["MemberID", "Version", "Revision", "Leader", "Missing"].map((key) => `printf '%s=%s\\n' ${key} "$(field ${key} <<<${q(STATUS)})"`).join("\n"),
            );
            assert.deepStrictEqual(run, {
                status: 0,
                stdout: "MemberID=10276657743932975437\nVersion=3.5.15\nRevision=1234\nLeader=10276657743932975437\nMissing=\n",
                stderr: "",
            });
        });

        it("is_leader compares the member with the leader (etcdctl stubbed)", () => {
            const follower = STATUS.replace('"Leader" : 10276657743932975437', '"Leader" : 1');
            const run = sourced(
                [
                    "ETCD_ENDPOINT=https://127.0.0.1:2379 ETCD_CA=ca ETCD_CERT=cert ETCD_KEY=key",
                    `etcdctl() { printf '%s\\n' ${q(STATUS)}; }`,
                    "if is_leader; then echo leader; else echo follower; fi",
                    `etcdctl() { printf '%s\\n' ${q(follower)}; }`,
                    "if is_leader; then echo leader; else echo follower; fi",
                    "etcdctl() { return 1; }",
                    "is_leader",
                ].join("\n"),
            );
            assert.deepStrictEqual(run, {
                status: 1,
                stdout: "leader\nfollower\n",
                stderr: "etcd-dr: ERROR: the local etcd at https://127.0.0.1:2379 does not answer\n",
            });
        });

        it("snapshot_status sets SNAP_REVISION, SNAP_HASH and SNAP_KEYS from etcdutl (stubbed)", () => {
            const run = sourced(
                [
                    `etcdutl() { printf '%s\\n' '"Hash" : 2386062415' '"Revision" : 1234' '"Keys" : 1042' '"Size" : 20480' '"Version" : "3.5.0"'; }`,
                    'snapshot_status snapshot.db && echo "$SNAP_REVISION $SNAP_HASH $SNAP_KEYS"',
                    `etcdutl() { printf '%s\\n' '"Hash" : 1' '"Revision" : ' ; }`,
                    "if snapshot_status snapshot.db; then echo accepted; else echo 'no revision'; fi",
                ].join("\n"),
            );
            assert.deepStrictEqual(run, { status: 0, stdout: "1234 2386062415 1042\nno revision\n", stderr: "" });
        });
    });

    describe("the etcd tools (F05: a kubeadm host has none; kube-bootstrap copies them out of the etcd image)", () => {
        // A PATH without any etcdctl or etcdutl of the machine the tests run on.
        const bare = (process.env.PATH ?? "").split(":").filter((dir) => !["etcdctl", "etcdutl"].some((t) => fs.existsSync(path.join(dir, t)))).join(":");
        const stub = (tool: string, version: string) => `${tool}() { [[ "$1" == version ]] && echo "${tool} version: ${version}"; }`;

        it("accepts etcdctl and etcdutl at the version of the etcd this node runs", () => {
            const run = sourced([stub("etcdctl", "3.6.6"), stub("etcdutl", "3.6.6"), "ETCD_VERSION=3.6.6", "require_etcd_tools && echo ok"].join("\n"), { PATH: bare });
            assert.deepStrictEqual(run, { status: 0, stdout: "ok\n", stderr: "" });
        });

        it("names the missing tool and where it comes from, in one line", () => {
            const run = sourced([stub("etcdctl", "3.6.6"), "ETCD_VERSION=3.6.6", "require_etcd_tools"].join("\n"), { PATH: bare });
            assert.strictEqual(run.status, 1);
            assert.match(run.stderr, /^etcd-dr: ERROR: etcdutl is not installed on \S+; the node bootstrap installs it at the cluster's etcd version 3\.6\.6 \(kube-bootstrap\.sh install_etcd_tools\)/);
            assert.strictEqual(errorLines(run.stderr).length, 1);
        });

        it("install-timer refuses, before writing a unit, a node whose timer could never back up (F05)", () => {
            // No unit reaches the host's systemd: the writes and systemctl are stubbed.
            const install = (tools: string[]) => sourced([
                ...tools.map((t) => stub(t, "3.6.6")),
                "discover_etcd() { ETCD_VERSION=3.6.6; }",
                "write_atomically() { cat >/dev/null; echo \"wrote $1\"; }",
                "systemctl() { echo \"systemctl $*\"; }",
                "ETCD_DR_ON_CALENDAR='*:0/15' ETCD_DR_RANDOMIZED_DELAY=60 cmd_install_timer",
            ].join("\n"), { PATH: bare });
            const missing = install(["etcdctl"]);
            assert.strictEqual(missing.status, 1);
            assert.strictEqual(missing.stdout, "", "no unit written");
            assert.match(missing.stderr, /^etcd-dr: ERROR: etcdutl is not installed on \S+; the node bootstrap installs it/);
            assert.strictEqual(errorLines(missing.stderr).length, 1);
            const ready = install(["etcdctl", "etcdutl"]);
            assert.strictEqual(ready.status, 0, ready.stderr);
            assert.match(ready.stdout, /wrote \/etc\/systemd\/system\/etcd-dr-backup\.service\nwrote \/etc\/systemd\/system\/etcd-dr-backup\.timer\n/);
        });

        it("refuses a tool of another version than the etcd it would save or restore", () => {
            const run = sourced([stub("etcdctl", "3.6.6"), stub("etcdutl", "3.4.30"), "ETCD_VERSION=3.6.6", "require_etcd_tools"].join("\n"), { PATH: bare });
            assert.strictEqual(run.status, 1);
            assert.match(run.stderr, /^etcd-dr: ERROR: etcdutl on \S+ is 3\.4\.30 but etcd runs 3\.6\.6; install etcdutl 3\.6\.6/);
        });
    });

    describe("etcdctl's timeout", () => {
        it("is 30 s per call, and for a snapshot save grows with the database", () => {
            const run = sourced([
                "etcdctl() { echo \"$*\" | grep -o -- '--command-timeout=[^ ]*'; }",
                "ETCD_ENDPOINT=e ETCD_CA=a ETCD_CERT=c ETCD_KEY=k",
                "etcdctl_local member list",
                "ETCD_DB_SIZE=1266000000; ETCD_COMMAND_TIMEOUT=\"$(snapshot_save_timeout)\" etcdctl_local snapshot save x",
                "ETCD_DB_SIZE=0 snapshot_save_timeout",
            ].join("\n"));
            assert.deepStrictEqual(run, { status: 0, stdout: "--command-timeout=30s\n--command-timeout=421s\n120s\n", stderr: "" });
        });
    });

    describe("the compressor a site's snapshots use", () => {
        it("is required before a backup or a decode needs it, with one line naming the fix", () => {
            const run = sourced("hostname() { echo cp1; }\nPATH=/nonexistent require_compressor zstd");
            assert.strictEqual(run.status, 1);
            assert.deepStrictEqual(errorLines(run.stderr), [
                "etcd-dr: ERROR: zstd is not installed on cp1, and this site's snapshots use it; install it (apt-get install zstd) or set backup.compression to another of gzip, zstd, none",
            ]);
            assert.deepStrictEqual(sourced("PATH=/nonexistent require_compressor none"), { status: 0, stdout: "", stderr: "" });
            assert.deepStrictEqual(sourced("require_compressor zstd && require_compressor gzip"), { status: 0, stdout: "", stderr: "" });
        });
    });

    describe("the pod network after a restore (ip, kubectl, crictl, systemctl and hostname stubbed)", () => {
        // cp3 registered third on the primary and fourth on the standby: the restored Node gives it
        // the primary's 10.244.4.0/24 while its bridge, flannel's file and its pods may still hold the
        // standby's 10.244.3.0/24. The stubs keep the bridge and the sandboxes in files, so a removal
        // shows in the next look; calls.log records what changed the node, in order.
        interface Node {
            bridge?: string;
            podCidr?: string;
            flannel?: string;
            sandboxes?: string[];
            /** How many times a CNI call under way makes the bridge again, with the old range, after a removal. */
            bridgeComesBack?: number;
        }
        const stubs = (node: Node) => [
            `printf '%s' ${q(node.bridge ?? "")} > bridge`,
            `echo ${node.bridgeComesBack ?? 0} > comes-back`,
            `printf '%s\n' ${(node.sandboxes ?? []).map(q).join(" ")} | sed '/^$/d' > sandboxes`,
            ": > calls.log",
            "ip() {",
            "    if [[ $1 == -4 ]]; then [[ -s bridge ]] || return 1; echo \"7: cni0    inet $(cat bridge) brd 10.244.3.255 scope global cni0\"; return; fi",
            "    echo \"ip $*\" >> calls.log",
            "    local n; n=$(cat comes-back); if ((n > 0)); then echo $((n - 1)) > comes-back; echo 10.244.3.1/24 > bridge; else : > bridge; fi",
            "}",
            `kubectl() { ${node.podCidr ? `echo ${node.podCidr}` : "return 1"}; }`,
            "crictl() {",
            "    local id=${*: -1}",
            "    case \"$*\" in",
            "        *'pods --state ready -q') cut -d' ' -f1 sandboxes ;;",
            "        *inspectp*) grep \"^$id \" sandboxes | cut -d' ' -f2- ;;",
            "        *stopp*) echo \"crictl stopp $id\" >> calls.log ;;",
            "        *rmp*) echo \"crictl rmp $id\" >> calls.log; sed -i \"/^$id /d\" sandboxes ;;",
            "    esac",
            "}",
            "systemctl() { [[ $1 == is-active ]] || echo \"systemctl $*\" >> calls.log; }",
            "hostname() { echo cp3; }",
            node.flannel ? `printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=%s\n' ${q(node.flannel)} > flannel.env` : "rm -f flannel.env",
        ].join("\n");
        const env = { FLANNEL_SUBNET_FILE: "flannel.env", ETCD_DR_VERIFY_TIMEOUT: "1" };
        const after = "\necho ---; cat calls.log; echo ---; cat flannel.env 2>/dev/null || echo 'no flannel.env'";
        const sandboxes = [
            "a1 drill-g1/web-1 10.244.3.4", // started by the running kubelet from the old file after the restore
            "b2 kube-flannel/kube-flannel-ds-x ", // host network: no address of its own
            "c3 drill-g1/agent-2 10.244.4.7", // already in the restored range
        ];

        it("in_cidr does the range maths", () => {
            const cases = [["10.244.4.1", "10.244.4.0/24"], ["10.244.3.1", "10.244.4.0/24"], ["10.244.4.255", "10.244.4.0/24"],
                ["10.245.0.1", "10.244.0.0/16"], ["192.168.1.1", "0.0.0.0/0"], ["10.1.2.3", "10.1.2.3/32"], ["10.1.2.4", "10.1.2.3/32"]];
            const run = sourced(cases.map(([a, c]) => `if in_cidr ${a} ${c}; then echo in; else echo out; fi`).join("\n"));
            assert.deepStrictEqual(run, { status: 0, stdout: "in\nout\nin\nout\nin\nin\nout\n", stderr: "" });
        });

        it("removes flannel's file that names the old range even where no bridge exists yet", () => {
            // The e2e of b8a312c: the worker had no pod on the pod network, so no bridge; the old file
            // stayed, and the pods reconcile rolled made the bridge, and took addresses, from it.
            const run = sourced(`${stubs({ podCidr: "10.244.4.0/24", flannel: "10.244.3.1/24" })}\nreset_pod_network${after}`, env);
            assert.deepStrictEqual(run, {
                status: 0,
                stdout: "removed flannel's subnet file on cp3 (10.244.3.1/24): flannel writes the restored pod range 10.244.4.0/24 when it next starts\n"
                    + "---\n---\nno flannel.env\n",
                stderr: "",
            });
        });

        it("removes a bridge outside the range and stops the sandboxes outside it, keeping a file that names the range", () => {
            const run = sourced(`${stubs({ bridge: "10.244.3.1/24", podCidr: "10.244.4.0/24", flannel: "10.244.4.1/24", sandboxes })}\nreset_pod_network${after}\necho ---; cat sandboxes`, env);
            assert.deepStrictEqual(run, {
                status: 0,
                stdout: "removed the CNI bridge cni0 (10.244.3.1/24) on cp3: the restored pod range of this node is 10.244.4.0/24\n"
                    + "stopped the sandbox of drill-g1/web-1 on cp3 (10.244.3.4, outside 10.244.4.0/24): the kubelet makes it again in the restored range\n"
                    + "---\nip link delete cni0\ncrictl stopp a1\ncrictl rmp a1\n---\nFLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.4.1/24\n"
                    + "---\nb2 kube-flannel/kube-flannel-ds-x \nc3 drill-g1/agent-2 10.244.4.7\n",
                stderr: "",
            });
        });

        it("restart-kubelet resets the pod network before it restarts the kubelet", () => {
            const state = path.join(work, "state-restart-kubelet");
            const node = { bridge: "10.244.3.1/24", podCidr: "10.244.4.0/24", flannel: "10.244.3.1/24", sandboxes };
            const run = sourced(`${stubs(node)}\ncmd_restore_restart_kubelet 20261205T053630Z-r741${after}`, { ...env, ETCD_DR_STATE_DIR: state });
            assert.strictEqual(run.status, 0, run.stderr);
            assert.deepStrictEqual(run.stdout.split("---\n")[1].trim().split("\n"),
                ["ip link delete cni0", "crictl stopp a1", "crictl rmp a1", "systemctl restart kubelet"]);
            assert.match(run.stdout, /^kubelet restarted on cp3 for 20261205T053630Z-r741$/m);
            assert.match(run.stdout, /no flannel.env\n$/);
        });

        it("looks again while a CNI call under way makes the old bridge again, and gives up with one line", () => {
            const once = sourced(`${stubs({ bridge: "10.244.3.1/24", podCidr: "10.244.4.0/24", bridgeComesBack: 1 })}\nreset_pod_network${after}`, env);
            assert.strictEqual(once.status, 0, once.stderr);
            assert.deepStrictEqual(once.stdout.split("---\n")[1], "ip link delete cni0\nip link delete cni0\n");
            const always = sourced(`${stubs({ bridge: "10.244.3.1/24", podCidr: "10.244.4.0/24", bridgeComesBack: 99 })}\nreset_pod_network`, env);
            assert.strictEqual(always.status, 1);
            assert.deepStrictEqual(errorLines(always.stderr),
                ["etcd-dr: ERROR: pods on cp3 still come up outside the restored pod range 10.244.4.0/24 after 5 passes; see `crictl pods` and flannel.env"]);
        });

        it("changes nothing inside the range, nor where the CNI is not flannel", () => {
            const inside = sourced(`${stubs({ bridge: "10.244.4.1/24", podCidr: "10.244.4.0/24", flannel: "10.244.4.1/24", sandboxes: sandboxes.slice(1) })}\nreset_pod_network${after}`, env);
            assert.deepStrictEqual(inside, { status: 0, stdout: "---\n---\nFLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.4.1/24\n", stderr: "" });
            // Calico: no flannel file, no bridge, pod addresses from its own blocks, never the Node's range.
            const calico = sourced(`${stubs({ podCidr: "10.244.4.0/24", sandboxes: ["d4 app/api-0 192.168.12.5"] })}\nreset_pod_network${after}`, env);
            assert.deepStrictEqual(calico, { status: 0, stdout: "---\n---\nno flannel.env\n", stderr: "" });
        });

        it("stops with one line when crictl cannot list the sandboxes", () => {
            const run = sourced(`${stubs({ podCidr: "10.244.4.0/24", flannel: "10.244.4.1/24" })}\ncrictl() { return 1; }\nreset_pod_network\necho went on`, env);
            assert.strictEqual(run.status, 1);
            assert.doesNotMatch(run.stdout, /went on/);
            assert.deepStrictEqual(errorLines(run.stderr), ["etcd-dr: ERROR: crictl cannot list the pod sandboxes on cp3; is containerd running?"]);
        });

        it("fails with one line, changing nothing, when the API does not say the node's range", () => {
            const run = sourced(`${stubs({ bridge: "10.244.3.1/24", flannel: "10.244.3.1/24", sandboxes })}\nreset_pod_network`, env);
            assert.strictEqual(run.status, 1);
            assert.deepStrictEqual(errorLines(run.stderr), ["etcd-dr: ERROR: the restored Node cp3 has no pod range after 1s; see `kubectl get node cp3 -o yaml`"]);
            assert.strictEqual(sourced("cat calls.log flannel.env").stdout, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n");
        });
    });

    describe("failures end with one ERROR line", () => {
        // The toolkit as it runs on a node (assembled) and as it runs from a checkout.
        const builds = (): [string, string][] => [
            ["assembled", toolkit],
            ["checkout", path.join(ROOT, "node", "etcd-dr")],
        ];

        it("an unexpected failure inside a function (errtrace): a state dir under a regular file", () => {
            fs.writeFileSync(path.join(work, "regular-file"), "");
            const env = settingsFile("errtrace", ["ETCD_DR_CLUSTER=payments", `ETCD_DR_STATE_DIR=${path.join(work, "regular-file", "state")}`]);
            for (const [build, file] of builds()) {
                const run = command(file, ["status"], { ETCD_DR_ENV: env });
                const what = `${build}: exit ${run.status}, stderr ${JSON.stringify(run.stderr)}`;
                assert.notStrictEqual(run.status, 0, what);
                assert.strictEqual(run.stdout, "", what);
                assert.match(lastLine(run.stderr), /^etcd-dr: ERROR: 'mkdir -p "\$ETCD_DR_STATE_DIR"' failed with status 1 \(line \d+\); nothing after it ran$/, what);
                assert.strictEqual(errorLines(run.stderr).length, 1, what);
            }
        });

        it("list against a dead store fails instead of printing an empty table", async () => {
            const port = await closedPort();
            const env = settingsFile("dead-store", [
                "ETCD_DR_CLUSTER=payments",
                `ETCD_DR_STATE_DIR=${path.join(work, "state-dead-store")}`,
                `ETCD_DR_READ_URL=http://127.0.0.1:${port}/p/token/n/ns/b/bucket/o/`,
            ]);
            for (const [build, file] of builds()) {
                for (const args of [["list"], ["list", "--json"]]) {
                    const run = command(file, args, { ETCD_DR_ENV: env });
                    const what = `${build} ${args.join(" ")}: exit ${run.status}, stdout ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`;
                    assert.notStrictEqual(run.status, 0, what);
                    assert.strictEqual(run.stdout, "", what);
                    assert.match(
                        lastLine(run.stderr),
                        /^etcd-dr: ERROR: listing the snapshot store failed: Failed to connect to 127\.0\.0\.1 port \d+ .*; check ETCD_DR_READ_URL and that its PAR allows listing and has not expired$/,
                        what,
                    );
                    assert.strictEqual(errorLines(run.stderr).length, 1, what);
                }
            }
            assert.deepStrictEqual(fs.readdirSync(path.join(work, "state-dead-store")), [], "no error note is left behind");
        });

        it("as a login user that is not root (OCI's ubuntu), refuses to run and says how (F01)", () => {
            // Readable by anyone, unlike the test's own work directory.
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-unprivileged-"));
            fs.chmodSync(dir, 0o755);
            const file = path.join(dir, "etcd-dr");
            fs.writeFileSync(file, fs.readFileSync(toolkit), { mode: 0o755 });
            try {
                // As root (CI, the lab host) drop to nobody; otherwise the test runs unprivileged already.
                const asUser = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];
                for (const args of [["list"], ["backup"], ["restore", "apply", "20261121T170053Z-r302"], ["install-timer"]]) {
                    const run = spawnSync(asUser[0] ?? "bash", [...asUser.slice(1), ...(asUser.length ? ["bash"] : []), file, ...args], {
                        encoding: "utf8",
                        env: { PATH: process.env.PATH, INVOCATION_ID: "etcd-dr-unit-test", ETCD_DR_ENV: "/nonexistent/etcd-dr.env" },
                    });
                    assert.notStrictEqual(run.status, 0, args.join(" "));
                    assert.strictEqual(run.stderr, `etcd-dr: ERROR: etcd-dr ${args[0]} must run as root; run it as \`sudo etcd-dr ${args[0]} ...\`\n`, args.join(" "));
                }
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("help prints the same usage from the checkout and assembled", () => {
            const [assembled, checkout] = builds().map(([, file]) => command(file, ["help"], {}));
            assert.strictEqual(assembled.status, 0);
            assert.match(assembled.stdout, /^etcd-dr: etcd snapshot backup and restore/);
            assert.match(assembled.stdout, /every failure ends with one line on stderr/i);
            assert.doesNotMatch(assembled.stdout, /set -|shellcheck/);
            assert.deepStrictEqual(checkout, assembled);
        });
    });

    // Which snapshots count as committed, across pages and with some still arriving, is tested with
    // real curl against a fake replica in committed-snapshots.test.ts.
    describe("list (curl stubbed)", () => {
        function list(pages: string[], args: string[]): Run {
            const env = settingsFile("stubbed-store", [
                "ETCD_DR_CLUSTER=payments",
                `ETCD_DR_STATE_DIR=${path.join(work, "state-stubbed")}`,
                "ETCD_DR_READ_URL=https://objectstorage.example.invalid/p/token/n/ns/b/bucket/o/",
            ]);
            return sourced(
                [
                    // The stub answers the listing request by its start= parameter, as the store pages.
                    "curl() {",
                    // store_curl pipes the URL in as curl's config (-K -): a stub that leaves the pipe
                    // unread can end before printf writes, and printf's SIGPIPE fails the pipeline.
                    "    cat >/dev/null",
                    '    local arg start=""',
                    '    for arg in "$@"; do',
                    '        if [[ "$arg" == start=* ]]; then start="${arg#start=}"; fi',
                    "    done",
                    `    if [[ -z "$start" ]]; then printf '%s\\n' ${q(pages[0])}; else printf '%s\\n' ${q(pages[1] ?? "")}; fi`,
                    "}",
                    `main ${args.join(" ")}`,
                ].join("\n"),
                { ETCD_DR_ENV: env },
            );
        }

        it("an empty store lists nothing and succeeds", () => {
            const empty = JSON.stringify({ objects: [] });
            assert.deepStrictEqual(list([empty], ["list", "--json"]), { status: 0, stdout: "[]\n", stderr: "" });
            const table = list([empty], ["list"]);
            assert.strictEqual(table.status, 0);
            assert.match(table.stdout, /^ID +CREATED +AGE +SIZE +REVISION\n$/);
        });

        // mawk, Debian's and Ubuntu's awk, clamps printf "%d" at 2^31-1 (review #25).
        it("sums a snapshot of 2 GiB or more exactly, as the store lists it", () => {
            const id = "20261121T170053Z-r3";
            const manifest = path.join(work, "large-manifest.json");
            fs.writeFileSync(
                manifest,
                fs.readFileSync(GOLDEN_MANIFEST, "utf8")
                    .replace(/^ {2}"hmacSha256": .*\n/m, "")
                    .replace('"encryption": "aes-256-cbc-pbkdf2"', '"encryption": "none"')
                    .replace(/"name": "snapshot\.db\.gz\.enc", "size": 15/, '"name": "snapshot.db.gz", "size": 3000000000')
                    .replace('"name": "pki.tar.gz.enc"', '"name": "pki.tar.gz"'),
            );
            const env = settingsFile("large-store", [
                "ETCD_DR_CLUSTER=payments",
                `ETCD_DR_STATE_DIR=${path.join(work, "state-large")}`,
                "ETCD_DR_READ_URL=https://objectstorage.example.invalid/p/token/n/ns/b/bucket/o/",
            ]);
            const run = sourced(
                [
                    `store_list() { printf '%s\\t%s\\n' etcd/payments/${id}/manifest.json 900 etcd/payments/${id}/snapshot.db.gz 3000000000 etcd/payments/${id}/pki.tar.gz 10; }`,
                    `store_get() { cp ${q(manifest)} "$2"; }`,
                    "main list --json",
                ].join("\n"),
                { ETCD_DR_ENV: env },
            );
            assert.deepStrictEqual(run, { status: 0, stdout: `[{"id":"${id}","sizeBytes":3000000910,"revision":3}]\n`, stderr: "" });
        });
    });
});

/** A local TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
}
