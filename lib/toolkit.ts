// What Pulumi installs on the nodes: the bash toolkit (node/etcd-dr) and its settings file.
// Pure rendering, so the exact bytes that land on a node can be tested without a node.

import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "./cloudinit";

export const TOOLKIT_PATH = path.join(__dirname, "..", "node", "etcd-dr");
export const REMOTE_TOOLKIT = "/usr/local/sbin/etcd-dr";
export const REMOTE_SETTINGS = "/etc/etcd-dr/etcd-dr.env";
export const REMOTE_KEY = "/etc/etcd-dr/encryption.key";

export function readToolkit(): string {
    return fs.readFileSync(TOOLKIT_PATH, "utf8");
}

export function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

export interface ToolkitSettings {
    cluster: string;
    prefix: string;
    /** Control-plane host names of this site, in topology order. */
    members: string[];
    kubernetesVersion: string;
    writeUrl?: string;
    readUrl?: string;
    onCalendar: string;
    randomizedDelaySec: number;
    compression: "gzip" | "zstd" | "none";
}

/** The settings file, mode 0600 on the node. Secret values (PAR URLs) are in it; the key is not. */
export function renderSettings(s: ToolkitSettings): string {
    const lines: [string, string | undefined][] = [
        ["ETCD_DR_CLUSTER", s.cluster],
        ["ETCD_DR_PREFIX", s.prefix],
        ["ETCD_DR_MEMBERS", s.members.join(",")],
        ["ETCD_DR_KUBERNETES_VERSION", s.kubernetesVersion],
        ["ETCD_DR_WRITE_URL", s.writeUrl],
        ["ETCD_DR_READ_URL", s.readUrl],
        ["ETCD_DR_ENCRYPTION_KEY_FILE", REMOTE_KEY],
        ["ETCD_DR_COMPRESSION", s.compression],
        ["ETCD_DR_ON_CALENDAR", s.onCalendar],
        ["ETCD_DR_RANDOMIZED_DELAY", `${s.randomizedDelaySec}s`],
    ];
    const body = lines
        .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
        .map(([key, value]) => `${key}=${shellQuote(value)}`)
        .join("\n");
    return `# Written by Pulumi (etcd-dr BackupSchedule/NodeToolkit). Changes here are overwritten.\n${body}\n`;
}

/** A timing line every restore phase prints last, so the component can report durations. */
export const TIMING_PREFIX = "etcd-dr-timing";

/** Wraps one toolkit command so its stdout ends with "etcd-dr-timing <phase> <node> <start> <end>". */
export function timedCommand(phase: string, node: string, command: string): string {
    return [
        "set -e",
        "started=$(date +%s.%N)",
        command,
        `echo "${TIMING_PREFIX} ${phase} ${node} $started $(date +%s.%N)"`,
    ].join("\n");
}

export interface PhaseTiming {
    phase: string;
    node: string;
    start: number;
    end: number;
}

export function parseTimings(stdout: string): PhaseTiming[] {
    return stdout
        .split("\n")
        .map((line) => line.trim().split(" "))
        .filter((parts) => parts[0] === TIMING_PREFIX && parts.length === 5)
        .map(([, phase, node, start, end]) => ({ phase, node, start: Number(start), end: Number(end) }));
}

export interface RestoreReport {
    startTime: string;
    endTime: string;
    durationSeconds: number;
    /** Wall time of each phase across the site: first start to last end. */
    phaseSeconds: Record<string, number>;
}

export function summarizeTimings(timings: PhaseTiming[]): RestoreReport {
    if (timings.length === 0) {
        throw new Error("no restore phase reported its timing");
    }
    const start = Math.min(...timings.map((t) => t.start));
    const end = Math.max(...timings.map((t) => t.end));
    const phaseSeconds: Record<string, number> = {};
    for (const phase of [...new Set(timings.map((t) => t.phase))]) {
        const mine = timings.filter((t) => t.phase === phase);
        phaseSeconds[phase] = round(Math.max(...mine.map((t) => t.end)) - Math.min(...mine.map((t) => t.start)));
    }
    return {
        startTime: new Date(start * 1000).toISOString(),
        endTime: new Date(end * 1000).toISOString(),
        durationSeconds: round(end - start),
        phaseSeconds,
    };
}

function round(seconds: number): number {
    return Math.round(seconds * 1000) / 1000;
}

/** The etcd revision `etcd-dr restore verify` reports ("... revision N (snapshot M)"). */
export function parseVerifiedRevision(stdout: string): number | undefined {
    const match = /^verified snapshot \S+: members \S+ healthy, revision (\d+)/m.exec(stdout);
    return match ? Number(match[1]) : undefined;
}
