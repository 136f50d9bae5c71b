// The drift check's dynamic provider: every form in which the engine can hand it the stored
// connection (issue 15: under the upstream language host the read got the key in another form and
// every node read failed with "Permission denied (publickey)"), and a diff that notices a new way
// to reach the node.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { installedStateChanges } from "../../components/dr/installedState";
import { knownHostsLine, normalizePrivateKey, remoteRootCommand, sshOptions, sshTargetOf, unwrapSecrets } from "../../lib/sshTarget";

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const wrap = (value: unknown) => ({ [SIG]: SECRET, value });

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n";
const OTHER_KEY = KEY.replace("AAAAABG5vbmU=", "AAAAABG5vbmX=");
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFe4nlQArWxfIzg9LnTGfh5aVsOYi7IM1Ewh/QtIEXVb";

function props(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { host: "10.250.2.11", port: 22, user: "ubuntu", privateKey: KEY, toolkitSha256: "abc", toolkit: "#!/bin/bash\n", timer: "absent", ...extra };
}

const bastion = { host: "203.0.113.10", user: "ubuntu", privateKey: KEY };

describe("the drift check's connection (InstalledState)", () => {
    describe("reads the stored key in every form the engine delivers", () => {
        const forms: [string, unknown][] = [
            ["a plain string (acceptSecrets false: the engine unwraps secrets)", KEY],
            ["a secret signature object", wrap(KEY)],
            ["a signature object inside another", wrap(wrap(KEY))],
            ["the signature object's JSON text", JSON.stringify(wrap(KEY))],
            ["CRLF line ends and no final newline", KEY.replace(/\n/g, "\r\n").trimEnd()],
        ];
        for (const [form, privateKey] of forms) {
            it(form, () => {
                const target = sshTargetOf(props({ privateKey }));
                assert.strictEqual(target.privateKey, KEY);
                assert.deepStrictEqual({ host: target.host, port: target.port, user: target.user }, { host: "10.250.2.11", port: 22, user: "ubuntu" });
            });
        }

        it("a bastion wrapped as a whole, with its key wrapped again", () => {
            const target = sshTargetOf(props({ privateKey: wrap(KEY), proxy: wrap({ ...bastion, privateKey: wrap(KEY) }) }));
            assert.deepStrictEqual(target.proxy, { host: "203.0.113.10", port: 22, user: "ubuntu", privateKey: KEY });
        });

        it("a port as text, and no bastion as null", () => {
            const target = sshTargetOf(props({ port: "2222", proxy: null }));
            assert.strictEqual(target.port, 2222);
            assert.strictEqual(target.proxy, undefined);
        });

        it("names what is wrong instead of letting ssh say Permission denied", () => {
            assert.throws(() => sshTargetOf(props({ privateKey: { [SIG]: SECRET, ciphertext: "v1:abc" } })), /privateKey is still encrypted/);
            assert.throws(() => sshTargetOf(props({ privateKey: "[secret]" }), "cp1"), /cp1\.privateKey is not an OpenSSH private key \(got text that is not a private key\)/);
            assert.throws(() => sshTargetOf(props({ privateKey: undefined })), /got nothing/);
            assert.throws(() => sshTargetOf(props({ port: 0 })), /port '0' is not a TCP port/);
            assert.throws(() => sshTargetOf(props({ proxy: { ...bastion, host: "" } })), /proxy\.host is missing/);
        });

        it("leaves values without a signature as they are", () => {
            assert.deepStrictEqual(unwrapSecrets({ a: [1, "{not json"], b: { c: true } }), { a: [1, "{not json"], b: { c: true } });
            assert.strictEqual(normalizePrivateKey(KEY), KEY);
        });
    });

    describe("ssh options", () => {
        it("offers only the stored key: no agent, no ssh config", () => {
            const args = sshOptions(sshTargetOf(props()), "/tmp/x/key", "/tmp/x/known_hosts").join(" ");
            for (const option of ["-F none", "-i /tmp/x/key", "IdentitiesOnly=yes", "IdentityAgent=none", "BatchMode=yes", "StrictHostKeyChecking=no"]) {
                assert.ok(args.includes(option), `${option} is not in ${args}`);
            }
        });

        it("checks a pinned host key strictly, in known_hosts form with the port", () => {
            const target = sshTargetOf(props({ hostKey: HOST_KEY, port: 2222 }));
            const args = sshOptions(target, "/tmp/x/key", "/tmp/x/known_hosts").join(" ");
            assert.ok(args.includes("StrictHostKeyChecking=yes") && args.includes("UserKnownHostsFile=/tmp/x/known_hosts"), args);
            assert.strictEqual(knownHostsLine(target), `[10.250.2.11]:2222 ${HOST_KEY}`);
            assert.strictEqual(knownHostsLine({ ...target, port: 22 }), `10.250.2.11 ${HOST_KEY}`);
        });
    });

    describe("the command the node runs (F01)", () => {
        // What sshd hands the login shell, run here by bash with a sudo that records how it was asked.
        function runRemote(user: string, script: string) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-remote-"));
            try {
                fs.writeFileSync(path.join(dir, "sudo"), `#!/bin/bash\necho "sudo $1" >>${dir}/sudo.log\nshift\nexec "$@"\n`, { mode: 0o755 });
                const run = spawnSync("bash", ["-c", remoteRootCommand(user, script)], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } });
                const sudo = fs.existsSync(path.join(dir, "sudo.log")) ? fs.readFileSync(path.join(dir, "sudo.log"), "utf8") : "";
                return { stdout: run.stdout, status: run.status, sudo };
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        }

        it("reads and repairs the node as root through sudo, never asking for a password, where the login user is not root", () => {
            const script = "echo \"toolkit=$(printf '%s' \"it's \\$HOME\")\"\necho done";
            const ubuntu = runRemote("ubuntu", script);
            assert.deepStrictEqual(ubuntu, { stdout: "toolkit=it's $HOME\ndone\n", status: 0, sudo: "sudo -n\n" });
            const root = runRemote("root", script);
            assert.deepStrictEqual(root, { stdout: "toolkit=it's $HOME\ndone\n", status: 0, sudo: "" });
        });
    });

    describe("diff", () => {
        it("sees no change when only the form of the stored key differs", () => {
            assert.deepStrictEqual(installedStateChanges(props({ privateKey: wrap(KEY) }), props()), []);
        });

        const changes: [string, Record<string, unknown>][] = [
            ["a rotated key", { privateKey: OTHER_KEY }],
            ["another user", { user: "root" }],
            ["another port", { port: 2222 }],
            ["a bastion added", { proxy: bastion }],
            ["a new host key", { hostKey: HOST_KEY }],
        ];
        for (const [what, change] of changes) {
            it(`updates the stored connection for ${what}`, () => {
                assert.deepStrictEqual(installedStateChanges(props(), props(change)), ["connection"]);
            });
        }

        it("updates for a replaced bastion or its rotated key", () => {
            const before = props({ proxy: bastion });
            assert.deepStrictEqual(installedStateChanges(before, props({ proxy: { ...bastion, host: "203.0.113.11" } })), ["connection"]);
            assert.deepStrictEqual(installedStateChanges(before, props({ proxy: { ...bastion, privateKey: OTHER_KEY } })), ["connection"]);
        });

        it("still shows drift on the node and a new toolkit", () => {
            assert.deepStrictEqual(installedStateChanges(props({ timer: "disabled inactive", toolkitSha256: "edited" }), props()), ["toolkitSha256", "timer"]);
            assert.deepStrictEqual(installedStateChanges(props(), props({ toolkit: "#!/bin/bash\nnew\n" })), ["toolkit"]);
        });
    });
});
