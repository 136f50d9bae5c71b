// The offline kubernetes provider against a real kube-apiserver on loopback (etcd, kube-apiserver and
// the garbage collector from the Kubernetes supply), driven by the real Pulumi CLI: the objects
// etcd-dr manages (a ConfigMap made, changed, replaced and deleted; kubeadm-config read with `.get`)
// behave as with upstream pulumi-kubernetes 4.x, whose behaviours engine/README.md lists. The API
// server's certificate names only api.example.internal, so every kubeconfig here dials 127.0.0.1
// with tls-server-name, as etcd-dr's does through its SSH tunnel; the last group runs that tunnel
// (lib/apiTunnel.ts) through a stock sshd on loopback.
import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { knownHosts, openApiTunnel, TunnelRoute } from "../../lib/apiTunnel";
import { KubeApiserver, startKubeApiserver } from "../helpers/kubeApiserver";
import { PulumiProject, PulumiResult } from "../helpers/pulumi";
import { startSshd, Sshd } from "../helpers/sshd";

const ROOT = path.resolve(__dirname, "..", "..");
const NODE_MODULES = path.join(ROOT, "node_modules");
const output = (r: PulumiResult) => `${r.stdout}\n${r.stderr}`;

// The program: what components/k8s/clusterApi.ts does, with its values from config. With `tunnel`
// set it reaches the API through lib/apiTunnel.ts as clusterApi.ts does.
const PROGRAM = `
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { openApiTunnel, tunnelKubeconfig } from ${JSON.stringify(path.join(ROOT, "lib", "apiTunnel"))};

const config = new pulumi.Config();
const tunnel = config.getSecretObject<{ route: Parameters<typeof openApiTunnel>[0]; alias: string }>("tunnel");
const kubeconfig = tunnel
    ? pulumi.all([config.requireSecret("kubeconfig"), tunnel]).apply(async ([text, t]) => {
        const opened = await openApiTunnel(t.route, { seed: pulumi.getStack() });
        return tunnelKubeconfig(text, opened.port, t.alias);
    })
    : config.requireSecret("kubeconfig");
const provider = new k8s.Provider("cluster", { kubeconfig });
const kubeadm = k8s.core.v1.ConfigMap.get("kubeadm-config", "kube-system/kubeadm-config", { provider });
const status = new k8s.core.v1.ConfigMap("status", {
    metadata: {
        name: "etcd-dr-status",
        namespace: "kube-system",
        labels: { "app.kubernetes.io/managed-by": "etcd-dr", run: config.get("label") ?? "one" },
    },
    data: { snapshotId: config.get("snapshotId") ?? "s1", note: config.requireSecret("note") },
}, { provider });
const unnamed = new k8s.core.v1.ConfigMap("unnamed", { data: { a: "b" } }, { provider });
const annotations = config.getObject<Record<string, string>>("annotations");
if (annotations) {
    new k8s.core.v1.ConfigMap("annotated", { metadata: { name: "annotated", namespace: "kube-system", annotations }, data: { a: "b" } }, { provider });
}
if (config.getBoolean("clash")) {
    new k8s.core.v1.ConfigMap("clash", { metadata: { name: "taken", namespace: "kube-system" }, data: { a: "b" } }, { provider });
}

export const statusUid = status.metadata.uid;
export const statusResourceVersion = status.metadata.resourceVersion;
export const statusLabels = status.metadata.labels;
export const statusData = status.data;
// Unknown in a preview that cannot dry-run (a replacement whose old object still exists).
export const statusManagers = status.metadata.managedFields.apply((m) => (m ?? []).map((f) => f.manager + "/" + f.operation));
export const kubeadmConfiguration = kubeadm.data.apply((d) => d.ClusterConfiguration);
export const kubeadmUid = kubeadm.metadata.uid;
export const unnamedName = unnamed.metadata.name;
export const unnamedNamespace = unnamed.metadata.namespace;
export const unnamedAnnotations = unnamed.metadata.annotations;
`;

interface Step {
    op: string;
    urn: string;
    diffReasons?: string[];
    replaceReasons?: string[];
    detailedDiff?: Record<string, { kind: string }>;
}

type Outputs = Record<string, unknown> & { statusUid: string; statusData: Record<string, string>; statusLabels: Record<string, string> };

describe("offline kubernetes provider on a real kube-apiserver", function () {
    this.timeout(900_000);
    let api: KubeApiserver;
    let work: string;
    let project: PulumiProject;
    const stack = "k8s";

    const outputs = (name = stack): Outputs => JSON.parse(project.ok(["stack", "output", "--stack", name, "--json", "--show-secrets"]).stdout) as Outputs;
    const config = (values: Record<string, string>, name = stack) => {
        for (const [key, value] of Object.entries(values)) project.ok(["config", "set", "--stack", name, key, value]);
    };
    const secret = (key: string, value: string, name = stack) => project.ok(["config", "set", "--stack", name, "--secret", key], value);
    const steps = (name = stack): Step[] =>
        (JSON.parse(project.ok(["preview", "--stack", name, "--json", "--diff", "--show-replacement-steps"]).stdout) as { steps: Step[] }).steps;
    const live = (name: string, ns = "kube-system") =>
        JSON.parse(api.kubectl(["get", "configmap", name, "-n", ns, "-o", "json"])) as {
            metadata: { uid: string; labels?: Record<string, string>; resourceVersion: string };
            data: Record<string, string>;
        };
    const state = (name = stack) => project.ok(["stack", "export", "--stack", name]).stdout;

    before(async () => {
        api = await startKubeApiserver("api.example.internal");
        api.kubectl(["create", "configmap", "kubeadm-config", "-n", "kube-system",
            "--from-literal=ClusterConfiguration=kubernetesVersion: v1.35.8\nclusterName: test\n"]);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-k8s-engine-"));
        const dir = path.join(work, "project");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: engine-kubernetes\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "engine-kubernetes", private: true, main: "index.ts" }));
        fs.writeFileSync(path.join(dir, "index.ts"), PROGRAM);
        fs.symlinkSync(NODE_MODULES, path.join(dir, "node_modules"));
        fs.mkdirSync(path.join(work, "state"));
        project = new PulumiProject(dir, {
            PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "k8s",
            KUBECONFIG: "",
            // Type-checking @pulumi/kubernetes on every run costs a minute on a busy machine.
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        });
        project.ok(["stack", "init", stack]);
        secret("kubeconfig", api.kubeconfig());
        secret("note", "a secret note");
    });

    after(() => {
        if (project) {
            for (const name of [stack, "tunnel"]) {
                project.run(["destroy", "--stack", name, "--yes"]);
                project.run(["stack", "rm", "--stack", name, "--yes", "--force"]);
            }
        }
        api?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    describe("a ConfigMap's life", () => {
        let first: Outputs;

        it("previews the creation with a server-side dry run, creating nothing", () => {
            const preview = project.ok(["preview", "--stack", stack]);
            assert.match(preview.stdout, /\+ 4 to create/);
            assert.throws(() => api.kubectl(["get", "configmap", "etcd-dr-status", "-n", "kube-system"]), /NotFound/);
        });

        it("creates it, and its outputs are the live object", () => {
            const up = project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
            assert.match(up.stdout, /\+ 4 created/);
            first = outputs();
            const object = live("etcd-dr-status");
            assert.strictEqual(first.statusUid, object.metadata.uid);
            assert.match(String(first.statusResourceVersion), /^\d+$/);
            assert.deepStrictEqual(object.data, { snapshotId: "s1", note: "a secret note" });
            assert.deepStrictEqual(first.statusLabels, { "app.kubernetes.io/managed-by": "etcd-dr", run: "one" });
            // A client-side create under the provider's static field manager, as upstream.
            assert.deepStrictEqual(first.statusManagers, ["pulumi-kubernetes/Update"]);
        });

        it("reads kubeadm-config by id with .get, inputs taken from the live object", () => {
            assert.strictEqual(first.kubeadmConfiguration, "kubernetesVersion: v1.35.8\nclusterName: test\n");
            assert.strictEqual(first.kubeadmUid, live("kubeadm-config").metadata.uid);
        });

        it("names an unnamed object after the resource with a random suffix, in the kubeconfig's namespace", () => {
            assert.match(String(first.unnamedName), /^unnamed-[0-9a-f]{8}$/);
            assert.strictEqual(first.unnamedNamespace, "default");
            assert.deepStrictEqual(first.unnamedAnnotations, { "pulumi.com/autonamed": "true" });
        });

        it("keeps the state in upstream's shape, with the secret value and the kubeconfig encrypted", () => {
            const text = state();
            const resources = (JSON.parse(text) as { deployment: { resources: { urn: string; id?: string; outputs?: Record<string, unknown> }[] } }).deployment.resources;
            const status = resources.find((r) => r.urn.endsWith("::status"));
            assert.strictEqual(status?.id, "kube-system/etcd-dr-status");
            const outs = status?.outputs ?? {};
            for (const key of ["__inputs", "__initialApiVersion", "__fieldManager", "apiVersion", "kind", "metadata", "data"]) assert.ok(key in outs, `${key} is not in the state`);
            assert.match(String(outs.__fieldManager), /^pulumi-kubernetes-[0-9a-f]{8}$/);
            assert.ok(!text.includes("a secret note"), "the secret data value is in the state in clear text");
            assert.ok(!text.includes("client-key-data"), "the kubeconfig is in the state in clear text");
            const data = outs.data as Record<string, unknown>;
            assert.ok(typeof data.note === "object" && data.note !== null && "ciphertext" in data.note, "data.note is not a secret in the state");
            assert.strictEqual(data.snapshotId, "s1");
        });

        it("previews no changes for an unchanged program, also after a refresh", () => {
            project.ok(["preview", "--stack", stack, "--expect-no-changes"]);
            project.ok(["preview", "--stack", stack, "--refresh", "--expect-no-changes"]);
            // The first refresh rewrites the .get resource's state once (see engine/README.md); then none.
            project.ok(["refresh", "--stack", stack, "--yes"]);
            project.ok(["refresh", "--stack", stack, "--yes", "--expect-no-changes"]);
        });

        it("updates a label in place with server-side apply, taking over the create's fields", () => {
            config({ label: "two" });
            const update = steps().find((s) => s.urn.endsWith("::status"));
            assert.strictEqual(update?.op, "update");
            assert.deepStrictEqual(Object.keys(update?.detailedDiff ?? {}), ["metadata.labels.run"]);
            project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
            const object = live("etcd-dr-status");
            assert.strictEqual(object.metadata.uid, first.statusUid, "a label change replaced the object");
            assert.strictEqual(object.metadata.labels?.run, "two");
            const managers = outputs().statusManagers as string[];
            assert.strictEqual(managers.length, 1, managers.join(", "));
            assert.match(managers[0], /^pulumi-kubernetes-[0-9a-f]{8}\/Apply$/);
        });

        it("replaces it, deleting first, when its data changes (ConfigMaps are immutable by default)", () => {
            config({ snapshotId: "s2" });
            const planned = steps().filter((s) => s.urn.endsWith("::status")).map((s) => s.op);
            assert.deepStrictEqual(planned, ["delete-replaced", "replace", "create-replacement"]);
            const replace = steps().find((s) => s.urn.endsWith("::status") && s.op === "replace");
            assert.deepStrictEqual(replace?.replaceReasons, ["data.snapshotId"]);
            project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
            const object = live("etcd-dr-status");
            assert.notStrictEqual(object.metadata.uid, first.statusUid);
            assert.strictEqual(object.data.snapshotId, "s2");
        });

        it("shows a change made on the cluster on refresh; applying over it is a field conflict with its manager", () => {
            api.kubectl(["label", "configmap", "etcd-dr-status", "-n", "kube-system", "--overwrite", "run=by-hand"]);
            const drift = project.run(["preview", "--stack", stack, "--refresh", "--expect-no-changes", "--diff"]);
            assert.notStrictEqual(drift.status, 0, "a label changed on the cluster passed --expect-no-changes");
            assert.match(output(drift), /run\s*:\s*"by-hand" => "two"/);
            // `kubectl label` owns the field now (manager kubectl-label), which upstream does not take over.
            const conflict = project.run(["up", "--stack", stack, "--yes", "--refresh", "--skip-preview"]);
            assert.notStrictEqual(conflict.status, 0);
            assert.match(output(conflict), /server-side apply field conflict detected, see https:\/\/www\.pulumi\.com\/registry\/packages\/kubernetes\/how-to-guides\/managing-resources-with-server-side-apply\/#handle-field-conflicts-on-existing-resources for troubleshooting help/);
            assert.match(output(conflict), /The resource managed by field manager "pulumi-kubernetes-[0-9a-f]{8}" had an apply conflict: Apply failed with 1 conflict: conflict with "kubectl-label" using v1: \.metadata\.labels\.run/);
            api.kubectl(["label", "configmap", "etcd-dr-status", "-n", "kube-system", "run-"]);
            project.ok(["up", "--stack", stack, "--yes", "--refresh", "--skip-preview"]);
            assert.strictEqual(live("etcd-dr-status").metadata.labels?.run, "two");
        });

        it("drops an object deleted on the cluster from the state on refresh, and creates it again on up", () => {
            api.kubectl(["delete", "configmap", "etcd-dr-status", "-n", "kube-system"]);
            const refresh = project.ok(["refresh", "--stack", stack, "--yes"]);
            assert.match(refresh.stdout, /- 1 deleted/);
            const up = project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
            assert.match(up.stdout, /\+ 1 created/);
            assert.strictEqual(live("etcd-dr-status").data.snapshotId, "s2");
        });

        it("refuses to create over an object that exists, with upstream's explanation (a preview cannot tell)", () => {
            api.kubectl(["create", "configmap", "taken", "-n", "kube-system", "--from-literal=a=b"]);
            config({ clash: "true" });
            try {
                project.ok(["preview", "--stack", stack]);
                const result = project.run(["up", "--stack", stack, "--yes", "--skip-preview"]);
                assert.notStrictEqual(result.status, 0);
                assert.match(output(result), /resource "urn:pulumi:k8s::engine-kubernetes::kubernetes:core\/v1:ConfigMap::clash" was not successfully created by the Kubernetes API server: configmaps "taken" already exists\s+The resource already exists in the cluster\. This can happen when:/);
            } finally {
                project.ok(["config", "rm", "--stack", stack, "clash"]);
                api.kubectl(["delete", "configmap", "taken", "-n", "kube-system"]);
            }
        });

        it("deletes on destroy and waits until the garbage collector has finished the foreground deletion", () => {
            const uid = live("etcd-dr-status").metadata.uid;
            project.ok(["destroy", "--stack", stack, "--yes"]);
            assert.throws(() => live("etcd-dr-status"), /NotFound/, `etcd-dr-status ${uid} is still there`);
            assert.ok(live("kubeadm-config").metadata.uid, "a .get resource was deleted on destroy");
            project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
        });
    });

    describe("await logic and pulumi.com/* annotations", () => {
        // The ConfigMap "annotated" exists while the `annotations` config is set.
        after(() => {
            project.run(["config", "rm", "--stack", stack, "annotations"]);
            project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
        });

        it("creates a ConfigMap ready at once (no await logic, also with PULUMI_K8S_AWAIT_ALL), with the pulumi.com/* annotations it implements", () => {
            const annotations = { "pulumi.com/deletionPropagationPolicy": "background", "pulumi.com/patchForce": "true", "example.com/note": "kept" };
            config({ annotations: JSON.stringify(annotations) });
            const events = path.join(work, "annotated-events.jsonl");
            // PULUMI_DEBUG_COMMANDS makes `--event-log` available.
            new PulumiProject(project.dir, { ...project.env, PULUMI_K8S_AWAIT_ALL: "true", PULUMI_DEBUG_COMMANDS: "true" })
                .ok(["up", "--stack", stack, "--yes", "--skip-preview", "--event-log", events]);
            // The engine's events carry whole seconds: from the step's start to its outputs.
            const log = fs.readFileSync(events, "utf8").trim().split("\n").map((l) => JSON.parse(l) as {
                timestamp: number;
                resourcePreEvent?: { metadata: { urn: string; op: string } };
                resOutputsEvent?: { metadata: { urn: string; op: string } };
            });
            const annotated = (e: { metadata: { urn: string } } | undefined) => e?.metadata.urn.endsWith("::annotated") ?? false;
            const pre = log.find((e) => annotated(e.resourcePreEvent));
            const done = log.find((e) => annotated(e.resOutputsEvent));
            assert.strictEqual(pre?.resourcePreEvent?.metadata.op, "create");
            assert.ok(done, "the create of annotated has no outputs event");
            assert.ok(done.timestamp - pre.timestamp <= 2, `the create of a ConfigMap took ${done.timestamp - pre.timestamp} s`);
            const object = JSON.parse(api.kubectl(["get", "configmap", "annotated", "-n", "kube-system", "-o", "json"])) as { metadata: { annotations: Record<string, string> } };
            assert.deepStrictEqual(object.metadata.annotations, annotations);
        });

        it("refuses pulumi.com/skipAwait, waitFor, timeoutSeconds and every other pulumi.com/* annotation it does not implement, in Check", () => {
            const refused = { "pulumi.com/skipAwait": "true", "pulumi.com/waitFor": "jsonpath={.data.a}=b", "pulumi.com/timeoutSeconds": "60", "pulumi.com/replaceUnready": "true" };
            for (const [key, value] of Object.entries(refused)) {
                config({ annotations: JSON.stringify({ [key]: value }) });
                const result = project.run(["preview", "--stack", stack]);
                assert.notStrictEqual(result.status, 0, `${key} passed Check`);
                assert.match(output(result), new RegExp(`the "${key.replace(/[./]/g, "\\$&")}" annotation is not implemented by etcd-dr's offline kubernetes provider`));
            }
        });
    });

    describe("an API server that cannot be reached, or does not match", () => {
        // Each run configures the provider from the program's config: preview, or refresh --run-program
        // (a plain refresh uses the provider as the state recorded it).
        after(() => {
            secret("kubeconfig", api.kubeconfig());
            project.ok(["up", "--stack", stack, "--yes", "--skip-preview"]);
            project.ok(["preview", "--stack", stack, "--expect-no-changes"]);
        });

        it("verifies the certificate against tls-server-name: without it, 127.0.0.1 is not a name the certificate has", () => {
            secret("kubeconfig", api.kubeconfig(undefined, null));
            const result = project.run(["preview", "--stack", stack]);
            assert.notStrictEqual(result.status, 0);
            assert.match(output(result), /warning: configured Kubernetes cluster is unreachable: unable to load schema information from the API server: Get "https:\/\/127\.0\.0\.1:\d+\/openapi\/v2\?timeout=32s": tls: failed to verify certificate: x509: cannot validate certificate for 127\.0\.0\.1 because it doesn't contain any IP SANs/);
        });

        it("fails a refresh with upstream's text when nothing listens, naming PULUMI_K8S_DELETE_UNREACHABLE", () => {
            secret("kubeconfig", api.kubeconfig({ host: "127.0.0.1", port: 1 }));
            const result = project.run(["refresh", "--stack", stack, "--yes", "--run-program"]);
            assert.notStrictEqual(result.status, 0);
            const text = output(result);
            assert.match(text, /warning: configured Kubernetes cluster is unreachable: unable to load schema information from the API server: Get "https:\/\/127\.0\.0\.1:1\/openapi\/v2\?timeout=32s": dial tcp 127\.0\.0\.1:1: connect: connection refused/);
            assert.match(text, /error: Preview failed: failed to read resource state due to unreachable cluster\. If the cluster was deleted, you can remove this resource from Pulumi state by rerunning the operation with the PULUMI_K8S_DELETE_UNREACHABLE environment variable set to "true"/);
        });
    });

    describe("through the SSH tunnel etcd-dr holds open for a deployment", () => {
        let sshd: Sshd;
        let route: TunnelRoute;

        before(async () => {
            // This stack makes the same kube-system/etcd-dr-status.
            project.ok(["destroy", "--stack", stack, "--yes"]);
            sshd = await startSshd();
            const login = { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKeys.ed25519 };
            route = { node: login, target: { host: "127.0.0.1", port: api.port } };
        });

        after(() => sshd?.stop());

        it("forwards 127.0.0.1:<port> to the API server, with the pinned host key, and the kubeconfig verifies by the alias", async () => {
            const tunnel = await openApiTunnel(route, { seed: "test-direct" });
            try {
                const file = path.join(work, "tunnel.conf");
                fs.writeFileSync(file, api.kubeconfig({ host: "127.0.0.1", port: tunnel.port }), { mode: 0o600 });
                const version = execFileSync(path.join(api.bin, "kubectl"), ["--kubeconfig", file, "get", "--raw", "/version"], { encoding: "utf8" });
                assert.match(version, /"gitVersion": "v1\.35\./);
            } finally {
                tunnel.close();
            }
        });

        it("goes through a jump host with its own key", async () => {
            const jump = { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKeys.ecdsa };
            const tunnel = await openApiTunnel({ ...route, jump }, { seed: "test-jump" });
            try {
                assert.ok(knownHosts({ ...route, jump }).includes("etcd-dr-api-jump ecdsa-sha2-nistp256 "));
                const file = path.join(work, "jump.conf");
                fs.writeFileSync(file, api.kubeconfig({ host: "127.0.0.1", port: tunnel.port }), { mode: 0o600 });
                execFileSync(path.join(api.bin, "kubectl"), ["--kubeconfig", file, "get", "namespace", "kube-system"], { encoding: "utf8" });
            } finally {
                tunnel.close();
            }
        });

        it("refuses a host key that is not the pinned one, with ssh's own error", async () => {
            await assert.rejects(openApiTunnel({ ...route, node: { ...route.node, hostKey: sshd.publicKey } }, { seed: "test-wrong-key", timeoutMs: 20_000 }),
                /the SSH tunnel to the Kubernetes API \(.*\) ended: .*Host key verification failed/s);
        });

        it("ends ssh when the program's process ends, even when it is killed", async () => {
            const script = [
                `const { openApiTunnel } = require(${JSON.stringify(path.join(ROOT, "lib", "apiTunnel"))});`,
                `openApiTunnel(${JSON.stringify(route)}, { seed: "test-exit" }).then((t) => {`,
                "  console.log(JSON.stringify({ port: t.port })); setInterval(() => {}, 1000); });",
            ].join("\n");
            for (const signal of ["SIGTERM", "SIGKILL"] as const) {
                const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
                const line = await new Promise<string>((resolve, reject) => {
                    child.stdout.once("data", (d: Buffer) => resolve(String(d)));
                    child.once("exit", (code) => reject(new Error(`tunnel helper exited ${code}`)));
                });
                const { port } = JSON.parse(line) as { port: number };
                const sshPids = () => execFileSync("pgrep", ["-f", `127.0.0.1:${port}:127.0.0.1:${api.port}`], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
                assert.ok(sshPids().length > 0, "no ssh process forwards the port");
                child.kill(signal);
                await new Promise((r) => child.once("exit", r));
                const deadline = Date.now() + 10_000;
                let left: string[] = [];
                while (Date.now() < deadline) {
                    try {
                        left = sshPids();
                    } catch {
                        left = [];
                    }
                    if (left.length === 0) break;
                    await new Promise((r) => setTimeout(r, 200));
                }
                assert.deepStrictEqual(left, [], `ssh outlived the program after ${signal}`);
            }
        });

        it("runs a deployment through it: the program opens the tunnel, the provider reaches the API by the alias", () => {
            project.ok(["stack", "init", "tunnel"]);
            // kubeadm's admin.conf names the API by the control-plane endpoint; the tunnel rewrites it.
            secret("kubeconfig", api.kubeconfig({ host: "k8s-api", port: 6443 }, null), "tunnel");
            secret("note", "n", "tunnel");
            secret("tunnel", JSON.stringify({ route, alias: api.servingName }), "tunnel");
            const up = project.ok(["up", "--stack", "tunnel", "--yes", "--skip-preview"]);
            assert.match(up.stdout, /\+ 4 created/);
            assert.strictEqual(live("etcd-dr-status").metadata.labels?.run, "one");
            assert.ok(!state("tunnel").includes(sshd.privateKey.split("\n")[1]), "the node's key is in the state in clear text");
        });

        it("previews no changes on the next run: the tunnel takes the same local port, so the provider's kubeconfig is unchanged", () => {
            project.ok(["preview", "--stack", "tunnel", "--expect-no-changes"]);
            project.ok(["preview", "--stack", "tunnel", "--refresh", "--run-program", "--expect-no-changes"]);
        });

        it("needs --run-program for refresh and destroy: without the program there is no tunnel", () => {
            const refresh = project.run(["refresh", "--stack", "tunnel", "--yes"]);
            assert.notStrictEqual(refresh.status, 0);
            assert.match(output(refresh), /failed to read resource state due to unreachable cluster/);
            project.ok(["refresh", "--stack", "tunnel", "--yes", "--run-program", "--expect-no-changes"]);
            project.ok(["destroy", "--stack", "tunnel", "--yes", "--run-program"]);
            assert.throws(() => live("etcd-dr-status"), /NotFound/);
        });
    });
});
