// The mission end to end, offline: the drill (both lab sites built from nothing as kubeadm clusters
// by the real engine, failover by config, re-failover by a new id), then drift detection and
// repair, then destroy and the local cloud's teardown.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as path from "path";
import { DrillSummary, engineEnv, Pulumi, ROOT, runDrill, STACKS } from "../../tools/drill";
import { foreignServiceAccountKeys, presentToken } from "../../tools/k8sDataset";
import { LabAccess, waitFor } from "../../tools/lab";
import { checkRestoredRange } from "../../tools/podRanges";
import { promoteStandby } from "../../tools/promote";
import { hostNames, labFromStacks, parseTopology } from "../../tools/labStacks";

// Two 1+1 sites by default, to keep `make test` inside CI's time; `make drill` runs 3+1 and
// ETCD_DR_DRILL_TOPOLOGY=3+1 runs this test so. Either way the drill gives the standby's worker
// another pod range than the primary's, the case a site whose nodes registered in another order
// meets (issue 12: one 3+1 run in CI failed there on 2026-12-05; the e2e of b8a312c saw the rolled
// pods take the old range from flannel's file, left behind on a worker that had no bridge yet).
const TOPOLOGY = parseTopology(process.env.ETCD_DR_DRILL_TOPOLOGY ?? "1+1");
const NAMES = hostNames(TOPOLOGY);
// Drift made by hand on two control-plane nodes (the same one on a single-node control plane).
const DISABLED = NAMES.controlPlane[1] ?? NAMES.controlPlane[0];
const EDITED = NAMES.controlPlane[2] ?? NAMES.controlPlane[0];

describe("end-to-end DR drill on the lab", function () {
    this.timeout(1_800_000);
    let summary: DrillSummary;
    let pulumi: Pulumi;
    let lab: LabAccess;

    before(async () => {
        summary = await runDrill({ keys: 3000, bigValues: 6, topology: TOPOLOGY, log: (line) => process.stdout.write(`      drill: ${line}\n`) });
        pulumi = new Pulumi(engineEnv());
        lab = new LabAccess(labFromStacks(pulumi));
        process.stdout.write(`      ${JSON.stringify(summary)}\n`);
    });

    after(() => {
        if (pulumi) {
            for (const stack of [STACKS.standby, STACKS.primary]) {
                pulumi.run(["destroy", "--stack", stack, "--yes", "--skip-preview", "--run-program"]);
                pulumi.run(["stack", "rm", stack, "--yes"]);
            }
        }
        execFileSync(path.join(ROOT, "lab", "cloud.sh"), ["down"], { stdio: "inherit" });
    });

    it("failed over twice, to scheduled snapshots, with every key verified", () => {
        assert.strictEqual(summary.drill, "passed");
        assert.ok(summary.snapshots.second > summary.snapshots.first, "the second snapshot is newer");
        assert.ok(summary.keysVerified.first >= 3006 && summary.keysVerified.second > summary.keysVerified.first);
        for (const which of ["first", "second"] as const) {
            assert.ok(summary.rpoSeconds[which] >= 0 && summary.rpoSeconds[which] < 120, `RPO ${summary.rpoSeconds[which]}`);
            assert.ok(summary.rtoSeconds[which] > 0);
            assert.deepStrictEqual(Object.keys(summary.restorePhaseSeconds[which]).sort(),
                ["apply", "prepare", "reconcile", "restart-kubelet", "start", "stop", "verify"]);
        }
    });

    it("built both sites as kubeadm clusters on instances that behave like the OCI image", () => {
        for (const site of ["primary", "standby"] as const) {
            const checked = summary.sites[site];
            assert.deepStrictEqual(checked.nodesReady, [...NAMES.controlPlane, ...NAMES.workers], `${site}: kubectl get nodes`);
            // CoreDNS x2, and per node kube-proxy; per control-plane node etcd, apiserver, controller-manager, scheduler.
            assert.ok(checked.kubeSystemPods >= 2 + NAMES.workers.length + NAMES.controlPlane.length * 5, `${site}: ${checked.kubeSystemPods} kube-system pods`);
            assert.strictEqual(checked.rootLoginRefused, NAMES.controlPlane.length + NAMES.workers.length, `${site}: root SSH refused on every node`);
            assert.strictEqual(checked.imageFirewall, NAMES.controlPlane.length + NAMES.workers.length, `${site}: REJECT rules on every node`);
        }
    });

    it("each time, the standby was the primary's cluster: objects and UIDs, tokens, nodes, workloads", () => {
        for (const which of ["first", "second"] as const) {
            const kube = summary.kubernetes[which];
            assert.match(kube.version, /^v1\.\d+\.\d+$/);
            assert.deepStrictEqual(kube.nodesReady, [...NAMES.controlPlane, ...NAMES.workers]);
            // Per generation: namespace, CRD, 2 Secrets, ConfigMap, ServiceAccount, Role, RoleBinding,
            // 3 Widgets, Deployment, DaemonSet; a bound and a legacy token; 2 replicas + one pod per node.
            const generations = which === "first" ? 1 : 2;
            assert.strictEqual(kube.objectsVerified, 13 * generations);
            assert.strictEqual(kube.tokensAccepted, 2 * generations);
            assert.ok(kube.podsRunning >= generations * (2 + NAMES.controlPlane.length + NAMES.workers.length), `${kube.podsRunning} pods`);
        }
    });

    it("each time, the standby's worker whose pod range differed took the restored range: flannel and its pods", async () => {
        const skew = summary.podRangeSkew;
        assert.ok(skew, "the drill gave a standby worker another pod range");
        assert.strictEqual(skew.node, NAMES.workers.at(-1));
        assert.notStrictEqual(skew.after, skew.other, "the standby's range differed from the primary's before the failovers");
        // checkRestoredRange ran after each failover (the drill throws otherwise); once more, now:
        await checkRestoredRange(lab, "standby", skew, 60_000);
    });

    it("the token check fails when the standby's apiserver lacks the primary's service-account keys", async () => {
        const node = NAMES.controlPlane[0];
        const token = { kind: "bound" as const, namespace: "drill-g1", token: lab.kubectl("primary", "-n drill-g1 create token reader --duration 1h").trim() };
        assert.strictEqual(presentToken(lab, "standby", token), "accepted");
        const putBack = foreignServiceAccountKeys(lab, "standby", node);
        try {
            await waitFor("the standby's apiserver to reject the primary's token", 180_000, () => presentToken(lab, "standby", token) === "rejected" || undefined);
        } finally {
            putBack();
        }
        await waitFor("the standby's apiserver to accept it again with the carried keys", 180_000, () => presentToken(lab, "standby", token) === "accepted" || undefined);
    });

    it("replaced the whole restore chain when the id changed", () => {
        // every control-plane node x (prepare, stop, apply, start) + verify + every node's kubelet + reconcile
        assert.strictEqual(summary.chainReplaced, NAMES.controlPlane.length * 4 + 1 + NAMES.controlPlane.length + NAMES.workers.length + 1);
    });

    it("records the restore in the standby's outputs", () => {
        const restore = pulumi.outputs(STACKS.standby).restore as { snapshotId: string; restoredRevision: number; durationSeconds: number };
        assert.strictEqual(restore.snapshotId, summary.snapshots.second);
        assert.ok(restore.restoredRevision >= Number(summary.snapshots.second.split("-r")[1]));
        assert.ok(restore.durationSeconds > 0);
    });

    it("lists both snapshots from the standby's replica, verified, newest first", () => {
        const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "tools/snapshots.ts", STACKS.standby, "--json", "--verify", "all"], {
            cwd: ROOT,
            env: { ...process.env, ...pulumi.env },
            encoding: "utf8",
        });
        assert.strictEqual(run.status, 0, run.stderr);
        const listed = JSON.parse(run.stdout) as { id: string; verified: string; revision: number; sizeBytes: number }[];
        const ids = listed.map((s) => s.id);
        assert.ok(ids.indexOf(summary.snapshots.second) < ids.indexOf(summary.snapshots.first) && ids.indexOf(summary.snapshots.first) >= 0, ids.join(" "));
        for (const snapshot of listed.filter((s) => [summary.snapshots.first, summary.snapshots.second].includes(s.id))) {
            assert.strictEqual(snapshot.verified, "yes", `${snapshot.id}: ${snapshot.verified}`);
            assert.ok(snapshot.sizeBytes > 1_000_000, `${snapshot.id} holds the data set: ${snapshot.sizeBytes} bytes`);
        }
    });

    it("sees a timer disabled by hand and a toolkit edited by hand, with a readable diff", () => {
        lab.ok("primary", DISABLED, "systemctl disable --now etcd-dr-backup.timer");
        lab.ok("primary", EDITED, "echo '# edited by hand' >> /usr/local/sbin/etcd-dr");
        const preview = pulumi.run(["preview", "--stack", STACKS.primary, "--refresh", "--run-program", "--expect-no-changes", "--diff"]);
        assert.notStrictEqual(preview.status, 0, "drift must fail --expect-no-changes");
        assert.match(preview.stdout, /~ timer\s*: "enabled active" => "disabled inactive"/);
        assert.match(preview.stdout, /~ toolkitSha256: "[0-9a-f]{64}" => "[0-9a-f]{64}"/);
        assert.match(preview.stdout, new RegExp(`lab-primary-installed-${DISABLED}`));
        assert.match(preview.stdout, new RegExp(`lab-primary-installed-${EDITED}`));
    });

    it("puts the installation back on pulumi up, after which the site previews clean", () => {
        pulumi.ok(["up", "--stack", STACKS.primary, "--refresh", "--yes", "--skip-preview"]);
        assert.strictEqual(lab.ok("primary", DISABLED, "systemctl is-enabled etcd-dr-backup.timer").trim(), "enabled");
        assert.doesNotMatch(lab.ok("primary", EDITED, "tail -n1 /usr/local/sbin/etcd-dr"), /edited by hand/);
        pulumi.ok(["preview", "--stack", STACKS.primary, "--refresh", "--run-program", "--expect-no-changes"]);
        pulumi.ok(["preview", "--stack", STACKS.standby, "--refresh", "--run-program", "--expect-no-changes"]);
    });

    it("promotes the standby once the primary's region is lost: no restore re-run, its own bucket takes its backups (F08)", async () => {
        const promoted = await promoteStandby(pulumi, lab, (line) => process.stdout.write(`      promote: ${line}\n`));
        process.stdout.write(`      ${JSON.stringify(promoted)}\n`);
        assert.strictEqual(promoted.restoreStepsRerun, 0);
        assert.deepStrictEqual(promoted.timers, NAMES.controlPlane);
        assert.ok(Number(promoted.snapshot.split("-r")[1]) > 1_000_000_000, `${promoted.snapshot} is the standby's own (its revisions were bumped past 10^9)`);
        pulumi.ok(["preview", "--stack", STACKS.standby, "--refresh", "--run-program", "--expect-no-changes"]);
    });

    it("destroys both stacks: every instance of both sites is gone", () => {
        pulumi.ok(["destroy", "--stack", STACKS.standby, "--yes", "--skip-preview", "--run-program"]);
        pulumi.ok(["destroy", "--stack", STACKS.primary, "--yes", "--skip-preview", "--run-program"]);
        const left = JSON.parse(execFileSync(path.join(ROOT, "lab", "instance.sh"), ["list", "--json"], { encoding: "utf8" })) as unknown[];
        assert.deepStrictEqual(left, []);
    });
});
