// SSH host keys as the command provider pins them. pulumi-command's `connection.hostKey` takes ONE
// public key ("ssh-ed25519 AAAA...", parsed with ssh.ParseAuthorizedKey) and pins both the key and
// the host key algorithm to its type (remote/connection.go, SSHConfig); a known_hosts line, with the
// host in front, does not parse. Ed25519 is the one type to pin: an RSA key pins the SHA-1 `ssh-rsa`
// algorithm, which OpenSSH 8.8 and later no longer offer (engine/README.md).

const ED25519 = "ssh-ed25519";

/** The key blob of an Ed25519 public key: string "ssh-ed25519", then the 32-byte key, each length-prefixed. */
function isEd25519Blob(base64: string): boolean {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return false;
    const blob = Buffer.from(base64, "base64");
    if (blob.length < 4) return false;
    const typeLength = blob.readUInt32BE(0);
    if (blob.length < 4 + typeLength + 4) return false;
    const type = blob.subarray(4, 4 + typeLength).toString("latin1");
    const keyLength = blob.readUInt32BE(4 + typeLength);
    return type === ED25519 && keyLength === 32 && blob.length === 4 + typeLength + 4 + keyLength;
}

/**
 * The one Ed25519 host key in `text`, as "ssh-ed25519 <base64>": `text` holds known_hosts lines
 * ("<host> <type> <base64>", what `lab/instance.sh wait-ssh` and `ssh-keyscan` print) or public key
 * lines ("<type> <base64> [comment]"). Other key types are skipped; no Ed25519 key, two different
 * ones, or a malformed one are errors, because pinning a guess would lock Pulumi out of the node.
 */
export function ed25519HostKey(text: string, where = "the host keys"): string {
    const found = new Set<string>();
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const fields = line.split(/\s+/);
        const at = fields.indexOf(ED25519);
        if (at < 0) continue;
        const base64 = fields[at + 1] ?? "";
        if (!isEd25519Blob(base64)) {
            throw new Error(`'${line}' in ${where} is not a valid ssh-ed25519 key`);
        }
        found.add(`${ED25519} ${base64}`);
    }
    if (found.size === 0) {
        throw new Error(`no ssh-ed25519 key to pin in ${where} (got: ${text.trim() || "nothing"})`);
    }
    if (found.size > 1) {
        throw new Error(`${found.size} different ssh-ed25519 keys in ${where}; pin one`);
    }
    return [...found][0];
}
