// How Pulumi reaches a node: the dial budget against the command provider's retry formula, and the
// host key it pins (one Ed25519 public key, as pulumi-command's hostKey takes it).
import * as assert from "assert";
import { BOOT_DIAL_ERROR_LIMIT, connectionArgs, dialBudgetSeconds, NODE_DIAL_ERROR_LIMIT, NodeConnection, PER_DIAL_TIMEOUT } from "../../lib/connection";
import { ed25519HostKey } from "../../lib/hostKeys";

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFe4nlQArWxfIzg9LnTGfh5aVsOYi7IM1Ewh/QtIEXVb";
const ED_OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF81ROWJISOmXZvgABTvqw33oydE2EOlGXAqzvdPEqfh";
const ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBO2yHag8ZWHbNoUNNOALZQvekPpe80pelk+jBBMak/HVIwypIeEKJrO6x5VA6OhSQ1DhHODyZxprdVH+40LgLZg=";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";

const node: NodeConnection = { name: "cp1", role: "control-plane", host: "10.0.0.11", port: 22, user: "ubuntu", privateKey: "KEY" };

describe("the SSH connection to a node", () => {
    describe("dial budget (pulumi-command: limit + 1 attempts, 100 ms x 1.5^n between them, at most 5 s)", () => {
        it("matches the provider's own numbers for its default limit", () => {
            // 10 failures: 0.1 + 0.15 + ... + 3.84 s of waiting.
            assert.strictEqual(dialBudgetSeconds(10, 15, "refused").toFixed(1), "11.3");
            assert.strictEqual(dialBudgetSeconds(0, 15, "refused"), 0);
            assert.strictEqual(dialBudgetSeconds(0, 15, "silent"), 15);
        });

        it("outlasts a node's reboot (sshd refusing for two minutes) on every node step", () => {
            assert.ok(dialBudgetSeconds(NODE_DIAL_ERROR_LIMIT, PER_DIAL_TIMEOUT, "refused") >= 150,
                `dialErrorLimit ${NODE_DIAL_ERROR_LIMIT} gives up after ${dialBudgetSeconds(NODE_DIAL_ERROR_LIMIT, PER_DIAL_TIMEOUT, "refused")} s`);
            assert.strictEqual(connectionArgs(node).dialErrorLimit, NODE_DIAL_ERROR_LIMIT);
            assert.strictEqual(connectionArgs(node).perDialTimeout, PER_DIAL_TIMEOUT);
        });

        it("outlasts a first boot's late sshd (four minutes) on the bootstrap check, and stays under a quarter hour when nothing answers", () => {
            assert.ok(dialBudgetSeconds(BOOT_DIAL_ERROR_LIMIT, PER_DIAL_TIMEOUT, "refused") >= 240);
            assert.ok(dialBudgetSeconds(BOOT_DIAL_ERROR_LIMIT, PER_DIAL_TIMEOUT, "silent") <= 15 * 60);
            assert.strictEqual(connectionArgs(node, BOOT_DIAL_ERROR_LIMIT).dialErrorLimit, BOOT_DIAL_ERROR_LIMIT);
        });

        it("gives the bastion the same budget as the nodes (the provider dials it with its own)", () => {
            const proxied = connectionArgs({ ...node, proxy: { host: "203.0.113.10", user: "ubuntu", privateKey: "KEY" } });
            assert.deepStrictEqual(proxied.proxy, { host: "203.0.113.10", user: "ubuntu", privateKey: "KEY", dialErrorLimit: NODE_DIAL_ERROR_LIMIT, perDialTimeout: PER_DIAL_TIMEOUT });
        });
    });

    describe("host key", () => {
        it("pins the node's key, and the bastion's, when the platform knows them", () => {
            const args = connectionArgs({ ...node, hostKey: ED, proxy: { host: "203.0.113.10", user: "ubuntu", privateKey: "KEY", hostKey: ED_OTHER } });
            assert.strictEqual(args.hostKey, ED);
            assert.strictEqual((args.proxy as { hostKey?: string }).hostKey, ED_OTHER);
            assert.ok(!("hostKey" in connectionArgs(node)), "no key known, none pinned");
        });

        it("takes the one Ed25519 key out of known_hosts lines (what lab/instance.sh wait-ssh prints)", () => {
            const knownHosts = [`10.250.1.11 ${RSA}`, `10.250.1.11 ${ECDSA}`, `10.250.1.11 ${ED}`, ""].join("\n");
            assert.strictEqual(ed25519HostKey(knownHosts), ED);
        });

        it("takes a public key line with a comment, and the same key twice", () => {
            assert.strictEqual(ed25519HostKey(`${ED} root@cp1\n${ED}`), ED);
        });

        it("refuses what would lock Pulumi out: no Ed25519 key, two different ones, a damaged one", () => {
            assert.throws(() => ed25519HostKey(`10.250.1.11 ${ECDSA}`, "cp1's host keys"), /no ssh-ed25519 key to pin in cp1's host keys/);
            assert.throws(() => ed25519HostKey(""), /no ssh-ed25519 key/);
            assert.throws(() => ed25519HostKey(`${ED}\n${ED_OTHER}`), /2 different ssh-ed25519 keys in/);
            assert.throws(() => ed25519HostKey(`10.250.1.11 ssh-ed25519 ${ECDSA.split(" ")[1]}`), /not a valid ssh-ed25519 key/);
            assert.throws(() => ed25519HostKey("10.250.1.11 ssh-ed25519 AAAA$$"), /not a valid ssh-ed25519 key/);
        });
    });
});
