// Offline plan: runs the real program for one stack under Pulumi mocks (no cloud credentials) and
// prints every resource it would register.
//
//   npm run plan -- <stack> [--json] [--show-secrets] [--last-restore <id> [--last-restore-manifest <sha256>]] [--reach-store] [--stack-file <path>]
//
// A standby's primary outputs come from the primary's own offline plan, run in a child process
// (the Pulumi runtime is process-global).

import { execFileSync } from "child_process";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { redactSecrets, SiteMocks, unwrapSecrets } from "./mocks";
import { readStackConfig, stackFilePath, StackFileError } from "./stackFiles";
import { shortStackName } from "../lib/names";

export interface PlannedResource {
    type: string;
    name: string;
    parent: string | null;
    dependsOn: string[];
    /** The resource options that change how the engine treats the inputs and outputs (only those set). */
    options: PlannedOptions;
    inputs: Record<string, unknown>;
}

export interface PlannedOptions {
    ignoreChanges?: string[];
    additionalSecretOutputs?: string[];
    deleteBeforeReplace?: boolean;
}

function plannedOptions(opts: pulumi.CustomResourceOptions): PlannedOptions {
    return {
        ...(opts.ignoreChanges ? { ignoreChanges: opts.ignoreChanges } : {}),
        ...(opts.additionalSecretOutputs ? { additionalSecretOutputs: opts.additionalSecretOutputs } : {}),
        ...(opts.deleteBeforeReplace !== undefined ? { deleteBeforeReplace: opts.deleteBeforeReplace } : {}),
    };
}

interface Options {
    stack: string;
    json: boolean;
    outputsOnly: boolean;
    /** Print secret inputs instead of "[secret]" (what the providers would get; for checks of secret wiring). */
    showSecrets: boolean;
    /** Plan as if the stack's last update restored this snapshot id (its own `restore` output). */
    lastRestore?: string;
    /** ...and pinned its prepare steps to this manifest digest. */
    lastRestoreManifest?: string;
    /**
     * Let the restore prechecks read the snapshot store the stack names (an existing-platform
     * stack whose storeReadUrl is a local emulator): the prepare steps then carry the digest of
     * the manifest they read. Without it the plan reaches nothing outside this process.
     */
    reachStore: boolean;
    stackFile: string;
}

/** The organization a stack has on a file:// backend, as `pulumi` names it. */
const PLAN_ORGANIZATION = "organization";

function usage(message: string): never {
    process.stderr.write(`error: ${message}\nusage: npm run plan -- <stack> [--json] [--show-secrets] [--last-restore <id> [--last-restore-manifest <sha256>]] [--reach-store] [--stack-file <path>]\n`);
    process.exit(2);
}

function parseArgs(argv: string[]): Options {
    let stack: string | undefined;
    let json = false;
    let outputsOnly = false;
    let showSecrets = false;
    let lastRestore: string | undefined;
    let lastRestoreManifest: string | undefined;
    let reachStore = false;
    let stackFile: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--json") json = true;
        else if (arg === "--outputs") outputsOnly = true;
        else if (arg === "--show-secrets") showSecrets = true;
        else if (arg === "--last-restore") lastRestore = argv[++i] ?? usage("--last-restore needs a snapshot id");
        else if (arg === "--last-restore-manifest") lastRestoreManifest = argv[++i] ?? usage("--last-restore-manifest needs a sha256");
        else if (arg === "--reach-store") reachStore = true;
        else if (arg === "--stack-file") stackFile = argv[++i] ?? usage("--stack-file needs a path");
        else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
        else if (stack === undefined) stack = arg;
        else usage(`unexpected argument ${arg}`);
    }
    if (!stack) usage("name the stack to plan, e.g. primary");
    if (lastRestoreManifest !== undefined && lastRestore === undefined) usage("--last-restore-manifest needs --last-restore");
    return { stack, json, outputsOnly, showSecrets, lastRestore, lastRestoreManifest, reachStore, stackFile: path.resolve(stackFile ?? stackFilePath(process.cwd(), stack)) };
}

/** The peer's outputs, from its own offline plan in a child process. */
function peerOutputs(peerStack: string, stackDir: string): Record<string, unknown> {
    const peer = shortStackName(peerStack);
    const args = ["-r", "ts-node/register/transpile-only", __filename, peer, "--outputs", "--stack-file", stackFilePath(stackDir, peer)];
    try {
        const stdout = execFileSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: path.resolve(__dirname, "..") });
        return JSON.parse(stdout) as Record<string, unknown>;
    } catch (error) {
        const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
        throw new StackFileError(`the primary stack '${peerStack}' could not be planned offline: ${stderr.split("\n").join(" / ")}`);
    }
}

function referenceName(resource: pulumi.Resource | undefined, names: WeakMap<pulumi.Resource, string>): string | null {
    return resource ? names.get(resource) ?? null : null;
}

function dependencyNames(dependsOn: unknown, names: WeakMap<pulumi.Resource, string>): string[] {
    const list = Array.isArray(dependsOn) ? dependsOn : dependsOn ? [dependsOn] : [];
    return list
        .map((d) => (pulumi.Resource.isInstance(d) ? names.get(d) : undefined))
        .filter((n): n is string => n !== undefined);
}

async function plan(options: Options): Promise<{ resources: PlannedResource[]; outputs: Record<string, unknown> }> {
    const config = readStackConfig(options.stackFile);
    const stackOutputs: Record<string, Record<string, unknown>> = {};
    const peerStack = config["etcd-dr:peerStack"];
    if (config["etcd-dr:role"] === "standby" && peerStack) {
        stackOutputs[peerStack] = peerOutputs(peerStack, path.dirname(options.stackFile));
    }
    // The runtime's log lines go to stdout when no engine is there; keep stdout for the plan itself.
    console.log = (...args: unknown[]) => console.error(...args);
    // The program checks the snapshot store before a restore; offline, it says it could not.
    if (!options.reachStore) process.env.ETCD_DR_OFFLINE_PLAN = "1";
    // The stack's own last outputs, which the program reads through a StackReference to itself.
    stackOutputs[`${PLAN_ORGANIZATION}/etcd-dr/${options.stack}`] = options.lastRestore
        ? { restore: { snapshotId: options.lastRestore, ...(options.lastRestoreManifest ? { manifestSha256: options.lastRestoreManifest } : {}) } }
        : {};
    const mocks = new SiteMocks({ stackOutputs, region: config["oci:region"] });
    await pulumi.runtime.setMocks(mocks, "etcd-dr", options.stack, false, PLAN_ORGANIZATION);
    pulumi.runtime.setAllConfig(config, []);

    const names = new WeakMap<pulumi.Resource, string>();
    const order = new Map<string, number>();
    const shapes = new Map<string, Omit<PlannedResource, "inputs">>();
    // Imported after the mocks are set: the program reads config and registers resources on import.
    const { runSite } = await import("../stack/program");
    const outputs = await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            names.set(args.resource, args.name);
            order.set(`${args.type}::${args.name}`, order.size);
            shapes.set(`${args.type}::${args.name}`, {
                type: args.type,
                name: args.name,
                parent: referenceName(args.opts.parent, names),
                dependsOn: dependencyNames(args.opts.dependsOn, names),
                options: plannedOptions(args.opts as pulumi.CustomResourceOptions),
            });
            return undefined;
        });
        return runSite();
    });
    await pulumi.runtime.disconnect();
    const position = (r: { type: string; name: string }) => order.get(`${r.type}::${r.name}`) ?? Number.MAX_SAFE_INTEGER;
    const resources = [...mocks.registrations]
        .filter((r) => r.type !== "pulumi:pulumi:Stack")
        .sort((a, b) => position(a) - position(b))
        .map((r) => {
            const shape = shapes.get(`${r.type}::${r.name}`) ?? { type: r.type, name: r.name, parent: null, dependsOn: [], options: {} };
            return { ...shape, inputs: (options.showSecrets ? unwrapSecrets(r.inputs) : redactSecrets(r.inputs)) as Record<string, unknown> };
        });
    return { resources, outputs: (outputs ?? {}) as Record<string, unknown> };
}

function printTree(resources: PlannedResource[]): void {
    const children = new Map<string | null, PlannedResource[]>();
    for (const r of resources) {
        const siblings = children.get(r.parent) ?? [];
        siblings.push(r);
        children.set(r.parent, siblings);
    }
    const walk = (parent: string | null, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            if (r.name === parent) continue;
            const after = r.dependsOn.length > 0 ? `  (after ${r.dependsOn.join(", ")})` : "";
            process.stdout.write(`${"  ".repeat(depth)}${r.type}  ${r.name}${after}\n`);
            walk(r.name, depth + 1);
        }
    };
    walk(null, 0);
    process.stdout.write(`${resources.length} resources\n`);
}

async function main(): Promise<void> {
    const options = parseArgs(process.argv.slice(2));
    try {
        const { resources, outputs } = await plan(options);
        if (options.outputsOnly) {
            process.stdout.write(`${JSON.stringify(outputs)}\n`);
        } else if (options.json) {
            process.stdout.write(`${JSON.stringify(resources, null, 2)}\n`);
        } else {
            printTree(resources);
        }
    } catch (error) {
        const { ConfigProblems } = await import("../stack/program");
        if (error instanceof ConfigProblems) {
            for (const problem of error.problems) process.stderr.write(`error: ${problem}\n`);
        } else if (error instanceof StackFileError) {
            process.stderr.write(`error: ${error.message}\n`);
        } else {
            throw error;
        }
        process.exit(1);
    }
}

void main();
