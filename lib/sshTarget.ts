// A node as a dynamic provider sees it (components/dr/installedState.ts): the connection fields of
// its inputs or of its stored outputs, in whatever form the engine hands them over, made into what
// the `ssh` client needs. Pure, so each form is tested without an engine.
//
// The forms. @pulumi/pulumi's dynamic provider host (cmd/dynamic-provider/index.ts) answers
// Configure with acceptSecrets false, so the engine (provider_plugin.go, MarshalProperties with
// KeepSecrets false) normally sends secrets as plain values. But the same host passes `props`
// through Struct.toJavaScript() untouched: wherever a secret is kept -- a provider that reports
// acceptSecrets, a value the SDK serialised itself (runtime/rpc.ts serializeProperty), outputs read
// back through rpc.deserializeProperties -- it arrives as the signature object
// { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: ... }, possibly
// around a whole object (the bastion) and again inside it, or as that object's JSON text. The state
// file's form, the same signature with `ciphertext` instead of `value`, means the value was never
// decrypted and cannot be used. Keys pasted on Windows carry CRLF, and config values may lose the
// final newline; OpenSSH refuses such a key file and then reports only "Permission denied".

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface SshEndpoint {
    host: string;
    port: number;
    user: string;
    /** An OpenSSH private key file's text, LF line ends, ending in a newline. */
    privateKey: string;
    /** One public key, "ssh-ed25519 AAAA...", to pin; none means any key is accepted. */
    hostKey?: string;
}

export interface SshTarget extends SshEndpoint {
    proxy?: SshEndpoint;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The value inside any secret signature objects (or their JSON text), at any depth. */
export function unwrapSecrets(value: unknown, where = "a value"): unknown {
    if (typeof value === "string" && value.startsWith("{") && value.includes(SIG_KEY)) {
        try {
            return unwrapSecrets(JSON.parse(value) as unknown, where);
        } catch {
            return value;
        }
    }
    if (Array.isArray(value)) return value.map((v) => unwrapSecrets(v, where));
    if (!isRecord(value)) return value;
    if (value[SIG_KEY] === SECRET_SIG) {
        if ("value" in value) return unwrapSecrets(value.value, where);
        throw new Error(`${where} is still encrypted (a state file's ciphertext reached the provider); run the command with the stack's secrets provider or passphrase`);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v, `${where}.${k}`)]));
}

/** A private key as `ssh -i` reads it. */
export function normalizePrivateKey(key: string): string {
    const text = key.replace(/\r\n?/g, "\n").trim();
    return `${text}\n`;
}

function endpoint(raw: unknown, where: string, defaultPort: number): SshEndpoint {
    if (!isRecord(raw)) throw new Error(`${where} is not a connection (got ${raw === null ? "null" : typeof raw})`);
    const { host, user, privateKey, hostKey } = raw;
    const port = raw.port === undefined || raw.port === null ? defaultPort : Number(raw.port);
    if (typeof host !== "string" || host === "") throw new Error(`${where}.host is missing`);
    if (typeof user !== "string" || user === "") throw new Error(`${where}.user is missing`);
    if (!Number.isInteger(port) || port <= 0 || port >= 65536) throw new Error(`${where}.port '${String(raw.port)}' is not a TCP port`);
    if (typeof privateKey !== "string" || !privateKey.includes("PRIVATE KEY")) {
        const got = typeof privateKey === "string" ? "text that is not a private key" : privateKey === undefined ? "nothing" : typeof privateKey;
        throw new Error(`${where}.privateKey is not an OpenSSH private key (got ${got})`);
    }
    return {
        host,
        port,
        user,
        privateKey: normalizePrivateKey(privateKey),
        ...(typeof hostKey === "string" && hostKey.trim() !== "" ? { hostKey: hostKey.trim() } : {}),
    };
}

/** The node and its bastion out of a dynamic resource's props (inputs or stored outputs), in any form above. */
export function sshTargetOf(props: Record<string, unknown>, where = "the node"): SshTarget {
    const plain = unwrapSecrets(props, where) as Record<string, unknown>;
    const node = endpoint(plain, where, 22);
    const proxy = plain.proxy === undefined || plain.proxy === null ? undefined : endpoint(plain.proxy, `${where}.proxy`, 22);
    return proxy ? { ...node, proxy } : node;
}

/** One string per connection, equal exactly when Pulumi would reach the node the same way. */
export function sshTargetKey(target: SshTarget): string {
    const one = (e: SshEndpoint) => [e.user, e.host, e.port, e.hostKey ?? "", e.privateKey];
    return JSON.stringify([...one(target), target.proxy ? one(target.proxy) : null]);
}

/** known_hosts form of a pinned key: OpenSSH writes a non-default port as [host]:port. */
export function knownHostsLine(e: SshEndpoint): string {
    return `${e.port === 22 ? e.host : `[${e.host}]:${e.port}`} ${e.hostKey}`;
}

/**
 * `ssh` options for one endpoint, given where its key and known_hosts files are. No ssh config
 * file and no agent: the command provider uses neither, and an agent's keys offered first can
 * exhaust the server's MaxAuthTries before ours is tried. A pinned host key is checked strictly;
 * without one, any key is accepted as the command provider does.
 */
export function sshOptions(e: SshEndpoint, keyFile: string, knownHostsFile: string): string[] {
    const hostChecking = e.hostKey
        ? ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHostsFile}`]
        : ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
    return [
        "-F", "none", "-i", keyFile, "-p", String(e.port),
        "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
        ...hostChecking,
        "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
    ];
}

/**
 * The remote command line that runs `script` on the node as root: through passwordless sudo where
 * the login user is not root (OCI's and the lab's `ubuntu`; root's files and units, F01). The
 * script travels base64-encoded, so no shell on the way can reinterpret it, and stdin stays free
 * for data.
 */
export function remoteRootCommand(user: string, script: string): string {
    const encoded = Buffer.from(script).toString("base64");
    const sudo = user === "root" ? "" : "sudo -n ";
    return `${sudo}bash -c "$(printf %s ${encoded} | base64 -d)"`;
}
