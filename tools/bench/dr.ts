// Bench section "dr": backup, restore and failover on the lab's real kubeadm sites, each beside the
// floor measured in the same run on the same node.
//
//   backup-<size>-time / -peak-memory / -stored   `etcd-dr backup` on the primary's leader: wall
//       time, peak anonymous memory of the toolkit and every process it starts (summed over its
//       session, sampled every 50 ms; resident memory with mapped files in the detail), bytes stored; floor: `etcdctl snapshot save` and `curl -T` of the
//       same bytes to the same store, on the same node, sampled the same way.
//   failover-<size>[-with-preview]   `pulumi up --skip-preview` (and `pulumi up` with its
//       preview) of the standby with a new restoreSnapshot, 3 members; floor: what the members
//       cannot do without -- each downloads the snapshot and `etcdutl snapshot restore`s it, and
//       all restart etcd to healthy and the apiserver to /readyz at once -- measured on the
//       standby's control plane after the failover (restoreFloor).
//   restore-<size>-<phase>   each restore phase's time as the failover recorded it (no floor: the
//       failover line has it).
//
// Sizes: BENCH_SIZES_MB (default "100,1000"): the primary's etcd is filled with incompressible
// 1 MiB values up to each size in turn. The section builds the drill's 3+1 sites from nothing
// (lab/cloud.sh down first), stops the primary's backup timers so that nothing but the bench saves,
// and takes everything down at the end.

import { execFileSync, spawn } from "child_process";
import * as path from "path";
import { failover } from "../drill";
import { LabAccess, Site } from "../lab";
import { labFromStacks, parseTopology, readSupply, STACKS, writeLabStacks } from "../labStacks";
import { SNAPSHOT_ID } from "../../lib/snapshot";
import { engineEnv, Pulumi, ROOT } from "../pulumiCli";
import { Measurement, round, SectionContext, toMiB } from "./measure";

const CLOUD_SH = path.join(ROOT, "lab", "cloud.sh");
const VALUE_BYTES = 1024 * 1024;

/**
 * Runs `command` on the node in a session of its own and samples the session's summed memory every
 * 50 ms: the toolkit is bash plus the etcdctl, etcdutl, openssl and curl it starts, and no one of
 * them is the whole. Two sums: anonymous memory (RssAnon, what the processes hold themselves) and
 * resident memory (VmRSS), which also counts the pages of files they map -- bbolt maps the whole
 * database, and those pages are page cache the kernel takes back under pressure. The last line is
 * "BENCH <status> <seconds> <peak anonymous KiB> <peak resident KiB>".
 */
export function sampled(command: string): string {
    return [
        "set -u",
        `setsid bash -c '${command.replace(/'/g, "'\\''")}' >/tmp/bench.out 2>&1 &`,
        "pid=$! anon=0 rss=0 start=$(date +%s.%N)",
        "while kill -0 $pid 2>/dev/null; do",
        "  read -r a r < <(ps -o pid= -s $pid | sed 's#[^0-9]##g; s#.*#/proc/&/status#' | xargs -r cat 2>/dev/null |",
        "    awk '/^RssAnon:/ { a += $2 } /^VmRSS:/ { r += $2 } END { print a + 0, r + 0 }')",
        "  (( a > anon )) && anon=$a",
        "  (( r > rss )) && rss=$r",
        "  sleep 0.05",
        "done",
        "wait $pid; status=$?",
        "end=$(date +%s.%N)",
        "cat /tmp/bench.out",
        "echo \"BENCH $status $(awk -v a=$start -v b=$end 'BEGIN { printf \"%.3f\", b - a }') $anon $rss\"",
    ].join("\n");
}

export interface SampledRun {
    output: string;
    seconds: number;
    /** Peak of the session's summed anonymous memory. */
    peakBytes: number;
    /** Peak of its summed resident memory, mapped file pages included. */
    peakResidentBytes: number;
}

export function parseSampled(text: string): SampledRun {
    const lines = text.trimEnd().split("\n");
    const match = /^BENCH (\d+) ([\d.]+) (\d+) (\d+)$/.exec(lines[lines.length - 1] ?? "");
    if (!match) throw new Error(`no BENCH line in:\n${text}`);
    const output = lines.slice(0, -1).join("\n");
    if (match[1] !== "0") throw new Error(`the measured command exited ${match[1]}:\n${output}`);
    return { output, seconds: round(Number(match[2]), 2), peakBytes: Number(match[3]) * 1024, peakResidentBytes: Number(match[4]) * 1024 };
}

function run(lab: LabAccess, site: Site, node: string, command: string): SampledRun {
    return parseSampled(lab.ok(site, node, sampled(command)));
}

interface MemberStatus {
    Endpoint: string;
    Status: { header: { member_id: number }; leader: number; dbSize: number };
}

/** The node whose etcd leads the site, and the database's size. */
function leader(lab: LabAccess, site: Site): { node: string; dbSize: number } {
    const cp = lab.controlPlane(site);
    const statuses = JSON.parse(lab.etcdctl(site, cp[0].name, "endpoint status --cluster -w json")) as MemberStatus[];
    const lead = statuses.find((s) => s.Status.header.member_id === s.Status.leader);
    if (!lead) throw new Error(`no etcd leader on ${site}`);
    const address = new URL(lead.Endpoint).hostname;
    const node = cp.find((n) => n.address === address);
    if (!node) throw new Error(`the leader ${lead.Endpoint} is no control-plane node of ${site}`);
    return { node: node.name, dbSize: lead.Status.dbSize };
}

/** Adds incompressible 1 MiB values (base64 of random bytes) to the primary's etcd until it holds `count`. */
function fill(lab: LabAccess, from: number, count: number): void {
    const node = lab.controlPlane("primary")[0].name;
    lab.ok("primary", node, `for i in $(seq ${from + 1} ${count}); do head -c ${(VALUE_BYTES * 3) / 4} /dev/urandom | base64 -w0 | `
        + `${LabAccess.ETCDCTL} put /bench/value-$i >/dev/null; done`);
}

interface StoreOutputs {
    prefix: string;
    writeUrl?: string;
    readUrl?: string;
}

function store(pulumi: Pulumi, stack: string): StoreOutputs {
    return pulumi.outputs(stack).snapshotStore as StoreOutputs;
}

/** The floor of a backup: the same bytes saved and uploaded with nothing around them. */
function backupFloor(lab: LabAccess, url: string, node: string, tag: string): SampledRun {
    // The URL goes to curl in a config on stdin, as the toolkit gives it (never in a process's arguments).
    return run(lab, "primary", node, [
        "set -euo pipefail",
        "f=/var/lib/etcd-dr/bench-floor.db",
        `${LabAccess.ETCDCTL} snapshot save $f >/dev/null`,
        `printf 'url = "%s"\\n' '${url}bench-floor/${tag}' | curl -fsS -T $f -K - -o /dev/null`,
        "rm -f $f",
    ].join("; "));
}

const FLOOR_PARTS = ["download", "etcdutlRestore", "etcdHealthy", "apiserverReady"] as const;
export type FloorParts = Record<(typeof FLOOR_PARTS)[number], number>;

/**
 * One member's share of the restore floor, run on every control-plane node at once: download the
 * snapshot's database object, `etcdutl snapshot restore` a database of the same size (into a
 * scratch dir), then etcd and the apiserver restarted through the runtime -- all members at once,
 * as a restore restarts them -- until etcd is healthy and the apiserver's /readyz says ok. Its last
 * line is "FLOOR <download> <restore> <healthy> <ready>", in seconds.
 */
export function memberFloorScript(downloadUrl: string): string {
    const crictl = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock";
    return [
        "set -euo pipefail",
        "now() { date +%s.%N; }",
        "t0=$(now)",
        // The URL goes to curl in a config on stdin, as the toolkit gives it.
        `printf 'url = "%s"\\n' '${downloadUrl}' | curl -fsS -K - -o /var/lib/etcd-dr/bench-download`,
        "t1=$(now)",
        "d=/var/lib/etcd/bench-floor-restore; rm -rf $d",
        "etcdutl snapshot restore /var/lib/etcd-dr/bench-plain.db --data-dir $d --bump-revision 1000000000 --mark-compacted >/dev/null 2>&1",
        "t2=$(now)",
        "rm -rf $d /var/lib/etcd-dr/bench-download /var/lib/etcd-dr/bench-plain.db",
        // The apiserver keeps no state: killed at once, as the restore's stop does after its grace.
        `${crictl} stop --timeout 0 $(${crictl} ps -q --name '^kube-apiserver$') >/dev/null`,
        `${crictl} stop $(${crictl} ps -q --name '^etcd$') >/dev/null`,
        `until ${LabAccess.ETCDCTL} endpoint health >/dev/null 2>&1; do sleep 0.1; done`,
        "t3=$(now)",
        `until [ "$(curl -sk --max-time 2 https://127.0.0.1:6443/readyz 2>/dev/null)" = ok ]; do sleep 0.1; done`,
        "t4=$(now)",
        `awk -v a=$t0 -v b=$t1 -v c=$t2 -v d=$t3 -v e=$t4 'BEGIN { printf "FLOOR %.3f %.3f %.3f %.3f\\n", b - a, c - b, d - c, e - d }'`,
    ].join("\n");
}

/**
 * The members' FLOOR lines: each part is the slowest member's, and the floor is the slowest
 * member's sum (they run at once, so the restore is done when the last one is).
 */
export function parseFloor(outputs: string[]): { seconds: number; parts: FloorParts } {
    const members = outputs.map((text) => {
        const match = /^FLOOR ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)$/m.exec(text);
        if (!match) throw new Error(`a member's floor printed no FLOOR line:\n${text}`);
        return match.slice(1).map(Number);
    });
    if (members.length === 0) throw new Error("no member measured the floor");
    const parts = Object.fromEntries(FLOOR_PARTS.map((name, i) => [name, round(Math.max(...members.map((m) => m[i])), 2)])) as FloorParts;
    return { seconds: round(Math.max(...members.map((m) => m.reduce((a, b) => a + b, 0))), 2), parts };
}

/** Runs `script` as root on every node at once (bash reads it from stdin) and returns each one's stdout. */
function onEachAtOnce(lab: LabAccess, site: Site, nodes: string[], script: string): Promise<string[]> {
    return Promise.all(nodes.map((name) => new Promise<string>((resolve, reject) => {
        const child = spawn("ssh", [...lab.sshArgs(lab.node(site, name).address, lab.lab.user), "sudo -n /bin/bash -s"], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${site}/${name}: the floor exited ${code}: ${stderr.trim()}`))));
        child.stdin.end(script);
    })));
}

/**
 * The floor of a restore on the standby's control plane after a failover: every member downloads
 * the snapshot's database object and restores a database of the same size, and all restart etcd
 * and the apiserver, at once (memberFloorScript). On this machine the members share its cores, so
 * the floor includes what their starts cost each other, as the failover does.
 */
async function restoreFloor(lab: LabAccess, replica: StoreOutputs, id: string): Promise<{ seconds: number; parts: FloorParts }> {
    const nodes = lab.controlPlane("standby").map((n) => n.name);
    const url = `${replica.readUrl}${replica.prefix}`;
    const manifest = JSON.parse(lab.ok("standby", nodes[0], `printf 'url = "%s"\\n' '${url}${id}/manifest.json' | curl -fsS -K -`)) as { objects: { name: string }[] };
    const object = manifest.objects.find((o) => o.name.startsWith("snapshot.db"));
    if (!object) throw new Error(`snapshot ${id} has no database object`);
    // The plain database each member restores, saved first: its time is not part of a restore.
    for (const node of nodes) lab.ok("standby", node, `${LabAccess.ETCDCTL} snapshot save /var/lib/etcd-dr/bench-plain.db >/dev/null`);
    return parseFloor(await onEachAtOnce(lab, "standby", nodes, memberFloorScript(`${url}${id}/${object.name}`)));
}

/** The id `etcd-dr backup` prints on stdout once the snapshot is committed (its last line). */
export function committedId(output: string): string {
    const id = output.trimEnd().split("\n").at(-1)?.trim() ?? "";
    if (!SNAPSHOT_ID.test(id)) throw new Error(`etcd-dr backup printed no snapshot id as its last line:\n${output}`);
    return id;
}

function listed(lab: LabAccess, node: string): { id: string; sizeBytes: number }[] {
    return JSON.parse(lab.ok("standby", node, "etcd-dr list --json")) as { id: string; sizeBytes: number }[];
}

/** Waits until the standby lists snapshot `id` as committed (every object replicated). */
async function replicated(lab: LabAccess, node: string, id: string): Promise<void> {
    for (let waited = 0; !listed(lab, node).some((s) => s.id === id); waited++) {
        if (waited > 600) throw new Error(`snapshot ${id} did not reach the replica in 10 minutes`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

export async function dr(context: SectionContext): Promise<Measurement[]> {
    const sizes = (process.env.BENCH_SIZES_MB ?? "100,1000").split(",").map(Number);
    if (sizes.some((s) => !Number.isInteger(s) || s < 1) || sizes.some((s, i) => i > 0 && s <= sizes[i - 1])) {
        throw new Error(`BENCH_SIZES_MB '${process.env.BENCH_SIZES_MB}' must be growing whole numbers of MB, e.g. 100,1000`);
    }
    const pulumi = new Pulumi(engineEnv());
    const measurements: Measurement[] = [];
    // On stderr as each is made: a run that fails later still shows what it measured.
    const measured = (...made: Measurement[]) => {
        for (const m of made) context.progress(`measured ${m.name}: ${m.figure} ${m.unit}${m.floor === null ? "" : ` (floor ${m.floor})`}`);
        measurements.push(...made);
    };
    context.progress("a fresh local cloud and the drill's 3+1 sites (minutes)");
    execFileSync(CLOUD_SH, ["down"], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync(CLOUD_SH, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
    try {
        writeLabStacks(pulumi, { topology: parseTopology("3+1"), supply: readSupply(), clusterName: "bench" });
        for (const stack of [STACKS.primary, STACKS.standby]) pulumi.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
        const lab = new LabAccess(labFromStacks(pulumi));
        const source = store(pulumi, STACKS.primary);
        const replica = store(pulumi, STACKS.standby);
        if (!source.writeUrl || !replica.readUrl) throw new Error("the lab stacks have no store URLs in their outputs");
        for (const node of lab.controlPlane("primary")) lab.ok("primary", node.name, "systemctl stop etcd-dr-backup.timer");
        let values = 0;
        for (const [i, size] of sizes.entries()) {
            const label = size >= 1000 ? `${size / 1000}g` : `${size}m`;
            context.progress(`filling the primary's etcd to ${size} MB of values`);
            fill(lab, values, size);
            values = size;
            const lead = leader(lab, "primary");
            context.progress(`backup of a ${toMiB(lead.dbSize)} MiB database on ${lead.node}`);
            const backup = run(lab, "primary", lead.node, "etcd-dr backup");
            const id = committedId(backup.output);
            // Under the cluster's prefix, the only names the write PAR covers (the lab store answers 404 elsewhere, as OCI does).
            const floor = backupFloor(lab, `${source.writeUrl}${source.prefix}`, lead.node, `${label}-${i}`);
            // The replica must hold it before the standby can restore it. Only the standby's nodes
            // can list (the primary's have a write PAR and no read PAR), so the stored size comes from there.
            const standbyCp = lab.controlPlane("standby")[0].name;
            await replicated(lab, standbyCp, id);
            const stored = listed(lab, standbyCp).find((s) => s.id === id);
            if (!stored) throw new Error(`snapshot ${id} is not in the standby's listing`);
            const detail = { databaseBytes: lead.dbSize, snapshot: id, node: lead.node };
            measured(
                { name: `backup-${label}-time`, figure: backup.seconds, floor: floor.seconds, unit: "s", detail },
                { name: `backup-${label}-peak-memory`, figure: toMiB(backup.peakBytes), floor: toMiB(floor.peakBytes), unit: "MiB",
                    detail: { ...detail, of: "anonymous memory of the session", residentMiB: toMiB(backup.peakResidentBytes), floorResidentMiB: toMiB(floor.peakResidentBytes) } },
                { name: `backup-${label}-stored`, figure: stored.sizeBytes, floor: lead.dbSize, unit: "bytes", detail },
            );
            context.progress(`failover to ${id} (pulumi up --skip-preview)`);
            const fast = failover(pulumi, lab, id);
            const restoreFloorRun = await restoreFloor(lab, replica, id);
            measured({ name: `failover-${label}`, figure: fast.rtoSeconds, floor: restoreFloorRun.seconds, unit: "s",
                detail: { ...detail, phases: fast.phaseSeconds, floorParts: restoreFloorRun.parts, command: "pulumi up --skip-preview" } });
            for (const [phase, seconds] of Object.entries(fast.phaseSeconds)) {
                measured({ name: `restore-${label}-${phase}`, figure: round(seconds, 2), floor: null, unit: "s", detail: { snapshot: id } });
            }
            // Again with the preview an operator sees first: a newer snapshot of the same data.
            const again = committedId(lab.ok("primary", lead.node, "etcd-dr backup"));
            await replicated(lab, standbyCp, again);
            context.progress(`failover to ${again} (pulumi up, with its preview)`);
            const previewed = failover(pulumi, lab, again, { preview: true });
            measured({ name: `failover-${label}-with-preview`, figure: previewed.rtoSeconds, floor: restoreFloorRun.seconds, unit: "s",
                detail: { ...detail, snapshot: again, phases: previewed.phaseSeconds, command: "pulumi up --yes" } });
        }
    } finally {
        for (const stack of [STACKS.standby, STACKS.primary]) pulumi.run(["destroy", "--stack", stack, "--yes", "--skip-preview", "--run-program"]);
        execFileSync(CLOUD_SH, ["down"], { stdio: ["ignore", "ignore", "inherit"] });
    }
    return measurements;
}
