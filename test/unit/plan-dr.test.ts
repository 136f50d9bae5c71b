// The DR half of the offline plan: node toolkit, backup timers, the restore chain and its triggers,
// on the shipped OCI stacks and on stacks of the `existing` platform.
import * as assert from "assert";
import { createHash } from "crypto";
import * as path from "path";
import * as fs from "fs";
import * as os from "os";
import { signManifest } from "../../lib/snapshot";
import type { PlannedResource } from "../../tools/plan";
import { Objstore, startObjstore } from "../helpers/objstore";
import { byName, graph, ofType, runPlan, shippedConfig, writeStacks } from "../helpers/plan";

const ID_A = "20261121T170053Z-r302";
const ID_B = "20261121T171500Z-r455";
const CONTROL_PLANE = ["cp1", "cp2", "cp3"];
const WORKERS = ["w1", "w2", "w3"];

function existingNodes(prefix: string) {
    return [
        ...CONTROL_PLANE.map((name, i) => ({ name, address: `${prefix}.${11 + i}`, role: "control-plane" })),
        { name: "w1", address: `${prefix}.21`, role: "worker" },
    ];
}

function existingStacks(standbyExtra: Record<string, unknown> = {}, primaryExtra: Record<string, unknown> = {}): string {
    return writeStacks({
        "lab-primary": {
            "etcd-dr:role": "primary",
            "etcd-dr:platform": "existing",
            "etcd-dr:nodes": existingNodes("10.250.1"),
            "etcd-dr:storeWriteUrl": "http://10.250.1.1:8080/p/write/n/lab/b/etcd-snapshots-primary/o/",
            "etcd-dr:sshPrivateKey": "not-used-offline",
            "etcd-dr:topology": { clusterName: "lab" },
            "etcd-dr:cluster": { etcdVersion: "3.4.23" },
            "etcd-dr:backup": { onCalendar: "*:*:0/20", randomizedDelaySec: 1 },
            ...primaryExtra,
        },
        "lab-standby": {
            "etcd-dr:role": "standby",
            "etcd-dr:platform": "existing",
            "etcd-dr:peerStack": "lab-primary",
            "etcd-dr:nodes": existingNodes("10.250.2"),
            "etcd-dr:storeReadUrl": "http://10.250.2.1:8080/p/read/n/lab/b/etcd-snapshots-standby/o/",
            "etcd-dr:sshPrivateKey": "not-used-offline",
            ...standbyExtra,
        },
    });
}

function shippedWithRestore(id: string): string {
    return writeStacks({ primary: shippedConfig("primary"), standby: { ...shippedConfig("standby"), "etcd-dr:restoreSnapshot": id } });
}

const chain = (resources: PlannedResource[]) => resources.filter((r) => r.parent === "standby-restore");
/** What every command on an OCI node waits for: the instance, then its kubeadm bootstrap (F06). */
// An OCI node is ready for etcd-dr once its instance exists, its first boot is done and Pulumi has joined it.
const ready = (stack: string, node: string) => [`${stack}-nodes-${node}`, `${stack}-bootstrap-${node}`, `${stack}-join-${node}`];

describe("offline plan: backups and restores", function () {
    this.timeout(180_000);

    it("installs the toolkit on every node (the store's URLs and key on the control plane only), and backup timers on the primary's only", () => {
        const primary = graph("primary");
        const standby = graph("standby");
        const timers = ofType(primary, "remote:Command").filter((r) => r.parent === "primary-backup");
        assert.deepStrictEqual(timers.map((t) => t.name), CONTROL_PLANE.map((n) => `primary-backup-${n}-timer`));
        for (const timer of timers) {
            const node = timer.name.split("-")[2];
            assert.deepStrictEqual(timer.dependsOn, [...ready("primary", node), `primary-toolkit-${node}-toolkit`, `primary-toolkit-${node}-settings`, `primary-toolkit-${node}-key`]);
            // The triggers hold the settings' digest, a secret like the settings: the whole list prints as
            // one; so do create and delete, which name an owner derived from it (checked with the secrets below).
            assert.strictEqual(timer.inputs.triggers, "[secret]");
            assert.strictEqual(timer.inputs.create, "[secret]");
            assert.strictEqual(timer.inputs.delete, "[secret]");
        }
        assert.strictEqual(ofType(standby, "etcd-dr:dr:BackupSchedule").length, 0);
        for (const [stack, resources] of [["primary", primary], ["standby", standby]] as const) {
            const installs = ofType(resources, "remote:Command").filter((r) => r.parent === `${stack}-toolkit`).map((r) => r.name);
            assert.deepStrictEqual(installs, [
                ...CONTROL_PLANE.flatMap((n) => ["toolkit", "settings", "key"].map((f) => `${stack}-toolkit-${n}-${f}`)),
                ...WORKERS.flatMap((n) => ["toolkit", "settings"].map((f) => `${stack}-toolkit-${n}-${f}`)),
            ]);
            const settings = byName(resources, `${stack}-toolkit-cp1-settings`);
            assert.strictEqual(settings.inputs.stdin, "[secret]", "the settings carry PAR URLs");
            assert.strictEqual(byName(resources, `${stack}-toolkit-cp1-key`).inputs.stdin, "[secret]");
        }
        assert.strictEqual(byName(primary, "primary-snapshot-encryption-key").type, "random:index/randomPassword:RandomPassword");
        assert.strictEqual(ofType(standby, "randomPassword:RandomPassword").filter((r) => r.name.includes("encryption")).length, 0, "the standby reuses the primary's key");
    });

    // Review #29: a replacement that deleted first left a node without its settings (backups
    // stopped) whenever the new install then failed; an SSH drop is enough.
    it("replaces a toolkit file by installing the new one first; the old one's delete removes only what it installed", () => {
        for (const stack of ["primary", "standby"] as const) {
            const installs = ofType(graph(stack, undefined, ["--show-secrets"]), "remote:Command").filter((r) => r.parent === `${stack}-toolkit`);
            assert.ok(installs.length > 0);
            for (const install of installs) {
                assert.notStrictEqual(install.options.deleteBeforeReplace, true, `${install.name} must not delete before it replaces`);
                const file = /^sudo -n \/bin\/bash -c '.*cat > (\S+)\.new && /.exec(String(install.inputs.create))?.[1];
                assert.ok(file, `${install.name} installs a file: ${String(install.inputs.create)}`);
                const digest = createHash("sha256").update(String(install.inputs.stdin)).digest("hex");
                assert.deepStrictEqual(install.inputs.triggers, [digest], `${install.name} is replaced when its content changes`);
                assert.strictEqual(
                    install.inputs.delete,
                    `sudo -n /bin/bash -c 'if [ "$(sha256sum ${file} 2>/dev/null | cut -c1-64)" = "${digest}" ]; then rm -f ${file}; fi'`,
                    install.name,
                );
            }
        }
    });

    // Review #29, the timer's turn: deleting first left a node with no timer, and no backups,
    // whenever the new install then failed.
    it("replaces a backup timer by installing the new one first; the old one's delete names its own owner, so it leaves the new timer", () => {
        const timers = (resources: PlannedResource[]) => ofType(resources, "remote:Command").filter((r) => r.parent === "primary-backup");
        const owners = (resources: PlannedResource[]) => timers(resources).map((timer) => {
            assert.notStrictEqual(timer.options.deleteBeforeReplace, true, `${timer.name} must not delete before it replaces`);
            const owner = /^sudo -n \/bin\/bash -c 'etcd-dr install-timer --owner ([0-9a-f]{64})'$/.exec(String(timer.inputs.create))?.[1];
            assert.ok(owner, `${timer.name}: ${String(timer.inputs.create)}`);
            assert.strictEqual(timer.inputs.delete, `sudo -n /bin/bash -c 'etcd-dr remove-timer --owner ${owner}'`, timer.name);
            const [toolkit, settings] = timer.inputs.triggers as string[];
            assert.strictEqual(owner, createHash("sha256").update(`backup-timer\n${toolkit}\n${settings}`).digest("hex"), `${timer.name}: the owner follows the triggers`);
            return owner;
        });
        const now = owners(graph("primary", undefined, ["--show-secrets"]));
        assert.strictEqual(now.length, CONTROL_PLANE.length);
        const rescheduled = writeStacks({ primary: { ...shippedConfig("primary"), "etcd-dr:backup": { onCalendar: "*:0/5", randomizedDelaySec: 30 } } });
        const next = owners(graph("primary", path.join(rescheduled, "Pulumi.primary.yaml"), ["--show-secrets"]));
        for (const [i, owner] of next.entries()) assert.notStrictEqual(owner, now[i], "a replacement's install and the old delete name different owners");
    });

    it("runs every command on an OCI node as root through sudo, after the node's bootstrap (F01, F06)", () => {
        for (const stack of ["primary", "standby"] as const) {
            const resources = graph(stack, path.join(shippedWithRestore(ID_A), `Pulumi.${stack}.yaml`));
            const commands = ofType(resources, "remote:Command");
            assert.ok(commands.length > 10);
            for (const command of commands) {
                // A backup timer's create names an owner derived from the settings' digest (checked with the secrets above).
                if (command.inputs.create !== "[secret]" || command.parent !== `${stack}-backup`) {
                    assert.match(String(command.inputs.create), /^sudo -n \/bin\/bash -c '/, `${command.name} must run through sudo as ubuntu`);
                }
                // A toolkit file's delete names its content's digest, a secret where the content is one (checked with the secrets above).
                if (command.inputs.delete && command.inputs.delete !== "[secret]") assert.match(String(command.inputs.delete), /^sudo -n \/bin\/bash -c '/, command.name);
                // The admin kubeconfig is read from the first control-plane node.
                const node = /-(cp\d|w\d)(-|$)/.exec(command.name)?.[1] ?? (command.name.endsWith("-admin-kubeconfig") ? "cp1" : undefined);
                assert.ok(node, `${command.name} names its node`);
                if (command.parent === `${stack}-join`) {
                    assert.ok(command.dependsOn.includes(`${stack}-bootstrap-${node}`), `${command.name} must wait for the node's first boot`);
                } else if (command.parent !== `${stack}-bootstrap`) {
                    for (const wanted of ready(stack, node)) assert.ok(command.dependsOn.includes(wanted), `${command.name} must wait for ${wanted}`);
                } else {
                    assert.deepStrictEqual(command.dependsOn, [`${stack}-nodes-${node}`]);
                }
            }
        }
    });

    it("has no restore resources while restoreSnapshot is unset", () => {
        assert.strictEqual(ofType(graph("standby"), "etcd-dr:dr:RestoreFromSnapshot").length, 0);
        assert.strictEqual(ofType(graph("standby"), "remote:Command").filter((r) => r.name.includes("restore")).length, 0);
    });

    it("with restoreSnapshot set, orders the chain on every control-plane node and carries the id in every trigger", () => {
        const resources = graph("standby", path.join(shippedWithRestore(ID_A), "Pulumi.standby.yaml"));
        const steps = chain(resources);
        const names = (phase: string) => CONTROL_PLANE.map((n) => `standby-restore-${phase}-${n}`);
        for (const node of CONTROL_PLANE) {
            assert.deepStrictEqual(byName(resources, `standby-restore-prepare-${node}`).dependsOn, [...ready("standby", node), ...["toolkit", "settings", "key"].map((f) => `standby-toolkit-${node}-${f}`)]);
            assert.deepStrictEqual(byName(resources, `standby-restore-stop-${node}`).dependsOn, [...ready("standby", node), ...names("prepare")]);
            assert.deepStrictEqual(byName(resources, `standby-restore-apply-${node}`).dependsOn, [...ready("standby", node), ...names("stop")]);
            assert.deepStrictEqual(byName(resources, `standby-restore-start-${node}`).dependsOn, [...ready("standby", node), ...names("apply")]);
        }
        assert.deepStrictEqual(byName(resources, "standby-restore-verify-cp1").dependsOn, [...ready("standby", "cp1"), ...names("start")]);
        for (const node of [...CONTROL_PLANE, ...WORKERS]) {
            const restart = byName(resources, `standby-restore-restart-kubelet-${node}`);
            const installed = (CONTROL_PLANE.includes(node) ? ["toolkit", "settings", "key"] : ["toolkit", "settings"]).map((f) => `standby-toolkit-${node}-${f}`);
            assert.deepStrictEqual(restart.dependsOn, [...ready("standby", node), "standby-restore-verify-cp1", ...installed]);
            assert.match(String(restart.inputs.create), new RegExp(`etcd-dr restore restart-kubelet ${ID_A}`));
        }
        assert.deepStrictEqual(byName(resources, "standby-restore-reconcile-cp1").dependsOn,
            [...ready("standby", "cp1"), ...[...CONTROL_PLANE, ...WORKERS].map((n) => `standby-restore-restart-kubelet-${n}`)]);
        assert.strictEqual(steps.length, 3 * 4 + 1 + 6 + 1);
        for (const step of steps) {
            assert.deepStrictEqual(step.inputs.triggers, [ID_A], step.name);
        }
        assert.match(String(byName(resources, "standby-restore-apply-cp2").inputs.create), new RegExp(`etcd-dr restore apply ${ID_A}`));
        assert.deepStrictEqual(byName(resources, "standby-kubernetes-etcd-dr-status").dependsOn, ["standby-restore"]);
    });

    it("reads both sites' kubeadm-config when the standby is built, and neither during a failover (the primary's API may be gone)", () => {
        const kube = (resources: PlannedResource[]) => resources
            .filter((r) => r.type.startsWith("kubernetes:") || r.type === "pulumi:providers:kubernetes").map((r) => r.name).sort();
        assert.deepStrictEqual(kube(graph("standby")), [
            "standby-kubernetes-kubeadm-config", "standby-kubernetes-peer-kubeadm-config", "standby-kubernetes-peer-provider", "standby-kubernetes-provider",
        ]);
        assert.deepStrictEqual(kube(graph("standby", path.join(shippedWithRestore(ID_A), "Pulumi.standby.yaml"))), [
            "standby-kubernetes-etcd-dr-status", "standby-kubernetes-provider",
        ]);
    });

    it("changes every child's triggers, and nothing else about the chain, when the id changes", () => {
        const a = chain(graph("standby", path.join(shippedWithRestore(ID_A), "Pulumi.standby.yaml")));
        const b = chain(graph("standby", path.join(shippedWithRestore(ID_B), "Pulumi.standby.yaml")));
        assert.deepStrictEqual(b.map((r) => r.name), a.map((r) => r.name));
        assert.deepStrictEqual(b.map((r) => r.dependsOn), a.map((r) => r.dependsOn));
        for (const [i, step] of b.entries()) {
            assert.deepStrictEqual(step.inputs.triggers, [ID_B]);
            assert.notDeepStrictEqual(step.inputs.triggers, a[i].inputs.triggers);
        }
    });

    it("refuses restoreSnapshot on a primary stack, and a malformed id, before anything is planned", () => {
        const dir = writeStacks({ primary: { ...shippedConfig("primary"), "etcd-dr:restoreSnapshot": "last-night" } });
        const result = runPlan("primary", path.join(dir, "Pulumi.primary.yaml"));
        assert.strictEqual(result.status, 1);
        assert.strictEqual(result.stdout, "");
        assert.match(result.stderr, /^error: etcd-dr:restoreSnapshot is set on a primary stack: restores run on the standby only/m);
        assert.match(result.stderr, /^error: etcd-dr:restoreSnapshot 'last-night' is not a snapshot id/m);
    });

    it("says in the plan which prechecks it could not run offline", () => {
        const result = runPlan("standby", path.join(shippedWithRestore(ID_A), "Pulumi.standby.yaml"));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /prechecks not run in the offline plan \(the snapshot store is not reachable\)/);
    });

    it("runs the prechecks only for an id no update has restored yet (not on every later preview or drift check)", () => {
        const file = path.join(shippedWithRestore(ID_A), "Pulumi.standby.yaml");
        const restored = runPlan("standby", file, true, ["--last-restore", ID_A]);
        assert.strictEqual(restored.status, 0, restored.stderr);
        assert.match(restored.stderr, new RegExp(`prechecks skipped: this stack's last update restored ${ID_A}; a new id runs them again`));
        assert.doesNotMatch(restored.stderr, /prechecks not run in the offline plan/);
        const next = runPlan("standby", file, true, ["--last-restore", ID_B]);
        assert.match(next.stderr, /prechecks not run in the offline plan/);
        assert.doesNotMatch(next.stderr, /prechecks skipped/);
    });
});

describe("offline plan: the existing platform", function () {
    this.timeout(180_000);

    it("creates no OCI resource and drives the given hosts", () => {
        const dir = existingStacks({ "etcd-dr:restoreSnapshot": ID_A });
        const primary = graph("lab-primary", path.join(dir, "Pulumi.lab-primary.yaml"));
        const standby = graph("lab-standby", path.join(dir, "Pulumi.lab-standby.yaml"));
        for (const resources of [primary, standby]) {
            assert.deepStrictEqual(resources.filter((r) => r.type.startsWith("oci:") || r.type === "pulumi:providers:oci"), []);
            assert.deepStrictEqual(resources.filter((r) => r.type.startsWith("kubernetes:")), [], "the lab has no Kubernetes API");
        }
        const hosts = ofType(primary, "remote:Command").filter((r) => r.name.endsWith("-timer")).map((r) => r.name);
        assert.deepStrictEqual(hosts, CONTROL_PLANE.map((n) => `lab-primary-backup-${n}-timer`));
        const restore = standby.filter((r) => r.parent === "lab-standby-restore");
        assert.strictEqual(restore.length, 3 * 4 + 1 + 4 + 1);
        assert.deepStrictEqual(byName(standby, "lab-standby-restore-restart-kubelet-w1").dependsOn,
            ["lab-standby-restore-verify-cp1", "lab-standby-toolkit-w1-toolkit", "lab-standby-toolkit-w1-settings"]);
        assert.strictEqual(byName(standby, "lab-standby-restore-verify-cp1").inputs.connection, "[secret]");
    });

    it("stops a standby whose hosts are not the primary's", () => {
        const nodes = existingNodes("10.250.2").map((n) => (n.name === "cp3" ? { ...n, name: "cp4" } : n));
        const dir = existingStacks({ "etcd-dr:nodes": nodes });
        const result = runPlan("lab-standby", path.join(dir, "Pulumi.lab-standby.yaml"));
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /^error: etcd-dr:nodes lists control-plane hosts cp1,cp2,cp4 but the primary's are cp1,cp2,cp3; both sites need the same host names$/m);
    });

    it("explains each missing piece of an existing-platform stack", () => {
        const dir = writeStacks({ broken: { "etcd-dr:role": "primary", "etcd-dr:platform": "existing", "etcd-dr:nodes": [{ name: "cp1", address: "10.0.0.1", role: "master" }] } });
        const result = runPlan("broken", path.join(dir, "Pulumi.broken.yaml"));
        assert.strictEqual(result.status, 1);
        const lines = result.stderr.trim().split("\n");
        for (const expected of [/nodes\[0\] \(cp1\) has role 'master'; use control-plane or worker/, /storeWriteUrl is not set/, /sshPrivateKey is not set/]) {
            assert.ok(lines.some((l) => expected.test(l)), `${expected} in\n${result.stderr}`);
        }
    });
});

// Review #18: each member downloads the manifest itself, so the prechecks' reading is pinned: every
// prepare step carries the sha256 of the manifest bytes the prechecks read (the node refuses any
// other, node/lib/snapshots.sh). Here the plan reaches a snapshot store, the emulator on loopback.
describe("offline plan: prepare pinned to the manifest the prechecks read (#18)", function () {
    this.timeout(300_000);
    const KEY = "plan-pinned-site-key-0123456789abcdefghijklmno";
    const SNAPSHOT_DIR = `etcd/lab/${ID_A}/`;
    let work: string;
    let store: Objstore;

    const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
    /** A whole, authenticated manifest of ID_A as the primary writes it; SOURCE tells two apart. */
    const manifest = (source: string) => signManifest(`${JSON.stringify({
        formatVersion: 2, id: ID_A, createdAt: "2026-11-21T17:00:53Z", cluster: "lab", sourceHost: source, members: CONTROL_PLANE,
        etcdRevision: 302, etcdHash: 1, etcdTotalKeys: 8, etcdVersion: "3.4.23", kubernetesVersion: "1.35.8", compression: "gzip",
        encryption: "aes-256-cbc-pbkdf2", snapshotSha256: "a".repeat(64), snapshotBytes: 4096, pkiSha256: "d".repeat(64), apiserverEncryption: "none",
        objects: [{ name: "snapshot.db.gz.enc", size: 2000, sha256: "b".repeat(64) }, { name: "pki.tar.gz.enc", size: 600, sha256: "c".repeat(64) }],
    }, null, 2)}\n`, KEY);
    async function put(name: string, body: string): Promise<void> {
        const response = await fetch(`${store.writeUrl}${SNAPSHOT_DIR}${name}`, { method: "PUT", body });
        assert.strictEqual(response.status, 200, `PUT ${name}`);
    }
    /** The standby planned with restoreSnapshot ID_A, its prechecks reading the store (a new stack dir each time: plans are cached by file). */
    function planned(flags: string[] = ["--reach-store"], withOutputs = false) {
        const dir = existingStacks({ "etcd-dr:storeReadUrl": store.readUrl, "etcd-dr:restoreSnapshot": ID_A }, { "etcd-dr:encryptionKey": KEY });
        const file = path.join(dir, "Pulumi.lab-standby.yaml");
        const result = runPlan("lab-standby", file, true, flags);
        assert.strictEqual(result.status, 0, result.stderr);
        const outputs = withOutputs ? runPlan("lab-standby", file, false, [...flags, "--outputs"]) : undefined;
        assert.strictEqual(outputs?.status ?? 0, 0, outputs?.stderr);
        return {
            steps: (JSON.parse(result.stdout) as PlannedResource[]).filter((r) => r.parent === "lab-standby-restore"),
            restore: outputs && (JSON.parse(outputs.stdout) as { restore?: { snapshotId: string; manifestSha256?: string } }).restore,
            stderr: result.stderr,
        };
    }
    const prepares = (steps: PlannedResource[]) => steps.filter((s) => s.name.includes("-restore-prepare-"));
    const others = (steps: PlannedResource[]) => steps.filter((s) => !s.name.includes("-restore-prepare-"));

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-plan-store-"));
        store = await startObjstore(work, "etcd/lab/");
        await put("snapshot.db.gz.enc", "x".repeat(2000));
        await put("pki.tar.gz.enc", "x".repeat(600));
        await put("manifest.json", manifest("cp1"));
    });

    after(() => {
        store?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("gives every member's prepare the digest of the manifest the prechecks read, and no other step", () => {
        const { steps, restore, stderr } = planned(["--reach-store"], true);
        assert.doesNotMatch(stderr, /prechecks not run/);
        const digest = sha256(manifest("cp1"));
        assert.deepStrictEqual(prepares(steps).map((s) => s.name), CONTROL_PLANE.map((n) => `lab-standby-restore-prepare-${n}`));
        for (const step of prepares(steps)) {
            assert.ok(String(step.inputs.create).includes(`ETCD_DR_MANIFEST_SHA256=${digest} etcd-dr restore prepare ${ID_A}\n`), `${step.name}: ${String(step.inputs.create)}`);
        }
        for (const step of others(steps)) assert.doesNotMatch(String(step.inputs.create), /ETCD_DR_MANIFEST_SHA256/, step.name);
        assert.deepStrictEqual(restore && { snapshotId: restore.snapshotId, manifestSha256: restore.manifestSha256 }, { snapshotId: ID_A, manifestSha256: digest },
            "the stack's restore output records the pin, for the next update");
    });

    it("shows another manifest under the same id as a change of the prepare steps, and of nothing else", async () => {
        const first = planned().steps;
        await put("manifest.json", manifest("cp2"));
        try {
            const second = planned().steps;
            assert.deepStrictEqual(second.map((s) => s.name), first.map((s) => s.name));
            for (const [i, step] of second.entries()) {
                if (step.name.includes("-restore-prepare-")) {
                    assert.notDeepStrictEqual(step.inputs, first[i].inputs, `${step.name} must change`);
                    assert.ok(String(step.inputs.create).includes(`ETCD_DR_MANIFEST_SHA256=${sha256(manifest("cp2"))} `), step.name);
                } else {
                    assert.deepStrictEqual(step.inputs, first[i].inputs, `${step.name} must not change`);
                }
            }
        } finally {
            await put("manifest.json", manifest("cp1"));
        }
    });

    it("keeps the pin the stack restored with once the id is restored (no prechecks then), and none offline", async () => {
        const digest = sha256(manifest("cp1"));
        await put("manifest.json", manifest("cp3"));
        try {
            const restored = planned(["--reach-store", "--last-restore", ID_A, "--last-restore-manifest", digest]);
            assert.match(restored.stderr, /prechecks skipped: this stack's last update restored/);
            for (const step of prepares(restored.steps)) assert.ok(String(step.inputs.create).includes(`ETCD_DR_MANIFEST_SHA256=${digest} `), step.name);
        } finally {
            await put("manifest.json", manifest("cp1"));
        }
        const offline = planned([]);
        assert.match(offline.stderr, /prechecks not run in the offline plan/);
        for (const step of prepares(offline.steps)) {
            assert.doesNotMatch(String(step.inputs.create), /ETCD_DR_MANIFEST_SHA256/, step.name);
            assert.ok(String(step.inputs.create).includes(`\netcd-dr restore prepare ${ID_A}\n`), step.name);
        }
    });
});
