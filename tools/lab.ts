// Access to the running lab, from its lab.json, over SSH only (the drill and the tests use it).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const LAB_DIR = process.env.ETCD_DR_LAB_DIR ?? "/var/lib/etcd-dr-lab";
/** The node toolkit exactly as a node receives it: node/etcd-dr with its node/lib parts assembled. */
export { readToolkit as toolkitText } from "../lib/toolkitSource";

export interface LabNode {
    name: string;
    address: string;
    role: "control-plane" | "worker";
}

export interface Lab {
    sshKey: string;
    sshPublicKey: string;
    cluster: string;
    snapshotPrefix: string;
    store: { primaryWriteUrl: string; standbyReadUrl: string; replicationLagSeconds: number; parExpiresAt: string };
    sites: Record<"primary" | "standby", { bridge: string; hostAddress: string; nodes: LabNode[] }>;
}

export type Site = keyof Lab["sites"];

export function readLab(): Lab {
    const file = path.join(LAB_DIR, "lab.json");
    if (!fs.existsSync(file)) {
        throw new Error(`${file} is missing: bring the lab up first (npm run lab -- up)`);
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as Lab;
}

export interface Run {
    status: number;
    stdout: string;
    stderr: string;
}

export class LabAccess {
    /** etcdctl against a node's own etcd, with kubeadm's certificate paths. */
    static readonly ETCDCTL = "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt " +
        "--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key";

    constructor(readonly lab: Lab = readLab()) {}

    node(site: Site, name: string): LabNode {
        const node = this.lab.sites[site].nodes.find((n) => n.name === name);
        if (!node) throw new Error(`no node ${name} on ${site}`);
        return node;
    }

    controlPlane(site: Site): LabNode[] {
        return this.lab.sites[site].nodes.filter((n) => n.role === "control-plane");
    }

    ssh(site: Site, name: string, command: string, input?: string | Buffer): Run {
        const node = this.node(site, name);
        const result = spawnSync("ssh", [
            "-i", this.lab.sshKey, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", `root@${node.address}`, command,
        ], { input, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        if (result.error) throw result.error;
        return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
    }

    /** Runs and throws with the remote stderr when the command fails. */
    ok(site: Site, name: string, command: string, input?: string | Buffer): string {
        const run = this.ssh(site, name, command, input);
        if (run.status !== 0) {
            throw new Error(`${site}/${name}: \`${command}\` exited ${run.status}: ${run.stderr.trim()}`);
        }
        return run.stdout;
    }

    etcdctl(site: Site, name: string, args: string, input?: string | Buffer): string {
        return this.ok(site, name, `${LabAccess.ETCDCTL} ${args}`, input);
    }
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}
