// The DR drill, offline, on the local lab with the real Pulumi engine:
//
//   engine -> lab -> pulumi up lab-primary (backup timers) -> pulumi up lab-standby
//   -> data set on the primary -> a *scheduled* snapshot, replicated
//   -> failover: restoreSnapshot=<id>, pulumi up -> verify byte for byte
//   -> more data -> newer snapshot -> new id, pulumi up (the chain is replaced) -> verify
//   -> pulumi preview --refresh --expect-no-changes on both stacks
//   -> one JSON summary line, last.
//
// `make drill` runs it; test/e2e runs the same steps with assertions. The lab stays up afterwards.

import { execFileSync, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { parseSnapshotId } from "../lib/snapshot";
import { Lab, LabAccess, readLab, waitFor } from "./lab";

export const ROOT = path.resolve(__dirname, "..");
export const STACKS = { primary: "lab-primary", standby: "lab-standby" } as const;

export interface DrillOptions {
    keys: number;
    bigValues: number;
    log: (line: string) => void;
}

export interface DrillSummary {
    drill: "passed";
    snapshots: { first: string; second: string };
    keysVerified: { first: number; second: number };
    rpoSeconds: { first: number; second: number };
    rtoSeconds: { first: number; second: number };
    restorePhaseSeconds: { first: Record<string, number>; second: Record<string, number> };
    chainReplaced: number;
    setupSeconds: { engine: number; lab: number; stacks: number };
    driftPreview: "no changes";
    totalSeconds: number;
}

// ---------------------------------------------------------------------------------------------
// the engine and the Pulumi CLI

export function engineEnv(): NodeJS.ProcessEnv {
    const dir = execFileSync(path.join(ROOT, "scripts", "build-engine.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
    const cache = process.env.ETCD_DR_CACHE ?? path.join(os.homedir(), ".cache", "etcd-dr");
    const home = path.join(cache, "pulumi-home");
    for (const pluginDir of fs.readdirSync(path.join(dir, "plugins"))) {
        const target = path.join(home, "plugins", pluginDir);
        fs.mkdirSync(target, { recursive: true });
        for (const file of fs.readdirSync(path.join(dir, "plugins", pluginDir))) {
            fs.copyFileSync(path.join(dir, "plugins", pluginDir, file), path.join(target, file));
            fs.chmodSync(path.join(target, file), 0o755);
        }
    }
    const state = process.env.ETCD_DR_STATE_DIR ?? path.join(ROOT, ".state");
    fs.mkdirSync(state, { recursive: true });
    return {
        PATH: `${path.join(dir, "bin")}:${process.env.PATH}`,
        PULUMI_HOME: home,
        PULUMI_BACKEND_URL: `file://${state}`,
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "etcd-dr-local-only",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
    };
}

export class Pulumi {
    constructor(readonly env: NodeJS.ProcessEnv) {}

    run(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
        const result = spawnSync("pulumi", [...args, "--non-interactive"], {
            cwd: ROOT,
            env: { ...process.env, ...this.env },
            input,
            encoding: "utf8",
            maxBuffer: 256 * 1024 * 1024,
        });
        if (result.error) throw result.error;
        return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
    }

    ok(args: string[], input?: string): string {
        const result = this.run(args, input);
        if (result.status !== 0) {
            throw new Error(`pulumi ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
        }
        return result.stdout;
    }

    outputs(stack: string): Record<string, unknown> {
        return JSON.parse(this.ok(["stack", "output", "--stack", stack, "--json", "--show-secrets"])) as Record<string, unknown>;
    }
}

// ---------------------------------------------------------------------------------------------
// the lab stacks, from the running lab

function labNodes(lab: Lab, site: "primary" | "standby") {
    return lab.sites[site].nodes.map((n) => ({ name: n.name, address: n.address, role: n.role }));
}

/** Pulumi.lab-*.yaml: the lab's topology; the store URLs and the SSH key are set as secrets. */
export function writeLabStacks(lab: Lab, pulumi: Pulumi): void {
    const controlPlane = lab.sites.primary.nodes.filter((n) => n.role === "control-plane").map((n) => n.name);
    const workers = lab.sites.primary.nodes.filter((n) => n.role === "worker").map((n) => n.name);
    const common = {
        "etcd-dr:platform": "existing",
        "etcd-dr:sshUser": "root",
        "etcd-dr:kubernetesApi": "false",
        "etcd-dr:snapshots": { prefix: lab.snapshotPrefix, parExpiresAt: lab.store.parExpiresAt },
    };
    const files: Record<string, Record<string, unknown>> = {
        [STACKS.primary]: {
            ...common,
            "etcd-dr:role": "primary",
            "etcd-dr:nodes": labNodes(lab, "primary"),
            "etcd-dr:topology": { clusterName: lab.cluster, controlPlane, workers },
            // The lab runs Debian's etcd; a real site runs the version its kubeadm pins.
            "etcd-dr:cluster": { kubernetesVersion: "1.31.4", etcdVersion: "3.4.23" },
            "etcd-dr:backup": { onCalendar: "*:*:0/15", randomizedDelaySec: 1, compression: "gzip" },
        },
        [STACKS.standby]: {
            ...common,
            "etcd-dr:role": "standby",
            "etcd-dr:peerStack": STACKS.primary,
            "etcd-dr:nodes": labNodes(lab, "standby"),
        },
    };
    for (const [stack, config] of Object.entries(files)) {
        const header = `# Generated by the drill from ${path.join(process.env.ETCD_DR_LAB_DIR ?? "/var/lib/etcd-dr-lab", "lab.json")}: the running lab's nodes.\n`;
        fs.writeFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), header + yaml.dump({ config }));
        if (pulumi.run(["stack", "select", stack]).status === 0) {
            // A previous drill's state describes a lab that no longer exists.
            pulumi.ok(["stack", "rm", stack, "--force", "--yes", "--preserve-config"]);
        }
        pulumi.ok(["stack", "init", stack]);
    }
    const key = fs.readFileSync(lab.sshKey, "utf8");
    pulumi.ok(["config", "set", "--stack", STACKS.primary, "--secret", "sshPrivateKey"], key);
    pulumi.ok(["config", "set", "--stack", STACKS.standby, "--secret", "sshPrivateKey"], key);
    pulumi.ok(["config", "set", "--stack", STACKS.primary, "--secret", "storeWriteUrl", lab.store.primaryWriteUrl]);
    pulumi.ok(["config", "set", "--stack", STACKS.standby, "--secret", "storeReadUrl", lab.store.standbyReadUrl]);
}

// ---------------------------------------------------------------------------------------------
// data sets: Kubernetes-shaped keys, some values of hundreds of KiB, written in transactions

export interface DataSet {
    entries: Map<string, string>;
}

const KINDS = ["configmaps", "secrets", "deployments", "pods", "services", "leases"];

export function makeDataSet(generation: number, keys: number, bigValues: number): DataSet {
    const entries = new Map<string, string>();
    for (let i = 0; i < keys; i++) {
        const kind = KINDS[i % KINDS.length];
        const namespace = `team-${(i % 17).toString().padStart(2, "0")}`;
        entries.set(`/registry/${kind}/${namespace}/g${generation}-${i.toString().padStart(5, "0")}`, randomBytes(64 + (i % 900)).toString("base64"));
    }
    for (let i = 0; i < bigValues; i++) {
        entries.set(`/registry/secrets/kube-system/g${generation}-blob-${i}`, randomBytes(150_000 + i * 60_000).toString("base64"));
    }
    return { entries };
}

/** What `etcdctl get --prefix /registry/` prints for these entries: key and value lines, in key order. */
export function expectedDump(...sets: DataSet[]): { sha256: string; keys: number } {
    const all = new Map<string, string>();
    for (const set of sets) for (const [k, v] of set.entries) all.set(k, v);
    const hash = createHash("sha256");
    for (const key of [...all.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        hash.update(`${key}\n${all.get(key)}\n`);
    }
    return { sha256: hash.digest("hex"), keys: all.size };
}

const ETCDCTL = "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt " +
    "--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key";

/** Ships the data set as files and loads it with 100-put transactions (etcd allows 128 ops per txn). */
export function loadDataSet(lab: LabAccess, data: DataSet): number {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-data-"));
    try {
        const small = [...data.entries].filter(([, v]) => v.length < 100_000);
        for (let i = 0; i < small.length; i += 100) {
            const ops = small.slice(i, i + 100).map(([k, v]) => `put ${k} ${v}`).join("\n");
            // No compares, then the puts, then no failure ops: each block ends with an empty line.
            fs.writeFileSync(path.join(dir, `txn-${String(i / 100).padStart(4, "0")}`), `\n${ops}\n\n\n`);
        }
        [...data.entries].filter(([, v]) => v.length >= 100_000).forEach(([k, v], i) => {
            fs.writeFileSync(path.join(dir, `big-${i}.key`), k);
            fs.writeFileSync(path.join(dir, `big-${i}`), v);
        });
        const tarball = execFileSync("tar", ["-C", dir, "-cf", "-", "."], { maxBuffer: 1024 * 1024 * 1024 });
        const script = [
            "set -euo pipefail",
            "work=$(mktemp -d)",
            "tar -xf - -C \"$work\"",
            `for f in "$work"/txn-*; do out=$(${ETCDCTL} txn < "$f"); [ "\${out%%$'\\n'*}" = SUCCESS ] || { echo "txn $f: $out" >&2; exit 1; }; done`,
            `for f in "$work"/big-*; do case "$f" in *.key) continue ;; esac; ${ETCDCTL} put "$(cat "$f.key")" < "$f" >/dev/null; done`,
            "rm -rf \"$work\"",
            `${ETCDCTL} endpoint status -w fields | sed -n 's/^"Revision" : //p'`,
        ].join("\n");
        return Number(lab.ok("primary", "cp1", `bash -c "$(printf %s ${Buffer.from(script).toString("base64")} | base64 -d)"`, tarball).trim());
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export function dumpOf(lab: LabAccess, site: "primary" | "standby", node = "cp1"): { sha256: string; keys: number } {
    const out = lab.ok(site, node, `${ETCDCTL} get --prefix /registry/ | sha256sum | cut -c1-64; ${ETCDCTL} get --prefix /registry/ --keys-only | sed '/^$/d' | wc -l`);
    const [sha256, keys] = out.trim().split("\n");
    return { sha256, keys: Number(keys) };
}

export function membership(lab: LabAccess, site: "primary" | "standby"): { name: string; peerUrl: string }[] {
    return lab.ok(site, "cp1", `${ETCDCTL} member list`).trim().split("\n").map((line) => {
        const fields = line.split(", ");
        return { name: fields[2], peerUrl: fields[3] };
    }).sort((a, b) => a.name.localeCompare(b.name));
}

/** The newest snapshot in the replica at or past a revision, as the standby's toolkit lists it. */
export async function waitForSnapshot(lab: LabAccess, revision: number, timeoutMs: number): Promise<string> {
    return waitFor(`a scheduled snapshot at revision >= ${revision} in the replica`, timeoutMs, () => {
        const run = lab.ssh("standby", "cp1", "etcd-dr list --json");
        if (run.status !== 0) return undefined;
        const found = (JSON.parse(run.stdout) as { id: string; revision: number }[]).find((s) => s.revision >= revision);
        return found?.id;
    });
}

function seconds(since: number): number {
    return Math.round((Date.now() - since) / 100) / 10;
}

// ---------------------------------------------------------------------------------------------
// the drill

export interface Failover {
    rtoSeconds: number;
    rpoSeconds: number;
    phaseSeconds: Record<string, number>;
    upOutput: string;
}

export function failover(pulumi: Pulumi, snapshotId: string): Failover {
    pulumi.ok(["config", "set", "--stack", STACKS.standby, "restoreSnapshot", snapshotId]);
    const started = Date.now();
    const upOutput = pulumi.ok(["up", "--stack", STACKS.standby, "--yes", "--skip-preview"]);
    const rtoSeconds = seconds(started);
    const created = parseSnapshotId(snapshotId)?.createdAt.getTime() ?? started;
    const restore = pulumi.outputs(STACKS.standby).restore as { snapshotId: string; phaseSeconds: Record<string, number> };
    if (restore?.snapshotId !== snapshotId) {
        throw new Error(`the standby's restore output names ${restore?.snapshotId}, not ${snapshotId}`);
    }
    return { rtoSeconds, rpoSeconds: Math.round((started - created) / 1000), phaseSeconds: restore.phaseSeconds, upOutput };
}

export function verifyStandby(lab: LabAccess, expected: { sha256: string; keys: number }): void {
    const actual = dumpOf(lab, "standby");
    if (actual.sha256 !== expected.sha256 || actual.keys !== expected.keys) {
        throw new Error(`the standby's /registry/ differs from the data written: ${actual.keys} keys (sha256 ${actual.sha256}), expected ${expected.keys} (${expected.sha256})`);
    }
    const members = membership(lab, "standby");
    const wrong = members.filter((m) => m.peerUrl !== `https://${m.name}:2380`);
    if (members.map((m) => m.name).join(",") !== "cp1,cp2,cp3" || wrong.length > 0) {
        throw new Error(`the standby's members are ${JSON.stringify(members)}; expected cp1..cp3 with host-name peer URLs`);
    }
}

/** Lines of `pulumi up` that show a restore step replaced (`+-` ... replaced). */
export function replacedSteps(upOutput: string): string[] {
    return upOutput.split("\n").filter((l) => /^\s*\+-\s+command:remote:Command\s+lab-standby-restore-\S+\s+replaced\b/.test(l));
}

export async function runDrill(options: DrillOptions): Promise<DrillSummary> {
    const log = options.log;
    const begin = Date.now();

    let t = Date.now();
    log("building or reusing the offline Pulumi engine");
    const pulumi = new Pulumi(engineEnv());
    const engineSeconds = seconds(t);

    t = Date.now();
    log("bringing a fresh lab up (two sites: cp1 cp2 cp3 w1 each)");
    execFileSync(path.join(ROOT, "lab", "lab.sh"), ["down"], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync(path.join(ROOT, "lab", "lab.sh"), ["up"], { stdio: ["ignore", "ignore", "inherit"] });
    const labSeconds = seconds(t);
    const lab = new LabAccess(readLab());

    t = Date.now();
    log("pulumi up lab-primary (toolkit and backup timers over SSH), then lab-standby");
    writeLabStacks(lab.lab, pulumi);
    pulumi.ok(["up", "--stack", STACKS.primary, "--yes", "--skip-preview"]);
    pulumi.ok(["up", "--stack", STACKS.standby, "--yes", "--skip-preview"]);
    const stacksSeconds = seconds(t);

    log(`writing data set 1 to the primary: ${options.keys} keys under /registry/ and ${options.bigValues} values of 150+ KiB`);
    const first = makeDataSet(1, options.keys, options.bigValues);
    const firstRevision = loadDataSet(lab, first);
    const expectedFirst = expectedDump(first);
    log(`primary at revision ${firstRevision}; waiting for the backup timer to commit a snapshot and the replica to receive it`);
    const firstId = await waitForSnapshot(lab, firstRevision, 180_000);
    log(`failing over to ${firstId}`);
    const one = failover(pulumi, firstId);
    verifyStandby(lab, expectedFirst);
    log(`standby restored from ${firstId}: ${expectedFirst.keys} keys verified in ${one.rtoSeconds}s`);

    const second = makeDataSet(2, Math.ceil(options.keys / 3), Math.max(1, Math.floor(options.bigValues / 2)));
    const secondRevision = loadDataSet(lab, second);
    const expectedSecond = expectedDump(first, second);
    log(`more data on the primary (revision ${secondRevision}); waiting for a newer scheduled snapshot`);
    const secondId = await waitForSnapshot(lab, secondRevision, 180_000);
    log(`failing over again, to ${secondId}: the restore chain is replaced`);
    const two = failover(pulumi, secondId);
    const replaced = replacedSteps(two.upOutput);
    if (replaced.length < 13) {
        throw new Error(`pulumi up did not replace the restore chain (${replaced.length} steps replaced):\n${two.upOutput}`);
    }
    verifyStandby(lab, expectedSecond);
    log(`standby restored from ${secondId}: ${expectedSecond.keys} keys verified; ${replaced.length} restore steps replaced`);

    log("pulumi preview --refresh --expect-no-changes on both stacks");
    for (const stack of [STACKS.primary, STACKS.standby]) {
        pulumi.ok(["preview", "--stack", stack, "--refresh", "--expect-no-changes"]);
    }

    return {
        drill: "passed",
        snapshots: { first: firstId, second: secondId },
        keysVerified: { first: expectedFirst.keys, second: expectedSecond.keys },
        rpoSeconds: { first: one.rpoSeconds, second: two.rpoSeconds },
        rtoSeconds: { first: one.rtoSeconds, second: two.rtoSeconds },
        restorePhaseSeconds: { first: one.phaseSeconds, second: two.phaseSeconds },
        chainReplaced: replaced.length,
        setupSeconds: { engine: engineSeconds, lab: labSeconds, stacks: stacksSeconds },
        driftPreview: "no changes",
        totalSeconds: seconds(begin),
    };
}

async function main(): Promise<void> {
    const keys = Number(process.env.ETCD_DR_DRILL_KEYS ?? 3000);
    const summary = await runDrill({ keys, bigValues: 6, log: (line) => process.stdout.write(`drill: ${line}\n`) });
    process.stdout.write("drill: done. The lab is still up: explore it with `npm run lab -- status`; tear it down with `make drill-down`.\n");
    process.stdout.write(`${JSON.stringify(summary)}\n`);
}

if (require.main === module) {
    main().catch((error: Error) => {
        process.stderr.write(`drill: FAILED: ${error.message}\n`);
        process.exit(1);
    });
}
