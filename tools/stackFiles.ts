// Reads Pulumi.yaml and Pulumi.<stack>.yaml the way the CLI does for config: stack values win,
// declared project defaults fill the rest, objects become JSON strings.

import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { PROJECT } from "../stack/config";

export const PROJECT_DIR = path.resolve(__dirname, "..");

interface ProjectFile {
    config?: Record<string, { default?: unknown }>;
}

interface StackFile {
    config?: Record<string, unknown>;
}

export class StackFileError extends Error {}

function toConfigString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** The stack file for `stack` in `dir`, e.g. dir/Pulumi.primary.yaml. */
export function stackFilePath(dir: string, stack: string): string {
    return path.join(dir, `Pulumi.${stack}.yaml`);
}

export function listStacks(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

export function readStackConfig(stackFile: string): Record<string, string> {
    if (!fs.existsSync(stackFile)) {
        const dir = path.dirname(stackFile);
        throw new StackFileError(
            `there is no ${path.basename(stackFile)} in ${dir}; stacks there: ${listStacks(dir).join(", ") || "none"}`,
        );
    }
    let parsed: StackFile;
    try {
        parsed = (yaml.load(fs.readFileSync(stackFile, "utf8")) ?? {}) as StackFile;
    } catch (error) {
        throw new StackFileError(`${stackFile} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
    }
    const project = yaml.load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as ProjectFile;
    const config: Record<string, string> = {};
    for (const [key, declaration] of Object.entries(project.config ?? {})) {
        if (declaration.default !== undefined) {
            config[key.includes(":") ? key : `${PROJECT}:${key}`] = toConfigString(declaration.default);
        }
    }
    for (const [key, value] of Object.entries(parsed.config ?? {})) {
        if (value !== null && typeof value === "object" && "secure" in (value as object)) {
            // An encrypted value cannot be read offline; the plan shows it as a secret placeholder.
            config[key] = "[secret]";
            continue;
        }
        config[key] = toConfigString(value);
    }
    return config;
}
