import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kubeadmDifferences } from "../../lib/parity";
import { parseTimings, parseVerifiedRevision, readToolkit, renderSettings, summarizeTimings, timedCommand, ToolkitSettings } from "../../lib/toolkit";

const settings: ToolkitSettings = {
    cluster: "payments",
    prefix: "etcd",
    members: ["cp1", "cp2", "cp3"],
    kubernetesVersion: "1.31.4",
    writeUrl: "https://objectstorage.example.invalid/p/it's-secret/n/ns/b/bucket/o/",
    onCalendar: "*:0/15",
    randomizedDelaySec: 60,
    compression: "gzip",
};

describe("toolkit settings and restore reports", () => {
    it("renders a settings file the toolkit's shell reads back exactly", () => {
        const text = renderSettings(settings);
        assert.doesNotMatch(text, /ETCD_DR_READ_URL/, "unset values are left out");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-settings-"));
        const file = path.join(dir, "etcd-dr.env");
        fs.writeFileSync(file, text);
        const read = execFileSync("bash", ["-c", `set -euo pipefail; source "${file}"; printf '%s|%s|%s|%s' "$ETCD_DR_WRITE_URL" "$ETCD_DR_MEMBERS" "$ETCD_DR_ON_CALENDAR" "$ETCD_DR_RANDOMIZED_DELAY"`], { encoding: "utf8" });
        assert.strictEqual(read, `${settings.writeUrl}|cp1,cp2,cp3|*:0/15|60s`);
        fs.rmSync(dir, { recursive: true });
    });

    it("wraps a phase so it reports its timing, and fails when the phase fails", () => {
        const ok = execFileSync("bash", ["-c", timedCommand("apply", "cp2", "echo applied")], { encoding: "utf8" });
        const timings = parseTimings(ok);
        assert.strictEqual(timings.length, 1);
        assert.strictEqual(timings[0].phase, "apply");
        assert.ok(timings[0].end >= timings[0].start);
        assert.throws(() => execFileSync("bash", ["-c", timedCommand("apply", "cp2", "false")], { stdio: "pipe" }));
    });

    it("summarizes phase wall times across nodes", () => {
        const report = summarizeTimings([
            { phase: "prepare", node: "cp1", start: 100, end: 103 },
            { phase: "prepare", node: "cp2", start: 100.5, end: 104 },
            { phase: "verify", node: "cp1", start: 110, end: 112.25 },
        ]);
        assert.deepStrictEqual(report.phaseSeconds, { prepare: 4, verify: 2.25 });
        assert.strictEqual(report.durationSeconds, 12.25);
        assert.strictEqual(report.startTime, "1970-01-01T00:01:40.000Z");
        assert.throws(() => summarizeTimings([]), /no restore phase/);
    });

    it("reads the restored revision from verify's report", () => {
        assert.strictEqual(parseVerifiedRevision("verified snapshot 20261121T170053Z-r3: members cp1,cp2,cp3 healthy, revision 7 (snapshot 3)\n"), 7);
        assert.strictEqual(parseVerifiedRevision("something else"), undefined);
    });

    it("ships a toolkit that prints its own usage and refuses unknown commands with one line", () => {
        assert.match(readToolkit(), /^#!\/usr\/bin\/env bash\n/);
        const cwd = path.resolve(__dirname, "..", "..");
        const help = execFileSync("bash", ["node/etcd-dr", "help"], { encoding: "utf8", cwd });
        assert.match(help, /etcd-dr restore prepare ID/);
        const run = (args: string[]) => spawnSync("bash", ["node/etcd-dr", ...args], { encoding: "utf8", cwd, env: { ...process.env, ETCD_DR_ENV: "/nonexistent/etcd-dr.env" } });
        const unknown = run(["frobnicate"]);
        assert.strictEqual(unknown.status, 1);
        assert.strictEqual(unknown.stderr, "etcd-dr: ERROR: unknown command 'frobnicate'; run `etcd-dr help`\n");
        const noSettings = run(["list"]);
        assert.strictEqual(noSettings.status, 1);
        assert.match(noSettings.stderr, /^etcd-dr: ERROR: settings file \/nonexistent\/etcd-dr.env is missing; it is written by Pulumi/);
    });

    it("names every kubeadm-config difference between the sites", () => {
        const primary = "kubernetesVersion: v1.31.4\nnetworking:\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\netcd:\n  local:\n    dataDir: /var/lib/etcd\n    imageTag: 3.5.15-0\n";
        assert.deepStrictEqual(kubeadmDifferences(primary, primary), []);
        const standby = primary.replace("v1.31.4", "v1.31.2").replace("3.5.15-0", "3.5.12-0");
        assert.deepStrictEqual(kubeadmDifferences(primary, standby), [
            "kubeadm-config kubernetesVersion: primary runs v1.31.4, standby runs v1.31.2",
            "kubeadm-config etcd image: primary runs 3.5.15-0, standby runs 3.5.12-0",
        ]);
    });
});
