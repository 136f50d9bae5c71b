// Runs the offline plan exactly as a user does (`npm run plan`), in a child process, and reads it.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import type { PlannedResource } from "../../tools/plan";

export const ROOT = path.resolve(__dirname, "..", "..");
const cache = new Map<string, { status: number | null; stdout: string; stderr: string }>();

/** `flags`: more of tools/plan.ts's options, e.g. ["--show-secrets"], ["--last-restore", id]. */
export function runPlan(stack: string, stackFile?: string, json = true, flags: string[] = []) {
    const key = `${stack}|${stackFile}|${json}|${flags.join(" ")}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const args = ["-r", "ts-node/register/transpile-only", "tools/plan.ts", stack, ...(json ? ["--json"] : []),
        ...flags, ...(stackFile ? ["--stack-file", stackFile] : [])];
    const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    const outcome = { status: result.status, stdout: result.stdout, stderr: result.stderr };
    cache.set(key, outcome);
    return outcome;
}

export function graph(stack: string, stackFile?: string, flags: string[] = []): PlannedResource[] {
    const result = runPlan(stack, stackFile, true, flags);
    assert.strictEqual(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as PlannedResource[];
}

export const ofType = (resources: PlannedResource[], suffix: string) => resources.filter((r) => r.type.endsWith(suffix));

export const one = (resources: PlannedResource[], suffix: string) => {
    const found = ofType(resources, suffix);
    assert.strictEqual(found.length, 1, `expected one ${suffix}, found ${found.map((r) => r.name).join(", ")}`);
    return found[0];
};

/** Writes Pulumi.<stack>.yaml files into a new temporary directory; undefined values are left out. */
export function writeStacks(files: Record<string, Record<string, unknown>>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-plan-"));
    for (const [stack, config] of Object.entries(files)) {
        const defined = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), yaml.dump({ config: defined }));
    }
    return dir;
}

export function shippedConfig(stack: string): Record<string, unknown> {
    return (yaml.load(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> }).config;
}

export const byName = (resources: PlannedResource[], name: string) => {
    const found = resources.find((r) => r.name === name);
    assert.ok(found, `no resource named ${name}`);
    return found;
};
