// How a node answers Pulumi: one machine-readable line per phase, `etcd-dr-result {json}`, in the
// stdout of a remote command. The toolkit prints its facts (e.g. the verified revision) this way,
// the command wrapper below adds each phase's wall time, and the program parses them here only.
// The offline plan's mocks print the same lines with formatResult, so there is one format.

export const RESULT_PREFIX = "etcd-dr-result";

export interface PhaseResult {
    phase: string;
    node: string;
    /** Seconds since the epoch, from the node's clock. */
    start?: number;
    end?: number;
    /** etcd revision the cluster serves after a verified restore. */
    revision?: number;
    members?: string[];
}

export function formatResult(result: PhaseResult): string {
    return `${RESULT_PREFIX} ${JSON.stringify(result)}`;
}

/** Every result line in a command's stdout; other lines (the toolkit's human sentences) are ignored. */
export function parseResults(stdout: string): PhaseResult[] {
    const results: PhaseResult[] = [];
    for (const line of stdout.split("\n")) {
        const trimmed = line.trim();
        if (!trimmed.startsWith(`${RESULT_PREFIX} `)) continue;
        try {
            const parsed = JSON.parse(trimmed.slice(RESULT_PREFIX.length + 1)) as PhaseResult;
            if (typeof parsed.phase === "string" && typeof parsed.node === "string") results.push(parsed);
        } catch {
            // A truncated line is not a result; the phase's own exit status already tells success.
        }
    }
    return results;
}

/**
 * Wraps one node command so its stdout ends with the phase's timing as a result line. `phase` and
 * `node` are host names and phase words, so they need no JSON escaping; the check keeps it so.
 */
export function resultCommand(phase: string, node: string, command: string): string {
    if (!/^[a-z0-9-]+$/.test(phase) || !/^[a-z0-9-]+$/.test(node)) {
        throw new Error(`phase '${phase}' and node '${node}' must be lower-case words`);
    }
    return [
        "set -e",
        "started=$(date +%s.%N)",
        command,
        `printf '${RESULT_PREFIX} {"phase":"${phase}","node":"${node}","start":%s,"end":%s}\\n' "$started" "$(date +%s.%N)"`,
    ].join("\n");
}

export interface RestoreReport {
    startTime: string;
    endTime: string;
    durationSeconds: number;
    /** Wall time of each phase across the site: first start to last end. */
    phaseSeconds: Record<string, number>;
}

export function summarizeTimings(results: PhaseResult[]): RestoreReport {
    const timed = results.filter((r): r is PhaseResult & { start: number; end: number } => r.start !== undefined && r.end !== undefined);
    if (timed.length === 0) {
        throw new Error("no restore phase reported its timing");
    }
    const start = Math.min(...timed.map((t) => t.start));
    const end = Math.max(...timed.map((t) => t.end));
    const phaseSeconds: Record<string, number> = {};
    for (const phase of [...new Set(timed.map((t) => t.phase))]) {
        const mine = timed.filter((t) => t.phase === phase);
        phaseSeconds[phase] = round(Math.max(...mine.map((t) => t.end)) - Math.min(...mine.map((t) => t.start)));
    }
    return {
        startTime: new Date(start * 1000).toISOString(),
        endTime: new Date(end * 1000).toISOString(),
        durationSeconds: round(end - start),
        phaseSeconds,
    };
}

/** The revision `etcd-dr restore verify` reported, if it did. */
export function verifiedRevision(results: PhaseResult[]): number | undefined {
    return results.find((r) => r.phase === "verify" && Number.isInteger(r.revision))?.revision;
}

function round(seconds: number): number {
    return Math.round(seconds * 1000) / 1000;
}
