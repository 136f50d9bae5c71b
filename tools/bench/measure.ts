// What every bench section shares: the measurement a section returns, the line `make bench` prints
// for it, and the wall time and peak memory of one command's whole process tree.

import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export type Unit = "s" | "MiB" | "bytes";

/** What a section measured: the project's figure and the floor taken in the same run. */
export interface Measurement {
    /** Unique within its section, e.g. "lab-standby-preview-time". */
    name: string;
    figure: number;
    /** The least the same work costs on this machine, measured in the same run; null where none applies. */
    floor: number | null;
    unit: Unit;
    detail: Record<string, unknown>;
}

export interface SectionContext {
    /** How many times each command runs; figures are medians. */
    runs: number;
    /** Progress for the operator, on stderr: stdout carries only the JSON lines. */
    progress(message: string): void;
}

/** A bench section: a module under tools/bench/ exports one, tools/bench.ts names it. */
export type Section = (context: SectionContext) => Promise<Measurement[]>;

export interface Machine {
    cores: number;
    memGiB: number;
    kernel: string;
}

/** One line of `make bench`'s output. */
export interface BenchLine {
    bench: string;
    figure: number;
    floor: number | null;
    ratio: number | null;
    unit: Unit;
    machine: Machine;
    at: string;
    detail: Record<string, unknown>;
}

export function machine(): Machine {
    return { cores: os.cpus().length, memGiB: round(os.totalmem() / 2 ** 30, 1), kernel: os.release() };
}

export function round(value: number, digits: number): number {
    const scale = 10 ** digits;
    return Math.round(value * scale) / scale;
}

/** figure / floor, or null where there is no floor to compare with. */
export function ratio(figure: number, floor: number | null): number | null {
    if (floor === null || !Number.isFinite(floor) || floor <= 0) return null;
    return round(figure / floor, 2);
}

export function median(values: number[]): number {
    if (values.length === 0) throw new Error("median of no values");
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function benchLine(section: string, measurement: Measurement, host: Machine, at: Date): BenchLine {
    return {
        bench: `${section}/${measurement.name}`,
        figure: measurement.figure,
        floor: measurement.floor,
        ratio: ratio(measurement.figure, measurement.floor),
        unit: measurement.unit,
        machine: host,
        at: at.toISOString(),
        detail: measurement.detail,
    };
}

export const MIB = 1024 * 1024;

export function toMiB(bytes: number): number {
    return round(bytes / MIB, 1);
}

/** VmRSS of a /proc/<pid>/status text, in bytes; null for a process without memory (a zombie). */
export function parseVmRss(status: string): number | null {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
}

/** The pids in a /proc/<pid>/task/<tid>/children text. */
export function parseChildren(text: string): number[] {
    return text.split(/\s+/).filter(Boolean).map(Number);
}

/** GNU time's `-f "%M %U %S"` line (the last: a failed command's status line comes first), in bytes and seconds. */
export function parseGnuTime(text: string): { maxRssBytes: number; cpuSeconds: number } | null {
    const match = /^(\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(text.trim().split("\n").pop() ?? "");
    return match ? { maxRssBytes: Number(match[1]) * 1024, cpuSeconds: round(Number(match[2]) + Number(match[3]), 2) } : null;
}

/** One sample of a process tree: each process's command name and resident bytes. */
export type TreeSample = { command: string; rss: number }[];

/** The peak of the tree's summed RSS over the samples, and each command name's own peak (same-named processes summed). */
export function treePeaks(samples: TreeSample[]): { total: number; byCommand: Record<string, number> } {
    let total = 0;
    const byCommand: Record<string, number> = {};
    for (const sample of samples) {
        total = Math.max(total, sample.reduce((sum, p) => sum + p.rss, 0));
        const summed = new Map<string, number>();
        for (const p of sample) summed.set(p.command, (summed.get(p.command) ?? 0) + p.rss);
        for (const [command, rss] of summed) byCommand[command] = Math.max(byCommand[command] ?? 0, rss);
    }
    return { total, byCommand };
}

function readOr(file: string): string | null {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return null; // the process or thread ended between listing and reading
    }
}

/**
 * Whether the kernel lists each thread's children (CONFIG_PROC_CHILDREN): without the lists the
 * tree would be its root alone, and its memory far too low.
 */
export function threadChildrenListed(proc = "/proc", pid = process.pid): boolean {
    return fs.existsSync(path.join(proc, String(pid), "task", String(pid), "children"));
}

/** Every live descendant of `root` (not root itself), found through each thread's children list. */
export function descendants(root: number): number[] {
    const found: number[] = [];
    const queue = [root];
    while (queue.length > 0) {
        const pid = queue.shift() as number;
        let tasks: string[];
        try {
            tasks = fs.readdirSync(`/proc/${pid}/task`);
        } catch {
            continue;
        }
        // A Go process forks from whichever thread runs the goroutine: every thread has its own list.
        for (const tid of tasks) {
            for (const child of parseChildren(readOr(`/proc/${pid}/task/${tid}/children`) ?? "")) {
                if (!found.includes(child)) {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
    }
    return found;
}

function sampleTree(root: number, skipRoot: boolean): TreeSample {
    const sample: TreeSample = [];
    for (const pid of skipRoot ? descendants(root) : [root, ...descendants(root)]) {
        const status = readOr(`/proc/${pid}/status`);
        const rss = status ? parseVmRss(status) : null;
        if (status && rss !== null) sample.push({ command: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?", rss });
    }
    return sample;
}

export interface CommandRun {
    status: number;
    seconds: number;
    /**
     * Peak of the summed RSS of the command and all its descendants, sampled every `intervalMs`,
     * raised to GNU time's exact peak of the largest single process where sampling missed it.
     */
    peakTreeBytes: number;
    /** GNU time's %M: the largest single process's exact peak (null without /usr/bin/time). */
    largestProcessBytes: number | null;
    /**
     * User + system CPU time of the command and every descendant it waited for (GNU time's %U + %S;
     * null without it): what a busy machine stretches the wall time from.
     */
    cpuSeconds: number | null;
    /** Each command name's own sampled peak, e.g. {pulumi: ..., node: ...}. */
    peakByCommand: Record<string, number>;
    stdout: string;
    stderr: string;
}

export interface CommandOptions {
    cwd: string;
    env: NodeJS.ProcessEnv;
    intervalMs?: number;
    timeoutMs?: number;
}

const GNU_TIME = "/usr/bin/time";

/**
 * Runs a command and measures its wall time and the peak memory of its whole process tree.
 *
 * Why both sampling and GNU time: `time -f %M` is the kernel's exact high-water mark, but of one
 * process only -- wait4's ru_maxrss for children is the largest descendant's, never their sum --
 * and a `pulumi preview` is a tree (the CLI, the language host, node, provider plugins) whose
 * processes peak together. /proc sampling sums the tree but can miss a spike shorter than its
 * interval; the larger of the two is the figure, and both are reported. A cgroup's peak would be
 * exact for the tree, but it counts the page cache of every file the program reads (node_modules)
 * and needs a writable cgroup hierarchy, which this host's cgroup v1 and the lab's nspawn share.
 */
export function measureCommand(command: string, args: string[], options: CommandOptions): Promise<CommandRun> {
    if (!threadChildrenListed()) {
        return Promise.reject(new Error("this kernel has no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN): a process tree's memory cannot be measured"));
    }
    const interval = options.intervalMs ?? 50;
    const timed = fs.existsSync(GNU_TIME);
    const timeFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-bench-time-")), "maxrss");
    const [file, argv] = timed ? [GNU_TIME, ["-f", "%M %U %S", "-o", timeFile, command, ...args]] : [command, args];
    return new Promise((resolve, reject) => {
        const started = performance.now();
        // Its own process group, so that a timeout ends the whole tree.
        const child = spawn(file, argv, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        const samples: TreeSample[] = [];
        const sample = () => {
            if (child.pid !== undefined) samples.push(sampleTree(child.pid, timed));
        };
        sample();
        const sampler = setInterval(sample, interval);
        const timeout = setTimeout(() => {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        }, options.timeoutMs ?? 600_000);
        child.on("error", (error) => {
            clearInterval(sampler);
            clearTimeout(timeout);
            reject(error);
        });
        child.on("close", (code, signal) => {
            const seconds = (performance.now() - started) / 1000;
            clearInterval(sampler);
            clearTimeout(timeout);
            const gnuTime = timed ? parseGnuTime(readOr(timeFile) ?? "") : null;
            const largest = gnuTime ? gnuTime.maxRssBytes : null;
            fs.rmSync(path.dirname(timeFile), { recursive: true, force: true });
            const peaks = treePeaks(samples);
            resolve({
                status: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : -1),
                seconds,
                peakTreeBytes: Math.max(peaks.total, largest ?? 0),
                largestProcessBytes: largest,
                cpuSeconds: gnuTime ? gnuTime.cpuSeconds : null,
                peakByCommand: peaks.byCommand,
                stdout: Buffer.concat(stdout).toString("utf8"),
                stderr: Buffer.concat(stderr).toString("utf8"),
            });
        });
    });
}
