// The offline engine's environment and a thin wrapper around the Pulumi CLI, for the drill and
// the tests. The environment comes from scripts/engine-env.sh, the one place it is defined.

import { execFileSync, spawn, spawnSync } from "child_process";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..");

const ENGINE_VARS = [
    "PATH",
    "PULUMI_HOME",
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_SKIP_UPDATE_CHECK",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
    "PULUMI_SKIP_CONFIRMATIONS",
    "PULUMI_DIY_BACKEND_GZIP",
];

/** What `source scripts/engine-env.sh` sets (it builds the engine first when it is not cached). */
export function engineEnv(): NodeJS.ProcessEnv {
    const script = `set -e; source ${JSON.stringify(path.join(ROOT, "scripts", "engine-env.sh"))} >&2; env -0`;
    const dump = execFileSync("bash", ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], cwd: ROOT });
    const env: NodeJS.ProcessEnv = {};
    for (const entry of dump.split("\0")) {
        const at = entry.indexOf("=");
        if (at > 0 && ENGINE_VARS.includes(entry.slice(0, at))) env[entry.slice(0, at)] = entry.slice(at + 1);
    }
    return env;
}

/**
 * The environment `pulumi` runs in: ours, the engine's on top, and no SSH agent. Upstream's command
 * provider dials $SSH_AUTH_SOCK for every remote command even when the connection has a private key
 * (remote/connection_unix.go), and a socket that is gone -- a closed session's forwarded agent, a
 * CI runner's -- fails every one of them; the program always gives the key.
 */
export function pulumiEnv(base: NodeJS.ProcessEnv, engine: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env = { ...base, ...engine };
    delete env.SSH_AUTH_SOCK;
    return env;
}

export class Pulumi {
    constructor(readonly env: NodeJS.ProcessEnv) {}

    run(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
        const result = spawnSync("pulumi", [...args, "--non-interactive"], {
            cwd: ROOT,
            env: pulumiEnv(process.env, this.env),
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

    /**
     * Runs pulumi and, `delayMs` after a line of its output matches `when`, interrupts it: by default
     * SIGKILL to it and its plugins (its process group), the engine dying mid-step as a crashed CI
     * runner leaves it; or `interrupt`, something done to the world meanwhile (a node's power cut).
     * Resolves with the output, the exit status, and whether the interruption happened (the run may
     * end first).
     */
    interruptedWhen(args: string[], when: RegExp, delayMs: number, interrupt?: () => void): Promise<{ interrupted: boolean; status: number | null; output: string }> {
        return new Promise((resolve, reject) => {
            const child = spawn("pulumi", [...args, "--non-interactive"], {
                cwd: ROOT, env: pulumiEnv(process.env, this.env), detached: true, stdio: ["ignore", "pipe", "pipe"],
            });
            let output = "";
            let interrupted = false;
            let armed = false;
            const onData = (chunk: Buffer) => {
                output += chunk.toString("utf8");
                if (armed || !when.test(output)) return;
                armed = true;
                setTimeout(() => {
                    if (child.exitCode !== null || child.pid === undefined) return;
                    interrupted = true;
                    if (interrupt) interrupt();
                    else process.kill(-child.pid, "SIGKILL");
                }, delayMs);
            };
            child.stdout.on("data", onData);
            child.stderr.on("data", onData);
            child.on("error", reject);
            child.on("close", (status) => resolve({ interrupted, status, output }));
        });
    }

    outputs(stack: string): Record<string, unknown> {
        return JSON.parse(this.ok(["stack", "output", "--stack", stack, "--json", "--show-secrets"])) as Record<string, unknown>;
    }
}

