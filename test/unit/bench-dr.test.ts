import * as assert from "assert";
import { spawnSync } from "child_process";
import { committedId, memberFloorScript, parseFloor, parseSampled, sampled } from "../../tools/bench/dr";

describe("bench dr: the node-side sampler (tools/bench/dr.ts)", () => {
    const onHost = (command: string) => spawnSync("bash", ["-c", sampled(command)], { encoding: "utf8" }).stdout;

    it("reports the command's output, its wall time and the peak of its session's summed RSS", () => {
        // A child holding 64 MiB for half a second: the peak must see it, summed with its shell's.
        const run = parseSampled(onHost("echo started; python3 -c 'import time; b = bytearray(64 << 20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(0.5)'"));
        assert.strictEqual(run.output, "started");
        assert.ok(run.seconds >= 0.5 && run.seconds < 10, `${run.seconds} s`);
        assert.ok(run.peakBytes > 64 * 1024 * 1024, `peak ${run.peakBytes}`);
        assert.ok(run.peakResidentBytes >= run.peakBytes, `resident ${run.peakResidentBytes}`);
    });

    it("runs the command as written: its own variables and quotes", () => {
        assert.strictEqual(parseSampled(onHost(`set -u; f='a b'; echo "$f" 'it'"'"'s'`)).output, "a b it's");
    });

    it("fails on a command that fails, with its output", () => {
        assert.throws(() => parseSampled(onHost("echo broken >&2; exit 3")), /exited 3:\nbroken/);
    });

    it("refuses text without the BENCH line", () => {
        assert.throws(() => parseSampled("just output\n"), /no BENCH line/);
    });
});

describe("bench dr: the snapshot a backup committed", () => {
    it("is the id `etcd-dr backup` prints last, after its log lines when the streams are merged", () => {
        const merged = "etcd-dr: committed snapshot 20261205T061501Z-r1110 (revision 1110, 1210 keys, 118830 bytes) in 9s\n20261205T061501Z-r1110\n";
        assert.strictEqual(committedId(merged), "20261205T061501Z-r1110");
        assert.strictEqual(committedId("20261205T061501Z-r1110\n"), "20261205T061501Z-r1110");
    });

    it("refuses output whose last line is no snapshot id", () => {
        // A backup's stdout read without its stderr gave this bench's first 100 MB run nothing to match.
        assert.throws(() => committedId("etcd-dr: committed snapshot 20261205T061501Z-r1110 in 9s\n"), /printed no snapshot id/);
        assert.throws(() => committedId(""), /printed no snapshot id/);
    });
});

describe("bench dr: the restore floor of the members at once", () => {
    it("is the slowest member's sum, each part the slowest member's", () => {
        const floor = parseFloor([
            "FLOOR 0.500 1.250 6.000 4.000\n",
            "some output\nFLOOR 0.700 1.000 7.500 3.000\n",
            "FLOOR 0.600 1.100 5.000 2.000\n",
        ]);
        assert.deepStrictEqual(floor, { seconds: 12.2, parts: { download: 0.7, etcdutlRestore: 1.25, etcdHealthy: 7.5, apiserverReady: 4 } });
    });

    it("refuses a member without its FLOOR line, and no member at all", () => {
        assert.throws(() => parseFloor(["FLOOR 1 2 3 4\n", "curl: (22) 404\n"]), /no FLOOR line:\ncurl/);
        assert.throws(() => parseFloor([]), /no member/);
    });

    it("is a bash script that gives the URL to curl on stdin and kills the apiserver at once", () => {
        const script = memberFloorScript("http://10.250.0.1:8280/p/secret/n/lab/b/snapshots/o/etcd-dr/drill/20261205T061501Z-r1110/snapshot.db.zst.enc");
        assert.strictEqual(spawnSync("bash", ["-n"], { input: script }).status, 0);
        assert.match(script, /^printf 'url = "%s"\\n' 'http:\/\/10\.250\.0\.1:8280\/p\/secret\/.*' \| curl -fsS -K - -o /m);
        assert.match(script, /stop --timeout 0 \$\(crictl .* ps -q --name '\^kube-apiserver\$'\)/);
        assert.match(script, /printf "FLOOR %\.3f %\.3f %\.3f %\.3f\\n"/);
    });
});

