// The failover's last step on the lab, as runbook step 2-3 do it with `promote: true`: the primary's
// region is gone (its backup timers stopped), the standby that restored a snapshot becomes the active
// site. What must hold afterwards (review F08): the restore chain is not run again, the standby's own
// bucket takes writes (MakeBucketWritable from its own region), every control-plane node has the
// backup timer, and a backup of the standby's restored data lands in its bucket.
//
//   npx ts-node --transpile-only tools/promote.ts    (on the sites `make drill` leaves up)
import { restoreSteps, waitForSnapshot } from "./drill";
import { LabAccess } from "./lab";
import { labFromStacks, STACKS } from "./labStacks";
import { engineEnv, Pulumi } from "./pulumiCli";

export interface Promoted {
    /** The standby's own backup, made after the promotion, of data written to it after the promotion. */
    snapshot: string;
    timers: string[];
    restoreStepsRerun: number;
    upSeconds: number;
}

export async function promoteStandby(pulumi: Pulumi, lab: LabAccess, log: (line: string) => void): Promise<Promoted> {
    const controlPlane = (site: "primary" | "standby") => lab.controlPlane(site).map((n) => n.name);
    log("the primary's region is down: its backup timers stop");
    for (const node of controlPlane("primary")) lab.ok("primary", node, "systemctl disable --now etcd-dr-backup.timer");

    const restored = pulumi.outputs(STACKS.standby).restore as { snapshotId: string } | undefined;
    if (!restored) throw new Error("the standby has restored nothing: promote follows a failover");
    log(`pulumi up lab-standby with promote: true (after ${restored.snapshotId})`);
    pulumi.ok(["config", "set", "--stack", STACKS.standby, "promote", "true"]);
    const started = Date.now();
    const up = pulumi.ok(["up", "--stack", STACKS.standby, "--yes", "--skip-preview"]);
    const upSeconds = Math.round((Date.now() - started) / 100) / 10;
    if (!/make-writable\s+created/.test(up)) throw new Error(`the promotion made no bucket writable:\n${up}`);
    const rerun = restoreSteps(up, ["replaced", "created", "updated"]);
    if (rerun.length > 0) throw new Error(`the promotion ran restore steps again:\n${rerun.join("\n")}`);

    const timers = controlPlane("standby").filter((node) =>
        lab.ssh("standby", node, "systemctl is-enabled etcd-dr-backup.timer && systemctl is-active etcd-dr-backup.timer").status === 0);
    if (timers.length !== controlPlane("standby").length) {
        throw new Error(`backup timers on ${timers.join(" ") || "no node"} of the standby's ${controlPlane("standby").join(" ")}`);
    }
    // Nothing reaches the standby's bucket from the primary now, so a snapshot at this revision is its own.
    const revision = Number(lab.etcdctl("standby", "cp1", "put /registry/etcd-dr-drill/promoted yes -w fields")
        .split("\n").find((l) => l.startsWith("\"Revision\""))?.split(" : ")[1]);
    log(`standby at revision ${revision}; waiting for its own backup in its own bucket`);
    const snapshot = await waitForSnapshot(lab, revision, 240_000);
    if (lab.ssh("standby", "cp1", `etcd-dr verify ${snapshot}`).status !== 0) {
        throw new Error(`the standby's backup ${snapshot} does not verify`);
    }
    return { snapshot, timers, restoreStepsRerun: rerun.length, upSeconds };
}

if (require.main === module) {
    const pulumi = new Pulumi(engineEnv());
    promoteStandby(pulumi, new LabAccess(labFromStacks(pulumi)), (line) => process.stdout.write(`promote: ${line}\n`))
        .then((promoted) => process.stdout.write(`${JSON.stringify(promoted)}\n`))
        .catch((error: Error) => {
            process.stderr.write(`promote: FAILED: ${error.message}\n`);
            process.exit(1);
        });
}
