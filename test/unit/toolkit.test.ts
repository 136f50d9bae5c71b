import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kubeadmDifferences } from "../../lib/parity";
import { installFileScript, readToolkit, REMOTE_TIMER, removeFileScript, renderSettings, sha256, TIMER_UNIT, ToolkitSettings } from "../../lib/toolkit";

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

describe("toolkit settings", () => {
    it("renders a settings file the toolkit's shell reads back exactly", () => {
        const text = renderSettings(settings);
        assert.doesNotMatch(text, /ETCD_DR_READ_URL/, "unset values are left out");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-settings-"));
        const file = path.join(dir, "etcd-dr.env");
        fs.writeFileSync(file, text);
        // Read as the toolkit reads it: parsed, never sourced (review #23).
        const toolkit = path.resolve(__dirname, "..", "..", "node", "etcd-dr");
        const read = execFileSync(
            "bash",
            ["-c", `source "${toolkit}"; parse_settings "${file}"; printf '%s|%s|%s|%s' "$ETCD_DR_WRITE_URL" "$ETCD_DR_MEMBERS" "$ETCD_DR_ON_CALENDAR" "$ETCD_DR_RANDOMIZED_DELAY"`],
            { encoding: "utf8", env: { ...process.env, ETCD_DR_ENV: file } },
        );
        assert.strictEqual(read, `${settings.writeUrl}|cp1,cp2,cp3|*:0/15|60s`);
        fs.rmSync(dir, { recursive: true });
    });

    it("gives a worker neither the store's URLs nor the key file, only what a kubelet restart needs", () => {
        const worker = renderSettings({ ...settings, readUrl: "https://objectstorage.example.invalid/p/read/n/ns/b/bucket/o/" }, "worker");
        assert.doesNotMatch(worker, /ETCD_DR_WRITE_URL|ETCD_DR_READ_URL|ETCD_DR_ENCRYPTION_KEY_FILE|objectstorage/);
        assert.match(worker, /^ETCD_DR_CLUSTER='payments'$/m);
        assert.match(renderSettings(settings), /^ETCD_DR_ENCRYPTION_KEY_FILE=/m);
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

describe("toolkit layout on the node", () => {
    // What a replacement of a settings file does on the node: the new install, then the old
    // resource's delete (create-before-delete, review #29).
    it("installs a file atomically and removes it only while it holds what that install wrote", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-install-"));
        const file = path.join(dir, "etc-dr", "etcd-dr.env");
        const run = (script: string, stdin = "") => execFileSync("bash", ["-c", script], { input: stdin, encoding: "utf8" });
        const [old, next] = ["ETCD_DR_CLUSTER='old'\n", "ETCD_DR_CLUSTER='new'\n"];
        assert.strictEqual(run(installFileScript(file, "0600"), old), `installed ${file} sha256=${sha256(old)}\n`);
        run(installFileScript(file, "0600"), next);
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600);
        run(removeFileScript(file, sha256(old)));
        assert.strictEqual(fs.readFileSync(file, "utf8"), next, "the old resource's delete leaves the new content alone");
        run(removeFileScript(file, sha256(next)));
        assert.ok(!fs.existsSync(file), "destroying the resource removes its file");
        run(removeFileScript(file, sha256(next)));
        fs.rmSync(dir, { recursive: true });
    });


    it("installs the timer unit the program reads back", () => {
        const timer = fs.readFileSync(path.resolve(__dirname, "..", "..", "node", "lib", "timer.sh"), "utf8");
        assert.ok(timer.includes(`readonly UNIT_DIR=${path.posix.dirname(REMOTE_TIMER)}`), "node/lib/timer.sh writes units where the program looks");
        assert.ok(timer.includes(`"$UNIT_DIR/${TIMER_UNIT}"`), `node/lib/timer.sh writes ${TIMER_UNIT}`);
    });
});
