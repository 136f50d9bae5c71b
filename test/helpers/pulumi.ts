// Runs the real `pulumi` CLI (the offline engine that scripts/engine-env.sh puts on PATH).
import { spawnSync } from "child_process";

export interface PulumiResult {
    status: number;
    stdout: string;
    stderr: string;
}

export class PulumiProject {
    constructor(readonly dir: string, readonly env: NodeJS.ProcessEnv) {}

    run(args: string[], input?: string): PulumiResult {
        const result = spawnSync("pulumi", [...args, "--non-interactive"], {
            cwd: this.dir,
            env: { ...process.env, ...this.env },
            input,
            encoding: "utf8",
            maxBuffer: 64 * 1024 * 1024,
        });
        if (result.error) {
            throw new Error(`pulumi could not start (is scripts/engine-env.sh sourced?): ${result.error.message}`);
        }
        return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
    }

    /** Runs and fails the test with the engine's own output when the command fails. */
    ok(args: string[], input?: string): PulumiResult {
        const result = this.run(args, input);
        if (result.status !== 0) {
            throw new Error(`pulumi ${args.join(" ")} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
        }
        return result;
    }
}
