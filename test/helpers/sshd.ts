// A real OpenSSH server on loopback with keys made for one test, stopped by the PID it wrote. Its
// configuration is a stock one in what matters to clients: RSA, ECDSA and Ed25519 host keys (as
// `ssh-keygen -A` makes them on install) and no AcceptEnv, so SSH "env" requests are refused.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { freePort } from "./ports";

export interface Sshd {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    privateKeyPath: string;
    /** The client key's public half, "ssh-ed25519 AAAA... comment". */
    publicKey: string;
    /** The server's host keys as `ssh-keyscan` prints them, without the host: "type base64". */
    hostKeys: { rsa: string; ecdsa: string; ed25519: string };
    dir: string;
    stop(): void;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => { socket.end(); resolve(true); });
            socket.on("error", () => resolve(false));
        });
        if (open) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export async function startSshd(): Promise<Sshd> {
    const sshd = "/usr/sbin/sshd";
    if (!fs.existsSync(sshd)) {
        throw new Error("/usr/sbin/sshd is missing; `make test` installs openssh-server");
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-sshd-"));
    const keygen = (file: string, type: string) => execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path.join(dir, file)]);
    const hostTypes = ["rsa", "ecdsa", "ed25519"] as const;
    for (const type of hostTypes) keygen(`host_${type}_key`, type);
    keygen("client_key", "ed25519");
    fs.copyFileSync(path.join(dir, "client_key.pub"), path.join(dir, "authorized_keys"));
    const port = await freePort();
    fs.writeFileSync(path.join(dir, "sshd_config"), [
        "ListenAddress 127.0.0.1",
        `Port ${port}`,
        ...hostTypes.map((type) => `HostKey ${dir}/host_${type}_key`),
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        `PidFile ${dir}/sshd.pid`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "",
    ].join("\n"));
    fs.mkdirSync("/run/sshd", { recursive: true });
    execFileSync(sshd, ["-f", path.join(dir, "sshd_config"), "-E", path.join(dir, "sshd.log")]);
    await waitForPort(port, 10_000);
    const pid = Number(fs.readFileSync(path.join(dir, "sshd.pid"), "utf8").trim());
    const hostKey = (type: string) => fs.readFileSync(path.join(dir, `host_${type}_key.pub`), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    return {
        host: "127.0.0.1",
        port,
        user: os.userInfo().username,
        privateKeyPath: path.join(dir, "client_key"),
        privateKey: fs.readFileSync(path.join(dir, "client_key"), "utf8"),
        publicKey: fs.readFileSync(path.join(dir, "client_key.pub"), "utf8").trim(),
        hostKeys: { rsa: hostKey("rsa"), ecdsa: hostKey("ecdsa"), ed25519: hostKey("ed25519") },
        dir,
        stop() {
            try {
                process.kill(pid, "SIGTERM");
            } catch {
                // already gone
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
