// Bench section "program": what the Pulumi program itself costs an operator, before any node is touched.
//
//   lab-standby-preview-*  `pulumi preview` of a lab standby shaped like the drill's (3+1, role
//                          standby, reading its primary through a StackReference), with the offline
//                          engine; floor: the same CLI previewing a trivial program with the
//                          project's runtime settings.
//   oci-<stack>-plan-*     the OCI example stacks (Pulumi.primary.yaml, Pulumi.standby.yaml) under
//                          the offline plan (tools/plan.ts, Pulumi mocks): no OCI provider plugin is
//                          here, so their real preview cannot run; floor: the plan's harness running
//                          an empty program (tools/bench/emptyPlan.ts).
//
// Everything runs against a state backend and stacks of its own in a temporary directory; the
// preview needs no lab (see labStandby below).

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { hostNames, labClusterConfig, parseTopology } from "../labStacks";
import { engineEnv, pulumiEnv, ROOT } from "../pulumiCli";
import { CommandRun, measureCommand, Measurement, median, round, SectionContext, toMiB } from "./measure";

const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");
const PASSPHRASE = "etcd-dr-bench";
const TOPOLOGY = "3+1";
const STACKS = { primary: "bench-lab-primary", standby: "bench-lab-standby", floor: "bench-floor" } as const;

interface Workspace {
    dir: string;
    env: NodeJS.ProcessEnv;
}

function pulumi(work: Workspace, cwd: string, args: string[], input?: string): string {
    return execFileSync("pulumi", [...args, "--non-interactive"], { cwd, env: work.env, input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

/**
 * A directory holding only Pulumi.yaml, for `pulumi stack init`: it writes the stack's passphrase
 * salt into the project's directory whatever --config-file says, and the checkout is not ours.
 */
function initStack(work: Workspace, stack: string): string {
    const project = path.join(work.dir, "project");
    fs.mkdirSync(project, { recursive: true });
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    pulumi(work, project, ["stack", "init", stack]);
    const salt = (yaml.load(fs.readFileSync(path.join(project, `Pulumi.${stack}.yaml`), "utf8")) as { encryptionsalt: string }).encryptionsalt;
    return salt;
}

function writeConfig(file: string, salt: string | undefined, config: Record<string, unknown>): void {
    fs.writeFileSync(file, yaml.dump({ ...(salt ? { encryptionsalt: salt } : {}), config }));
}

/** The drill's stack settings (tools/labStacks.ts), with the Kubernetes supply's pinned versions written out. */
function labCommon(publicKey: string): Record<string, unknown> {
    return {
        "etcd-dr:platform": "lab",
        "etcd-dr:sshPublicKey": publicKey,
        "etcd-dr:snapshots": { prefix: "etcd", parExpiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z") },
        "etcd-dr:backup": { onCalendar: "*:*:0/15", randomizedDelaySec: 1 },
    };
}

/**
 * A lab standby that previews without the lab. Its primary is a stack whose state holds only the
 * outputs the offline plan computes for a lab primary (imported, never `up`): the StackReference
 * reads them as it reads a built primary's. The primary has no adminKubeconfig output, so the
 * standby skips the parity check, the one part of its preview that would read a live API server
 * (the primary's); everything else -- 3+1 instances, store, joins, toolkit, timers' absence, the
 * Kubernetes provider of its own API -- is the drill's standby.
 */
function labStandby(work: Workspace): { configFile: string } {
    const key = path.join(work.dir, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "etcd-dr-bench", "-f", key]);
    const publicKey = fs.readFileSync(`${key}.pub`, "utf8").trim();
    const primaryFile = path.join(work.dir, `Pulumi.${STACKS.primary}.yaml`);
    writeConfig(primaryFile, undefined, {
        ...labCommon(publicKey),
        "etcd-dr:role": "primary",
        "etcd-dr:topology": { clusterName: "bench", ...hostNames(parseTopology(TOPOLOGY)) },
        "etcd-dr:cluster": labClusterConfig({ kubernetesVersion: "v1.35.8", etcdVersion: "v3.6.6", registryPath: "etcd-dr", images: [], busyboxTag: "" }),
        "etcd-dr:kubernetesApi": "false",
        // The offline plan reads config as text; the key never leaves this directory.
        "etcd-dr:sshPrivateKey": fs.readFileSync(key, "utf8"),
    });
    const outputs = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "tools", "plan.ts"), STACKS.primary, "--outputs", "--stack-file", primaryFile], {
        cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
    });
    initStack(work, STACKS.primary);
    const project = path.join(work.dir, "project");
    const deployment = JSON.parse(pulumi(work, project, ["stack", "export", "--stack", STACKS.primary])) as { deployment: Record<string, unknown> };
    deployment.deployment.resources = [{
        urn: `urn:pulumi:${STACKS.primary}::etcd-dr::pulumi:pulumi:Stack::etcd-dr-${STACKS.primary}`,
        custom: false,
        type: "pulumi:pulumi:Stack",
        outputs: JSON.parse(outputs) as unknown,
    }];
    const stateFile = path.join(work.dir, "primary-state.json");
    fs.writeFileSync(stateFile, JSON.stringify(deployment));
    pulumi(work, project, ["stack", "import", "--stack", STACKS.primary, "--file", stateFile]);

    const configFile = path.join(work.dir, `Pulumi.${STACKS.standby}.yaml`);
    writeConfig(configFile, initStack(work, STACKS.standby), { ...labCommon(publicKey), "etcd-dr:role": "standby", "etcd-dr:peerStack": STACKS.primary });
    pulumi(work, project, ["config", "set", "--secret", "sshPrivateKey", "--stack", STACKS.standby, "--config-file", configFile], fs.readFileSync(key, "utf8"));
    return { configFile };
}

/** The trivial program: the project's runtime settings (Pulumi.yaml's runtime and main, its tsconfig files, package.json), an empty program. */
function floorProject(work: Workspace): string {
    const dir = path.join(work.dir, "floor");
    fs.mkdirSync(dir);
    const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { runtime: unknown; main?: string };
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml.dump({ name: "etcd-dr-bench-floor", runtime: project.runtime, ...(project.main ? { main: project.main } : {}) }));
    for (const file of fs.readdirSync(ROOT).filter((f) => /^tsconfig.*\.json$/.test(f) || f === "package.json" || f.endsWith(".js"))) {
        fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
    }
    fs.writeFileSync(path.join(dir, "index.ts"), 'import * as pulumi from "@pulumi/pulumi";\n\nexport const stack = pulumi.getStack();\n');
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    pulumi(work, dir, ["stack", "init", STACKS.floor]);
    return dir;
}

function checked(what: string, run: CommandRun): CommandRun {
    if (run.status !== 0) {
        throw new Error(`${what} exited ${run.status}:\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-4000)}`);
    }
    return run;
}

/** "+ 47 to create" and the like in a preview's summary: the resources it would touch. */
export function previewedResources(stdout: string): number {
    return [...stdout.matchAll(/^\s+[+~-]{1,2}\s+(\d+) to (?:create|update|delete|replace)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

interface Series {
    runs: CommandRun[];
}

function summary(series: Series): Record<string, unknown> {
    return {
        seconds: series.runs.map((r) => round(r.seconds, 2)),
        cpuSeconds: series.runs.map((r) => r.cpuSeconds),
        peakTreeMiB: series.runs.map((r) => toMiB(r.peakTreeBytes)),
        largestProcessMiB: series.runs.map((r) => (r.largestProcessBytes === null ? null : toMiB(r.largestProcessBytes))),
        peakByCommandMiB: Object.fromEntries(Object.entries(series.runs[series.runs.length - 1].peakByCommand).map(([k, v]) => [k, toMiB(v)])),
    };
}

function medianOrNull(values: (number | null)[]): number | null {
    const known = values.filter((v): v is number => v !== null);
    return known.length === values.length ? round(median(known), 2) : null;
}

function pair(name: string, what: string, project: Series, floor: Series, extra: Record<string, unknown>): Measurement[] {
    const detail = (kind: "time" | "memory") => ({
        what,
        measure: kind === "time"
            ? "wall time of the fastest run (the one other work on the machine slowed least; medians below)"
            : "peak resident memory of the whole process tree, median of the runs",
        medianSeconds: { project: round(median(project.runs.map((r) => r.seconds)), 2), floor: round(median(floor.runs.map((r) => r.seconds)), 2) },
        medianCpuSeconds: { project: medianOrNull(project.runs.map((r) => r.cpuSeconds)), floor: medianOrNull(floor.runs.map((r) => r.cpuSeconds)) },
        ...extra,
        runs: project.runs.length,
        project: summary(project),
        floor: summary(floor),
    });
    return [
        { name: `${name}-time`, unit: "s", figure: round(Math.min(...project.runs.map((r) => r.seconds)), 2), floor: round(Math.min(...floor.runs.map((r) => r.seconds)), 2), detail: detail("time") },
        {
            name: `${name}-memory`,
            unit: "MiB",
            figure: toMiB(median(project.runs.map((r) => r.peakTreeBytes))),
            floor: toMiB(median(floor.runs.map((r) => r.peakTreeBytes))),
            detail: detail("memory"),
        },
        // What `/usr/bin/time -f %M` says of the whole command: one process's peak, the program's node.
        ...(project.runs.every((r) => r.largestProcessBytes !== null) && floor.runs.every((r) => r.largestProcessBytes !== null)
            ? [{
                name: `${name}-largest-process-memory`,
                unit: "MiB" as const,
                figure: toMiB(median(project.runs.map((r) => r.largestProcessBytes as number))),
                floor: toMiB(median(floor.runs.map((r) => r.largestProcessBytes as number))),
                detail: { ...detail("memory"), measure: "peak resident memory of the largest single process (GNU time's %M), median of the runs" },
            }]
            : []),
    ];
}

/**
 * Alternates the floor and the project run by run, so that a busy moment of the machine hits both,
 * after one run of each that is not counted: the figures are of a program whose sources did not
 * change since its last run (program.js compiles a changed file once; see README, "Performance").
 */
async function alternate(runs: number, floor: () => Promise<CommandRun>, project: () => Promise<CommandRun>): Promise<{ floor: Series; project: Series }> {
    const result = { floor: { runs: [] as CommandRun[] }, project: { runs: [] as CommandRun[] } };
    await floor();
    await project();
    for (let i = 0; i < runs; i++) {
        result.floor.runs.push(await floor());
        result.project.runs.push(await project());
    }
    return result;
}

export async function program(context: SectionContext): Promise<Measurement[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-bench-program-"));
    const work: Workspace = {
        dir,
        env: { ...pulumiEnv(process.env, engineEnv()), PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE },
    };
    fs.mkdirSync(path.join(dir, "state"));
    const load = () => round(os.loadavg()[0], 2);
    try {
        context.progress(`stacks in ${dir}`);
        const { configFile } = labStandby(work);
        const floorDir = floorProject(work);
        const measurements: Measurement[] = [];

        context.progress(`pulumi preview of ${STACKS.standby} and of the trivial program, ${context.runs} run(s) each`);
        const loadBefore = load();
        const preview = await alternate(
            context.runs,
            async () => checked("the trivial program's preview", await measureCommand("pulumi", ["preview", "--stack", STACKS.floor, "--non-interactive"], { cwd: floorDir, env: work.env })),
            async () => checked(`the preview of ${STACKS.standby}`, await measureCommand("pulumi", ["preview", "--stack", STACKS.standby, "--config-file", configFile, "--non-interactive"], { cwd: ROOT, env: work.env })),
        );
        measurements.push(...pair("lab-standby-preview", `pulumi preview of a lab standby (${TOPOLOGY}, from nothing: every resource a create) with the offline engine; its primary is an imported state of the plan's outputs, without adminKubeconfig (no parity check, which would read the primary's live API); the lab is not needed`, preview.project, preview.floor, {
            resources: previewedResources(preview.project.runs[0].stdout),
            floorIs: "the same CLI previewing a trivial program (imports @pulumi/pulumi, exports the stack name) with the project's runtime settings",
            loadAverage: { before: loadBefore, after: load() },
        }));

        for (const stack of ["primary", "standby"]) {
            context.progress(`offline plan of the OCI example stack ${stack} and of an empty program, ${context.runs} run(s) each`);
            const before = load();
            const plan = await alternate(
                context.runs,
                async () => checked("the empty plan", await measureCommand(TS_NODE, ["--transpile-only", path.join("tools", "bench", "emptyPlan.ts")], { cwd: ROOT, env: process.env })),
                async () => checked(`the plan of ${stack}`, await measureCommand(TS_NODE, ["--transpile-only", path.join("tools", "plan.ts"), stack], { cwd: ROOT, env: process.env })),
            );
            const resources = /^(\d+) resources$/m.exec(plan.project.runs[0].stdout)?.[1];
            measurements.push(...pair(`oci-${stack}-plan`, `npm run plan -- ${stack}: the program for Pulumi.${stack}.yaml under Pulumi mocks (the OCI provider plugin is not here, so no real preview of an OCI stack can run)${stack === "standby" ? "; the primary's outputs come from its own plan in a child process" : ""}`, plan.project, plan.floor, {
                resources: resources === undefined ? null : Number(resources),
                floorIs: "tools/bench/emptyPlan.ts: the plan's harness (ts-node, @pulumi/pulumi, the mocks) running an empty program",
                loadAverage: { before, after: load() },
            }));
        }
        return measurements;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
