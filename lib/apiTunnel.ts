// The Kubernetes API of a site, from where Pulumi runs. The nodes' API is private, so the program
// holds an SSH tunnel open for the deployment: `ssh -N -L 127.0.0.1:<port>:<api host>:6443` to a
// control-plane node (through the bastion on OCI, directly in the lab), and the admin kubeconfig is
// rewritten to https://127.0.0.1:<port> with the API alias as TLS server name, which kubeadm put in
// the API certificate's SANs. The pure parts (ssh arguments, config file, kubeconfig rewrite, port
// choice) are plain functions; openApiTunnel runs the OpenSSH client inside the program's process
// and ends it when the process exits.

import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** One SSH login: the node, or the jump host (bastion) in front of it. */
export interface SshLogin {
    host: string;
    port: number;
    user: string;
    /** An OpenSSH private key's text. */
    privateKey: string;
    /** The host's public key, "ssh-ed25519 AAAA...", pinned when the platform knows it. */
    hostKey?: string;
}

export interface TunnelRoute {
    /** The node the tunnel logs in to. */
    node: SshLogin;
    /** A jump host (OCI's bastion) the node is reached through, with its own key. */
    jump?: SshLogin;
    /** Where the node reaches the API server. */
    target: { host: string; port: number };
}

/** Host names the generated ssh config uses, so host keys pin by alias and not by address. */
const NODE_ALIAS = "etcd-dr-api-node";
const JUMP_ALIAS = "etcd-dr-api-jump";

/** The host key algorithms that can present a given public key (RSA keys sign with SHA-2). */
export function hostKeyAlgorithms(hostKey: string): string {
    const type = hostKey.trim().split(/\s+/)[0];
    if (type === "ssh-rsa") return "rsa-sha2-512,rsa-sha2-256";
    if (!/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/.test(type)) {
        throw new Error(`host key '${hostKey.slice(0, 30)}' is not an OpenSSH public key ("ssh-ed25519 AAAA...")`);
    }
    return type;
}

/** Paths of the files a tunnel's ssh reads, all in one 0700 temp dir. */
export interface TunnelFiles {
    config: string;
    nodeKey: string;
    jumpKey: string;
    knownHosts: string;
}

export function tunnelFiles(dir: string): TunnelFiles {
    return {
        config: path.join(dir, "ssh_config"),
        nodeKey: path.join(dir, "node_key"),
        jumpKey: path.join(dir, "jump_key"),
        knownHosts: path.join(dir, "known_hosts"),
    };
}

function hostBlock(alias: string, login: SshLogin, key: string, files: TunnelFiles, extra: string[]): string[] {
    return [
        `Host ${alias}`,
        `    HostName ${login.host}`,
        `    Port ${login.port}`,
        `    User ${login.user}`,
        `    IdentityFile ${key}`,
        "    IdentitiesOnly yes",
        "    BatchMode yes",
        // Pinned by alias: the known_hosts file names the alias, whatever address the host has.
        `    HostKeyAlias ${alias}`,
        ...(login.hostKey
            ? ["    StrictHostKeyChecking yes", `    UserKnownHostsFile ${files.knownHosts}`, `    HostKeyAlgorithms ${hostKeyAlgorithms(login.hostKey)}`]
            : ["    StrictHostKeyChecking no", "    UserKnownHostsFile /dev/null", "    LogLevel ERROR"]),
        "    ServerAliveInterval 15",
        "    ServerAliveCountMax 3",
        "    ConnectTimeout 15",
        ...extra,
    ];
}

/** The ssh_config of a tunnel: the node, and the jump host it is reached through, if any. */
export function sshConfig(route: TunnelRoute, files: TunnelFiles): string {
    const lines = hostBlock(NODE_ALIAS, route.node, files.nodeKey, files, route.jump ? [`    ProxyJump ${JUMP_ALIAS}`] : []);
    if (route.jump) lines.push(...hostBlock(JUMP_ALIAS, route.jump, files.jumpKey, files, []));
    return `${lines.join("\n")}\n`;
}

/** known_hosts lines for the pinned host keys, by alias. */
export function knownHosts(route: TunnelRoute): string {
    const lines: string[] = [];
    if (route.node.hostKey) lines.push(`${NODE_ALIAS} ${route.node.hostKey.trim()}`);
    if (route.jump?.hostKey) lines.push(`${JUMP_ALIAS} ${route.jump.hostKey.trim()}`);
    return lines.length ? `${lines.join("\n")}\n` : "";
}

/** The ssh arguments: no command, only the forward; fail rather than run without it. */
export function sshArgs(route: TunnelRoute, files: TunnelFiles, localPort: number): string[] {
    return [
        "-F", files.config,
        "-N",
        "-o", "ExitOnForwardFailure=yes",
        "-L", `127.0.0.1:${localPort}:${route.target.host}:${route.target.port}`,
        NODE_ALIAS,
    ];
}

interface KubeconfigCluster {
    name?: string;
    cluster?: Record<string, unknown>;
}

/**
 * An admin kubeconfig whose clusters are reached at `server` and verified as `tlsServerName`: the
 * API certificate names the API alias and the host names (certSANs), not a tunnel's 127.0.0.1 or an
 * OCI front end's address, so the alias is what the client must check.
 */
export function kubeconfigFor(kubeconfig: string, server: string | undefined, tlsServerName: string): string {
    const doc = yaml.load(kubeconfig) as { clusters?: KubeconfigCluster[] } | undefined;
    if (!doc || typeof doc !== "object" || !Array.isArray(doc.clusters) || doc.clusters.length === 0) {
        throw new Error("the admin kubeconfig has no clusters; is /etc/kubernetes/admin.conf complete on the control-plane node?");
    }
    for (const entry of doc.clusters) {
        if (!entry.cluster) throw new Error(`the admin kubeconfig's cluster '${entry.name ?? "?"}' has no settings`);
        if (server !== undefined) entry.cluster.server = server;
        entry.cluster["tls-server-name"] = tlsServerName;
    }
    return yaml.dump(doc, { lineWidth: -1 });
}

/** An admin kubeconfig pointed at a tunnel's local port (see kubeconfigFor). */
export function tunnelKubeconfig(kubeconfig: string, localPort: number, tlsServerName: string): string {
    return kubeconfigFor(kubeconfig, `https://127.0.0.1:${localPort}`, tlsServerName);
}

/**
 * The local port a route prefers: the same on every run of the same stack, so the kubeconfig the
 * kubernetes provider is configured with does not change between runs (a changed server would
 * replace the provider and every object it manages). Below Linux's ephemeral range.
 */
export function preferredPort(seed: string): number {
    const n = createHash("sha256").update(seed).digest().readUInt32BE(0);
    return 20000 + (n % 10000);
}

function portFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

async function anyFreePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

function accepts(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

export interface ApiTunnel {
    port: number;
    close(): void;
}

// Runs ssh and ends it when the program's process ends, even when it is killed: a reader of the
// shell's stdin (a pipe from this process, kept on fd 3 because background jobs get /dev/null)
// sees end of file when this process is gone, and kills ssh.
const WRAPPER = 'exec 3<&0 </dev/null; ssh "$@" & pid=$!; { read -r _ <&3; kill "$pid" 2>/dev/null; } & wait "$pid"';

const open = new Set<() => void>();
let exitHooked = false;

function hookExit(): void {
    if (exitHooked) return;
    exitHooked = true;
    process.on("exit", () => {
        for (const close of [...open]) close();
    });
}

/**
 * Opens the tunnel: writes the keys (0600) and ssh config into a 0700 temp dir, starts ssh, and
 * resolves once the local port accepts connections. Rejects with ssh's own error when it exits
 * first (authentication, a host key that is not the pinned one, a port already forwarded) or after
 * timeoutMs. The child is killed and the dir removed by close() or when the process exits.
 */
export async function openApiTunnel(route: TunnelRoute, options: { seed: string; timeoutMs?: number }): Promise<ApiTunnel> {
    const preferred = preferredPort(options.seed);
    const port = (await portFree(preferred)) ? preferred : await anyFreePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-tunnel-"));
    fs.chmodSync(dir, 0o700);
    const files = tunnelFiles(dir);
    let child: ChildProcess | undefined;
    const close = () => {
        open.delete(close);
        if (child?.pid && child.exitCode === null && child.signalCode === null) {
            try {
                process.kill(-child.pid, "SIGTERM");
            } catch {
                // already gone
            }
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    open.add(close);
    hookExit();
    try {
        const write = (file: string, text: string) => fs.writeFileSync(file, text, { mode: 0o600 });
        write(files.nodeKey, keyText(route.node.privateKey));
        if (route.jump) write(files.jumpKey, keyText(route.jump.privateKey));
        write(files.knownHosts, knownHosts(route));
        write(files.config, sshConfig(route, files));
        let stderr = "";
        const spawned = spawn("/bin/sh", ["-c", WRAPPER, "sh", ...sshArgs(route, files, port)], {
            stdio: ["pipe", "ignore", "pipe"],
            detached: true,
        });
        child = spawned;
        spawned.stderr?.on("data", (d: Buffer) => (stderr += String(d)));
        // Neither the child nor its pipes may keep the program's event loop alive.
        spawned.unref();
        (spawned.stdin as unknown as { unref?: () => void } | null)?.unref?.();
        (spawned.stderr as unknown as { unref?: () => void } | null)?.unref?.();
        const deadline = Date.now() + (options.timeoutMs ?? 60_000);
        const where = `${route.node.user}@${route.node.host}:${route.node.port}${route.jump ? ` via ${route.jump.user}@${route.jump.host}:${route.jump.port}` : ""}`;
        for (;;) {
            if (spawned.exitCode !== null || spawned.signalCode !== null) {
                throw new Error(`the SSH tunnel to the Kubernetes API (${where}) ended: ${stderr.trim() || `ssh exited ${spawned.exitCode}`}`);
            }
            if (await accepts(port)) break;
            if (Date.now() > deadline) {
                throw new Error(`the SSH tunnel to the Kubernetes API (${where}) did not open 127.0.0.1:${port} in time: ${stderr.trim()}`);
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        return { port, close };
    } catch (error) {
        close();
        throw error;
    }
}

/** OpenSSH refuses a key file with CRLF line ends or without the final newline. */
function keyText(key: string): string {
    return `${key.replace(/\r\n?/g, "\n").trim()}\n`;
}
