// The backup timer's install and removal on a node (node/lib/timer.sh), in real bash without the
// lab: the assembled toolkit is sourced, systemctl is stubbed and the unit files go to a temporary
// dir instead of /etc/systemd/system. What Pulumi runs for a BackupSchedule replacement is the new
// resource's create, then the old resource's delete (create-before-delete, review #29).
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readToolkit } from "../../lib/toolkitSource";

/** Single-quoted for bash. */
const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const OLD = "a".repeat(64);
const NEW = "b".repeat(64);

describe("the backup timer on a node: installed over the old one, removed only by the install that owns it (#29)", function () {
    this.timeout(60_000);
    let work: string;
    let toolkit: string;
    let units: string;
    let state: string;

    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-timer-"));
        toolkit = process.env.ETCD_DR_TOOLKIT ?? path.join(work, "etcd-dr");
        if (!process.env.ETCD_DR_TOOLKIT) fs.writeFileSync(toolkit, readToolkit(), { mode: 0o755 });
    });

    beforeEach(() => {
        units = fs.mkdtempSync(path.join(work, "units-"));
        state = fs.mkdtempSync(path.join(work, "state-"));
    });

    after(() => fs.rmSync(work, { recursive: true, force: true }));

    /** `etcd-dr <ARGS>` as the node runs it, with the schedule CALENDAR; its stdout, stderr and systemctl calls. */
    function etcdDr(args: string[], calendar = "*:0/15") {
        const script = [
            `source ${q(toolkit)}`,
            // Nothing reaches the host's systemd or its unit dir.
            `systemctl() { echo "systemctl $*" >>${q(path.join(state, "systemctl"))}; }`,
            "discover_etcd() { ETCD_VERSION=3.6.6; }",
            "require_etcd_tools() { :; }",
            `in_units() { local f=$1; [[ $f == /etc/systemd/system/* ]] && f=${q(units)}/\${f##*/}; echo "$f"; }`,
            "write_atomically() { local f; f=\"$(in_units \"$1\")\"; cat >\"$f.tmp\"; mv -f \"$f.tmp\" \"$f\"; }",
            "rm() { local a=() x; for x in \"$@\"; do a+=(\"$(in_units \"$x\")\"); done; command rm \"${a[@]}\"; }",
            `ETCD_DR_STATE_DIR=${q(state)} ETCD_DR_ON_CALENDAR=${q(calendar)} ETCD_DR_RANDOMIZED_DELAY=60s`,
            `case ${q(args[0])} in install-timer) cmd_install_timer ${args.slice(1).map(q).join(" ")} ;; remove-timer) cmd_remove_timer ${args.slice(1).map(q).join(" ")} ;; esac`,
        ].join("\n");
        const run = spawnSync("bash", ["-c", script], { encoding: "utf8", cwd: work, env: { ...process.env, INVOCATION_ID: "etcd-dr-unit-test", ETCD_DR_ENV: path.join(work, "unset.env") } });
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    }
    const ok = (args: string[], calendar?: string) => {
        const run = etcdDr(args, calendar);
        assert.strictEqual(run.status, 0, `${args.join(" ")}: ${run.stderr}`);
        return run.stdout;
    };
    const timer = () => path.join(units, "etcd-dr-backup.timer");
    const systemctl = () => (fs.existsSync(path.join(state, "systemctl")) ? fs.readFileSync(path.join(state, "systemctl"), "utf8").trimEnd().split("\n") : []);

    it("a replacement: the new install goes over the old timer and restarts it; the old delete leaves it; destroying removes it", () => {
        ok(["install-timer", "--owner", OLD], "*:0/15");
        ok(["install-timer", "--owner", NEW], "*:0/5");
        assert.match(fs.readFileSync(timer(), "utf8"), /^OnCalendar=\*:0\/5$/m, "the new schedule is in place");
        assert.ok(systemctl().filter((c) => c === "systemctl restart etcd-dr-backup.timer").length === 2, "restarted, so the running timer takes the new schedule");
        assert.match(ok(["remove-timer", "--owner", OLD]), /^etcd-dr-backup\.timer left in place: a later install owns it now/);
        assert.ok(fs.existsSync(timer()), "the old resource's delete must leave the new timer");
        assert.ok(!systemctl().some((c) => c.startsWith("systemctl disable")), "and must not stop it");
        assert.match(ok(["remove-timer", "--owner", NEW]), /^etcd-dr-backup\.timer removed$/m);
        assert.ok(!fs.existsSync(timer()) && !fs.existsSync(path.join(units, "etcd-dr-backup.service")));
        assert.ok(!fs.existsSync(path.join(state, "backup-timer.owner")), "nothing owns a removed timer");
    });

    it("a delete of an older toolkit's install, which names no owner, leaves a timer an owner installed since; --force removes it", () => {
        ok(["install-timer", "--owner", NEW]);
        ok(["remove-timer"]);
        assert.ok(fs.existsSync(timer()));
        ok(["remove-timer", "--force"]);
        assert.ok(!fs.existsSync(timer()));
    });

    it("by hand, with no owner anywhere, install and remove work as before", () => {
        ok(["install-timer"]);
        assert.ok(fs.existsSync(timer()));
        assert.ok(!fs.existsSync(path.join(state, "backup-timer.owner")));
        ok(["remove-timer"]);
        assert.ok(!fs.existsSync(timer()));
    });

    it("refuses an owner that is no token, with one line", () => {
        const run = etcdDr(["install-timer", "--owner", "a b"]);
        assert.strictEqual(run.status, 1);
        assert.strictEqual(run.stderr, "etcd-dr: ERROR: --owner needs a token (letters, digits, . _ : -)\n");
        assert.ok(!fs.existsSync(timer()), "no unit written");
    });
});
