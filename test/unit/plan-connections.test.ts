// What the offline plan hands the command provider, held to upstream pulumi-command's semantics
// (engine/README.md): one-shot steps that a new connection does not re-run, no secret in the
// update's log, no SSH env requests a stock sshd refuses, and the nodes' host keys pinned.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ed25519HostKey } from "../../lib/hostKeys";
import type { PlannedResource } from "../../tools/plan";
import { mockHostKeys } from "../../tools/mocks";
import { graph, ofType, shippedConfig, writeStacks } from "../helpers/plan";

const ID = "20261121T170053Z-r302";
const OLDER_ID = "20261120T090000Z-r120";
const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFe4nlQArWxfIzg9LnTGfh5aVsOYi7IM1Ewh/QtIEXVb";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF81ROWJISOmXZvgABTvqw33oydE2EOlGXAqzvdPEqfh";

type Connection = { host: string; hostKey?: string; dialErrorLimit?: number; proxy?: { hostKey?: string } };
const remote = (resources: PlannedResource[]) => ofType(resources, "command:remote:Command");
const connection = (r: PlannedResource) => r.inputs.connection as Connection;

let shipped: string;
const standbyWithRestore = (flags: string[] = []) => graph("standby", path.join(shipped, "Pulumi.standby.yaml"), ["--show-secrets", ...flags]);
const chain = (resources: PlannedResource[]) => remote(resources).filter((r) => r.parent === "standby-restore");

function labStacks(): string {
    return writeStacks({
        "lab-primary": {
            "etcd-dr:platform": "lab",
            "etcd-dr:role": "primary",
            "etcd-dr:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF81ROWJISOmXZvgABTvqw33oydE2EOlGXAqzvdPEqfh drill",
            "etcd-dr:sshPrivateKey": "not-used-offline",
            "etcd-dr:topology": { clusterName: "labsite", controlPlane: ["cp1"], workers: ["w1"] },
            "etcd-dr:cluster": {
                cni: "flannel",
                kubernetesPackageRepo: "http://10.250.0.1:8080/core:/stable:",
                cniManifestUrl: "http://10.250.0.1:8080/cni/kube-flannel.yml",
                imageRepository: "10.250.0.1:5000/k8s",
            },
            "etcd-dr:snapshots": { parExpiresAt: "2027-06-30T00:00:00Z" },
            "etcd-dr:kubernetesApi": "false",
        },
    });
}

function existingStack(nodes: Record<string, unknown>[]): string {
    return writeStacks({
        "lab-primary": {
            "etcd-dr:role": "primary",
            "etcd-dr:platform": "existing",
            "etcd-dr:nodes": nodes,
            "etcd-dr:storeWriteUrl": "http://10.250.1.1:8080/p/write/n/lab/b/etcd-snapshots-primary/o/",
            "etcd-dr:sshPrivateKey": "not-used-offline",
            "etcd-dr:topology": { clusterName: "lab", controlPlane: ["cp1"], workers: ["w1"] },
            "etcd-dr:snapshots": { parExpiresAt: "2027-06-30T00:00:00Z" },
        },
    });
}

describe("offline plan: what the command provider gets", function () {
    this.timeout(300_000);

    before(() => {
        shipped = writeStacks({ primary: shippedConfig("primary"), standby: { ...shippedConfig("standby"), "etcd-dr:restoreSnapshot": ID } });
    });

    describe("the restore chain is one-shot", () => {
        it("ignores a new connection once the stack has restored this id: a bastion or key change updates nothing", () => {
            const steps = chain(standbyWithRestore(["--last-restore", ID]));
            assert.ok(steps.length >= 14, `only ${steps.length} steps`);
            for (const step of steps) {
                assert.deepStrictEqual(step.options.ignoreChanges, ["connection"], `${step.name} would re-run on a connection change`);
                assert.deepStrictEqual(step.inputs.triggers, [ID], `${step.name} must be replaced by a new id`);
            }
        });

        it("takes the connection as it is now for a new id, so the replacement does not dial the old bastion with the old key", () => {
            for (const last of [OLDER_ID, undefined]) {
                const steps = chain(standbyWithRestore(last ? ["--last-restore", last] : []));
                for (const step of steps) {
                    assert.strictEqual(step.options.ignoreChanges, undefined, `${step.name} keeps a stale connection (last restore ${last})`);
                    assert.deepStrictEqual(step.inputs.triggers, [ID]);
                }
            }
        });
    });

    describe("every remote command", () => {
        let all: PlannedResource[];
        before(() => {
            all = [...graph("primary", path.join(shipped, "Pulumi.primary.yaml"), ["--show-secrets"]), ...standbyWithRestore()];
        });

        it("prints nothing of a secret output into the update's log", () => {
            const secretStdout = remote(all).filter((r) => (r.options.additionalSecretOutputs ?? []).some((o) => o === "stdout" || o === "stderr"));
            assert.ok(secretStdout.some((r) => r.name.endsWith("admin-kubeconfig")), "the admin kubeconfig read is a secret output");
            // upstream's logging: which streams go to the log (default both: remote/logging.go).
            const logged: Record<string, string[]> = { none: [], stdout: ["stdout"], stderr: ["stderr"], stdoutAndStderr: ["stdout", "stderr"] };
            for (const r of secretStdout) {
                const streams = logged[String(r.inputs.logging ?? "stdoutAndStderr")] ?? ["stdout", "stderr"];
                for (const secret of r.options.additionalSecretOutputs ?? []) {
                    assert.ok(!streams.includes(secret), `${r.name} logs its secret ${secret} (logging: ${String(r.inputs.logging)})`);
                }
            }
        });

        it("sends no SSH env request: no `environment`, no previous output", () => {
            assert.ok(remote(all).length > 30);
            for (const r of remote(all)) {
                assert.strictEqual(r.inputs.environment, undefined, `${r.name} sets environment, which a stock sshd refuses`);
                assert.strictEqual(r.inputs.addPreviousOutputInEnv, false, `${r.name} sends PULUMI_COMMAND_STDOUT`);
            }
        });
    });

    describe("replaced instances", () => {
        it("lab: an instance is replaced delete-first, as its name and fixed address cannot be held twice (F16)", () => {
            const resources = graph("lab-primary", path.join(labStacks(), "Pulumi.lab-primary.yaml"));
            const instances = ofType(resources, "command:local:Command").filter((r) => String(r.inputs.create).includes("wait-ssh"));
            assert.deepStrictEqual(instances.map((r) => r.name).sort(), ["lab-primary-instances-cp1", "lab-primary-instances-w1"]);
            for (const r of instances) assert.strictEqual(r.options.deleteBeforeReplace, true, r.name);
        });
    });

    describe("host keys", () => {
        it("lab: pins each instance's own Ed25519 key in every command and in the drift check", () => {
            const resources = graph("lab-primary", path.join(labStacks(), "Pulumi.lab-primary.yaml"), ["--show-secrets"]);
            const instances = ofType(resources, "command:local:Command").filter((r) => String(r.inputs.create).includes("wait-ssh"));
            const keyOf = new Map(instances.map((r) => {
                const create = String(r.inputs.create);
                const name = /--name (\S+)/.exec(create)![1];
                const address = /--address ([0-9.]+)\//.exec(create)![1];
                return [address, ed25519HostKey(mockHostKeys(name, address))];
            }));
            assert.strictEqual(keyOf.size, 2);
            assert.ok(remote(resources).length >= 6);
            for (const r of remote(resources)) {
                const c = connection(r);
                assert.strictEqual(c.hostKey, keyOf.get(c.host), `${r.name} does not pin ${c.host}'s key`);
            }
            const drift = ofType(resources, "dynamic:Resource");
            assert.ok(drift.length > 0);
            for (const r of drift) assert.strictEqual(r.inputs.hostKey, keyOf.get(String(r.inputs.host)));
        });

        it("existing: pins the key etcd-dr:nodes gives (a public key or a known_hosts line), and none where it gives none", () => {
            const dir = existingStack([
                { name: "cp1", address: "10.250.1.11", role: "control-plane", hostKey: `${KEY_A} root@cp1` },
                { name: "w1", address: "10.250.1.21", role: "worker", hostKey: `10.250.1.21 ${KEY_B}` },
            ]);
            const resources = graph("lab-primary", path.join(dir, "Pulumi.lab-primary.yaml"), ["--show-secrets"]);
            const expected: Record<string, string> = { "10.250.1.11": KEY_A, "10.250.1.21": KEY_B };
            for (const r of remote(resources)) assert.strictEqual(connection(r).hostKey, expected[connection(r).host], r.name);
            const none = graph("lab-primary", path.join(existingStack([
                { name: "cp1", address: "10.250.1.11", role: "control-plane" },
                { name: "w1", address: "10.250.1.21", role: "worker" },
            ]), "Pulumi.lab-primary.yaml"), ["--show-secrets"]);
            for (const r of remote(none)) assert.ok(!("hostKey" in connection(r)), r.name);
        });

        it("existing: refuses a host key that cannot be pinned, with how to get the right one", () => {
            const dir = existingStack([
                { name: "cp1", address: "10.250.1.11", role: "control-plane", hostKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" },
                { name: "w1", address: "10.250.1.21", role: "worker" },
            ]);
            assert.throws(() => graph("lab-primary", path.join(dir, "Pulumi.lab-primary.yaml")),
                /etcd-dr:nodes\[0\] \(cp1\) hostKey.*ssh-keyscan -t ed25519 10\.250\.1\.11/);
        });
    });

    after(() => {
        if (shipped) fs.rmSync(shipped, { recursive: true, force: true });
    });
});
