// Lists the committed snapshots in a stack's snapshot store, newest first, with age, size, revision
// and whether each verifies (every object's sha256, decryption with the stack's key,
// decompression, the decoded database's sha256). Committed: the manifest and every object it names
// are there at its sizes; on a replica the manifest can arrive before its data, and such a snapshot
// is named as still arriving.
//
//   npm run snapshots -- <stack> [--json] [--verify <count>|all] [--no-verify]
//
// Verifying downloads a snapshot (streamed, in constant memory): only the newest three by default,
// the ones a failover picks from; `--verify all` checks every one (with 15-minute backups and
// 14-day retention, some 1,300 downloads).
//
// It reads the store's URL and the key from the stack's outputs (`pulumi stack output`), so it
// runs where `pulumi` runs, against the stack's backend.

import { spawnSync } from "child_process";
import * as path from "path";
import { Readable } from "stream";
import type { ReadableStream as WebReadableStream } from "stream/web";
import { committedSnapshots, verifySnapshot } from "../lib/bundle";
import { httpFetch } from "../lib/store";

interface StackOutputs {
    snapshotStore?: { readUrl?: string; prefix: string; cluster: string };
    encryptionKey?: string;
}

function fail(message: string): never {
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
}

function stackOutputs(stack: string): StackOutputs {
    const result = spawnSync("pulumi", ["stack", "output", "--stack", stack, "--json", "--show-secrets", "--non-interactive"], {
        cwd: path.resolve(__dirname, ".."),
        encoding: "utf8",
    });
    if (result.error) fail("the pulumi CLI is not on PATH (for the lab: source scripts/engine-env.sh)");
    if (result.status !== 0) fail(`cannot read the outputs of stack '${stack}': ${result.stderr.trim().split("\n").pop()}`);
    return JSON.parse(result.stdout) as StackOutputs;
}

/** How many of the newest snapshots to verify: --verify <count>|all, --no-verify; three by default. */
const DEFAULT_VERIFY = 3;
function verifyCount(args: string[]): number {
    if (args.includes("--no-verify")) return 0;
    const at = args.indexOf("--verify");
    if (at < 0) return DEFAULT_VERIFY;
    const value = args[at + 1] ?? "";
    if (value === "all") return Number.POSITIVE_INFINITY;
    if (!/^\d+$/.test(value)) fail(`--verify takes a number of snapshots or 'all', not '${value}'`);
    return Number(value);
}

function age(from: Date, now: Date): string {
    const seconds = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
    if (seconds < 120) return `${seconds}s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
    if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
    return `${Math.round(seconds / 86_400)}d`;
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const stack = args.find((a, i) => !a.startsWith("-") && args[i - 1] !== "--verify");
    if (!stack) fail("name the stack whose snapshots to list, e.g. npm run snapshots -- standby");
    const unknown = args.filter((a) => a.startsWith("-") && !["--json", "--verify", "--no-verify"].includes(a));
    if (unknown.length > 0) fail(`unknown option ${unknown[0]}; use --json, --verify <count>|all or --no-verify`);
    const toVerify = verifyCount(args);
    const outputs = stackOutputs(stack);
    const store = outputs.snapshotStore;
    if (!store) fail(`stack '${stack}' has no snapshotStore output; run pulumi up on it first`);
    if (!store.readUrl) {
        fail(`stack '${stack}' can only write its store (a write-only PAR); list the snapshots from the standby's replica instead`);
    }
    const readUrl = store.readUrl;
    // Streamed: a database of several GiB is checked as it arrives, never held in memory.
    const fetchObject = async (url: string) => {
        const response = await fetch(url);
        const body = response.body ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) : Readable.from([]);
        return { status: response.status, body };
    };
    const now = new Date();
    const { committed, incomplete } = await committedSnapshots(readUrl, store.prefix, httpFetch);
    const rows = [];
    for (const [i, snapshot] of committed.entries()) {
        const verified = toVerify === 0
            ? "not checked"
            : i >= toVerify
              ? "not checked (--verify all)"
              : (await verifySnapshot(readUrl, `${store.prefix}${snapshot.id}/`, snapshot.id, outputs.encryptionKey, fetchObject)).problem ?? "yes";
        rows.push({ ...snapshot, verified });
    }
    // stderr, so that --json stays one parseable line.
    for (const { id, reason } of incomplete) {
        process.stderr.write(`not listed: snapshot ${id} is not committed in this store (${reason})\n`);
    }
    if (args.includes("--json")) {
        process.stdout.write(`${JSON.stringify(rows.map((r) => ({ id: r.id, createdAt: r.createdAt.toISOString(), ageSeconds: Math.round((now.getTime() - r.createdAt.getTime()) / 1000), sizeBytes: r.sizeBytes, revision: r.revision, verified: r.verified })))}\n`);
        return;
    }
    process.stdout.write(`${"ID".padEnd(26)} ${"CREATED (UTC)".padEnd(20)} ${"AGE".padStart(5)} ${"SIZE".padStart(12)} ${"REVISION".padStart(9)}  VERIFIES\n`);
    for (const r of rows) {
        process.stdout.write(`${r.id.padEnd(26)} ${r.createdAt.toISOString().slice(0, 19).padEnd(20)} ${age(r.createdAt, now).padStart(5)} ${String(r.sizeBytes).padStart(12)} ${String(r.revision).padStart(9)}  ${r.verified}\n`);
    }
    process.stdout.write(`${rows.length} committed snapshot(s) of cluster ${store.cluster}\n`);
}

main().catch((error: Error) => fail(error.message));
