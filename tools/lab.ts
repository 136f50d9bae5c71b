// Access to the lab's two sites as the drill and the tests reach them: over SSH as the instances'
// login user (`ubuntu`), every command through `sudo -n`, as an operator on an OCI node would.
// The sites are what the lab stacks built: their `nodes` outputs say which host is where.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { shellQuote } from "../lib/shell";

export const LAB_DIR = process.env.ETCD_DR_LAB_DIR ?? "/var/lib/etcd-dr-lab";
/** The node toolkit exactly as a node receives it: node/etcd-dr with its node/lib parts assembled. */
export { readToolkit as toolkitText } from "../lib/toolkitSource";

export interface LabNode {
    name: string;
    address: string;
    role: "control-plane" | "worker";
}

export interface Lab {
    /** The private key the stacks' instances accept (its public half is in their config). */
    sshKey: string;
    user: string;
    sites: Record<"primary" | "standby", { nodes: LabNode[] }>;
}

export type Site = keyof Lab["sites"];

/** The key pair the lab stacks log in with, made once per lab (lab/cloud.sh down removes it). */
export function labKey(): { privateKeyFile: string; publicKey: string } {
    const file = path.join(LAB_DIR, "keys", "id_ed25519");
    if (!fs.existsSync(file)) {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "etcd-dr-lab", "-f", file]);
    }
    return { privateKeyFile: file, publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

export interface Run {
    status: number;
    stdout: string;
    stderr: string;
}

export class LabAccess {
    /** etcdctl against a node's own etcd, with kubeadm's certificate paths. */
    static readonly ETCDCTL = "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt " +
        "--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key";
    /** kubectl as the cluster's admin, on a control-plane node. */
    static readonly KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

    constructor(readonly lab: Lab) {}

    node(site: Site, name: string): LabNode {
        const node = this.lab.sites[site].nodes.find((n) => n.name === name);
        if (!node) throw new Error(`no node ${name} on ${site}`);
        return node;
    }

    controlPlane(site: Site): LabNode[] {
        return this.lab.sites[site].nodes.filter((n) => n.role === "control-plane");
    }

    /** ssh's arguments to reach `address` as `user` with the lab's key; `logLevel` ERROR hides sshd's refusals too. */
    sshArgs(address: string, user: string, logLevel = "ERROR"): string[] {
        return [
            "-i", this.lab.sshKey, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", `LogLevel=${logLevel}`, "-o", "ConnectTimeout=5", `${user}@${address}`,
        ];
    }

    /** Runs `command` as root on the node (bash, through sudo); never throws for its exit status. */
    ssh(site: Site, name: string, command: string, input?: string | Buffer): Run {
        const node = this.node(site, name);
        const result = spawnSync("ssh", [...this.sshArgs(node.address, this.lab.user), `sudo -n /bin/bash -c ${shellQuote(command)}`],
            { input, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
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

    kubectl(site: Site, args: string, input?: string | Buffer): string {
        return this.ok(site, this.controlPlane(site)[0].name, `${LabAccess.KUBECTL} ${args}`, input);
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
