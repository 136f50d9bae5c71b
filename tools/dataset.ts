// The drill's raw etcd data set: Kubernetes-shaped keys, some values of hundreds of KiB, written
// into the primary's etcd in transactions under a prefix of its own (the live cluster's keys change
// all the time; these must not), and read back from either site to compare byte for byte.

import { execFileSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LabAccess } from "./lab";

export interface DataSet {
    entries: Map<string, string>;
}

const KINDS = ["configmaps", "secrets", "deployments", "pods", "services", "leases"];
/** No resource of the apiserver lives here, so nothing but the drill writes or deletes these keys. */
export const DATA_PREFIX = "/registry/etcd-dr-drill/";

export function makeDataSet(generation: number, keys: number, bigValues: number): DataSet {
    const entries = new Map<string, string>();
    for (let i = 0; i < keys; i++) {
        const kind = KINDS[i % KINDS.length];
        const namespace = `team-${(i % 17).toString().padStart(2, "0")}`;
        entries.set(`${DATA_PREFIX}${kind}/${namespace}/g${generation}-${i.toString().padStart(5, "0")}`, randomBytes(64 + (i % 900)).toString("base64"));
    }
    for (let i = 0; i < bigValues; i++) {
        entries.set(`${DATA_PREFIX}secrets/kube-system/g${generation}-blob-${i}`, randomBytes(150_000 + i * 60_000).toString("base64"));
    }
    return { entries };
}

/** What `etcdctl get --prefix DATA_PREFIX` prints for these entries: key and value lines, in key order. */
export function expectedDump(...sets: DataSet[]): { sha256: string; keys: number } {
    const all = new Map<string, string>();
    for (const set of sets) for (const [k, v] of set.entries) all.set(k, v);
    const hash = createHash("sha256");
    for (const key of [...all.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        hash.update(`${key}\n${all.get(key)}\n`);
    }
    return { sha256: hash.digest("hex"), keys: all.size };
}

const ETCDCTL = LabAccess.ETCDCTL;

/** Ships the data set as files and loads it with 100-put transactions (etcd allows 128 ops per txn). */
export function loadDataSet(lab: LabAccess, data: DataSet): number {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-data-"));
    try {
        const small = [...data.entries].filter(([, v]) => v.length < 100_000);
        for (let i = 0; i < small.length; i += 100) {
            const ops = small.slice(i, i + 100).map(([k, v]) => `put ${k} ${v}`).join("\n");
            // No compares, then the puts, then no failure ops: each block ends with an empty line.
            fs.writeFileSync(path.join(dir, `txn-${String(i / 100).padStart(4, "0")}`), `\n${ops}\n\n\n`);
        }
        [...data.entries].filter(([, v]) => v.length >= 100_000).forEach(([k, v], i) => {
            fs.writeFileSync(path.join(dir, `big-${i}.key`), k);
            fs.writeFileSync(path.join(dir, `big-${i}`), v);
        });
        const tarball = execFileSync("tar", ["-C", dir, "-cf", "-", "."], { maxBuffer: 1024 * 1024 * 1024 });
        const script = [
            "set -euo pipefail",
            "work=$(mktemp -d)",
            "tar -xf - -C \"$work\"",
            `for f in "$work"/txn-*; do out=$(${ETCDCTL} txn < "$f"); [ "\${out%%$'\\n'*}" = SUCCESS ] || { echo "txn $f: $out" >&2; exit 1; }; done`,
            `for f in "$work"/big-*; do case "$f" in *.key) continue ;; esac; ${ETCDCTL} put "$(cat "$f.key")" < "$f" >/dev/null; done`,
            "rm -rf \"$work\"",
            `${ETCDCTL} endpoint status -w fields | sed -n 's/^"Revision" : //p'`,
        ].join("\n");
        return Number(lab.ok("primary", "cp1", `bash -c "$(printf %s ${Buffer.from(script).toString("base64")} | base64 -d)"`, tarball).trim());
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export function dumpOf(lab: LabAccess, site: "primary" | "standby", node = "cp1"): { sha256: string; keys: number } {
    const out = lab.ok(site, node, `${ETCDCTL} get --prefix ${DATA_PREFIX} | sha256sum | cut -c1-64; ${ETCDCTL} get --prefix ${DATA_PREFIX} --keys-only | sed '/^$/d' | wc -l`);
    const [sha256, keys] = out.trim().split("\n");
    return { sha256, keys: Number(keys) };
}

export function membership(lab: LabAccess, site: "primary" | "standby"): { name: string; peerUrl: string }[] {
    return lab.ok(site, "cp1", `${ETCDCTL} member list`).trim().split("\n").map((line) => {
        const fields = line.split(", ");
        return { name: fields[2], peerUrl: fields[3] };
    }).sort((a, b) => a.name.localeCompare(b.name));
}
