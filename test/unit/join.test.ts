// F10, F16: on OCI no user data carries a join credential. The first control-plane node initialises
// the cluster; every other node is joined over SSH with a token and certificate key minted minutes
// before on a live control-plane node, and the CA pinned by hash. A replaced node is joined again
// (a replaced first control-plane node too, never `kubeadm init` a second time), and a replaced
// control-plane node's dead etcd member is removed before its join, a live one never.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { AWAITING_JOIN_MARKER, bootstrapCheckScript } from "../../components/k8s/bootstrapCheck";
import { INIT_TOKEN_TTL, renderJoinConfiguration } from "../../lib/cloudinit";
import { JOIN_TOKEN_TTL, mintJoinCredentialsScript, parseJoinCredentials } from "../../lib/kubeadmJoin";
import { unwrapSecrets } from "../../tools/mocks";
import { byName, graph, ofType, ROOT } from "../helpers/plan";
import { buildSite, named, Recorded, typed } from "./ociSiteHarness";
import { sampleSpec } from "./spec.test";

const TOKEN = "abcdef.0123456789abcdef";
const HASH = `sha256:${"a".repeat(64)}`;
const KEY = "b".repeat(64);

function userData(resources: Recorded[], host: string): string {
    const metadata = unwrapSecrets(named(resources, `primary-nodes-${host}`).inputs.metadata) as { user_data: string };
    return Buffer.from(metadata.user_data, "base64").toString("utf8");
}

function kubeadmDocuments(cloudInit: string): Record<string, unknown>[] {
    const parsed = yaml.load(cloudInit.replace(/^#cloud-config\n/, "")) as { write_files: { path: string; content: string }[] };
    const file = parsed.write_files.find((f) => f.path === "/etc/etcd-dr/kubeadm.yaml");
    return yaml.loadAll(file?.content ?? "") as Record<string, unknown>[];
}

describe("joining nodes with credentials minted at join time (F10, F16)", function () {
    this.timeout(180_000);

    describe("the user data of an OCI site", () => {
        let primary: Recorded[];
        before(async () => {
            primary = await buildSite({ role: "primary" });
        });

        it("carries no token, certificate key or CA shortcut, and is no secret", () => {
            for (const host of ["cp1", "cp2", "cp3", "w1", "w2", "w3"]) {
                assert.doesNotMatch(userData(primary, host), /[a-z0-9]{6}\.[a-z0-9]{16}/, `${host}: a bootstrap token`);
                const kubeadm = JSON.stringify(kubeadmDocuments(userData(primary, host)));
                assert.doesNotMatch(kubeadm, /"token"|certificateKey|unsafeSkipCAVerification/, host);
            }
            // Pulumi's secret marker: nothing in the metadata needs it any more.
            assert.doesNotMatch(JSON.stringify(named(primary, "primary-nodes-cp2").inputs.metadata), /4dabf18193072939515e22adb298388d/);
            assert.deepStrictEqual(typed(primary, "random:index/randomPassword:RandomPassword"), [], "no join token from random");
            assert.deepStrictEqual(typed(primary, "random:index/randomId:RandomId"), [], "no certificate key from random");
        });

        it("lets cp1 make a short-lived token of its own and upload no certificates, and the others only prepare", () => {
            const init = kubeadmDocuments(userData(primary, "cp1")).find((d) => d.kind === "InitConfiguration") as { bootstrapTokens: { token?: string; ttl: string }[] };
            assert.deepStrictEqual(init.bootstrapTokens.map((t) => [t.token, t.ttl]), [[undefined, INIT_TOKEN_TTL]]);
            assert.ok(!("certificateKey" in init));
            for (const host of ["cp2", "w1"]) {
                assert.deepStrictEqual(kubeadmDocuments(userData(primary, host)).map((d) => d.kind), ["ClusterConfiguration"], host);
            }
        });
    });

    describe("the JoinConfiguration a node gets over SSH", () => {
        const platform = { siteCidr: "10.10.0.0/16" };

        it("pins the CA by hash and brings the certificate key only to control-plane nodes", () => {
            const cp = yaml.load(renderJoinConfiguration(sampleSpec(), { name: "cp2", ip: "10.10.0.11" }, "join-control-plane", platform, { token: TOKEN, caCertHash: HASH, certificateKey: KEY })) as Record<string, any>;
            assert.deepStrictEqual(cp.discovery.bootstrapToken, { apiServerEndpoint: "k8s-api:6443", token: TOKEN, caCertHashes: [HASH] });
            assert.deepStrictEqual(cp.controlPlane, { certificateKey: KEY, localAPIEndpoint: { advertiseAddress: "10.10.0.11", bindPort: 6443 } });
            assert.strictEqual(cp.nodeRegistration.name, "cp2");
            const worker = yaml.load(renderJoinConfiguration(sampleSpec(), { name: "w1", ip: "10.10.64.10" }, "join-worker", platform, { token: TOKEN, caCertHash: HASH })) as Record<string, any>;
            assert.ok(!("controlPlane" in worker));
        });

        it("reads the minted credentials, refuses incomplete ones, and passes over a mock's empty answer", () => {
            const printed = `token=${TOKEN}\nca-cert-hash=${HASH}\ncertificate-key=${KEY}\n`;
            assert.deepStrictEqual(parseJoinCredentials(printed, { name: "cp2", controlPlane: true }), { token: TOKEN, caCertHash: HASH, certificateKey: KEY });
            assert.deepStrictEqual(parseJoinCredentials(printed, { name: "w1", controlPlane: false }), { token: TOKEN, caCertHash: HASH });
            assert.throws(() => parseJoinCredentials(`token=${TOKEN}\nca-cert-hash=${HASH}\n`, { name: "cp2", controlPlane: true }), /incomplete/);
            assert.throws(() => parseJoinCredentials("token=nope\n", { name: "w1", controlPlane: false }), /incomplete/);
            assert.strictEqual(parseJoinCredentials("", { name: "w1", controlPlane: false }), undefined);
        });
    });

    describe("minting on a live control-plane node", () => {
        function mint(node: { name: string; ip: string; controlPlane: boolean }, healthy: boolean, nodeObject: "none" | "kubelet answers" | "no kubelet" = "none") {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-mint-"));
            const log = path.join(dir, "calls");
            const stub = (name: string, body: string) => fs.writeFileSync(path.join(dir, name), `#!/bin/bash\necho "${name} $*" >>${log}\n${body}\n`, { mode: 0o755 });
            stub("kubeadm", `case "$1 $2" in "token create") echo ${TOKEN};; "certs certificate-key") echo ${KEY};; esac`);
            stub("etcdctl", [
                `case "$*" in`,
                `  *"member list"*) echo "8e9e05c52164694d, started, cp1, https://cp1:2380, https://10.10.0.10:2379, false"; echo "91bc3c398fb3c146, started, cp2, https://cp2:2380, https://10.10.0.11:2379, false";;`,
                `  *"endpoint health"*) ${healthy ? "exit 0" : "exit 1"};;`,
                `esac`,
            ].join("\n"));
            stub("kubectl", `case "$1" in get) ${nodeObject === "none" ? "exit 1" : `echo node/${node.name}`};; delete) echo "node \\"${node.name}\\" deleted";; esac`);
            stub("curl", nodeObject === "kubelet answers" ? "exit 0" : "exit 7");
            stub("openssl", "cat >/dev/null 2>&1 || true; echo pem");
            stub("sha256sum", `cat >/dev/null; echo "${"a".repeat(64)}  -"`);
            const result = spawnSync("/bin/bash", ["-c", mintJoinCredentialsScript(node)], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } });
            return { ...result, calls: fs.readFileSync(log, "utf8").trim().split("\n") };
        }

        it("prints a short-lived token, the CA hash and a fresh certificate key", () => {
            const result = mint({ name: "cp3", ip: "10.10.0.12", controlPlane: true }, true);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.deepStrictEqual(parseJoinCredentials(result.stdout, { name: "cp3", controlPlane: true }), { token: TOKEN, caCertHash: HASH, certificateKey: KEY });
            assert.ok(result.calls.some((c) => c.startsWith(`kubeadm token create --ttl ${JOIN_TOKEN_TTL}`)), result.calls.join("\n"));
            assert.ok(result.calls.includes(`kubeadm init phase upload-certs --upload-certs --certificate-key ${KEY}`));
        });

        it("removes the etcd member of a replaced node whose endpoint is dead, and never a live one", () => {
            const dead = mint({ name: "cp2", ip: "10.10.0.11", controlPlane: true }, false);
            assert.strictEqual(dead.status, 0, dead.stderr);
            assert.ok(dead.calls.some((c) => /member remove 91bc3c398fb3c146$/.test(c)), dead.calls.join("\n"));
            assert.ok(dead.calls.some((c) => c.includes("--endpoints https://10.10.0.11:2379") && c.endsWith("endpoint health")));
            const live = mint({ name: "cp2", ip: "10.10.0.11", controlPlane: true }, true);
            assert.ok(!live.calls.some((c) => c.includes("member remove")), live.calls.join("\n"));
        });

        it("removes the Node object of a replaced node whose kubelet does not answer, and never a live node's (F16)", () => {
            const replaced = mint({ name: "w1", ip: "10.10.64.10", controlPlane: false }, true, "no kubelet");
            assert.strictEqual(replaced.status, 0, replaced.stderr);
            assert.ok(replaced.calls.includes("curl -sk --connect-timeout 5 --max-time 10 -o /dev/null https://10.10.64.10:10250/healthz"), replaced.calls.join("\n"));
            assert.ok(replaced.calls.includes("kubectl delete node w1 --wait=false"), replaced.calls.join("\n"));
            assert.match(replaced.stderr, /removed the Node object of the replaced node w1: no kubelet answers at 10\.10\.64\.10/);
            assert.deepStrictEqual(parseJoinCredentials(replaced.stdout, { name: "w1", controlPlane: false }), { token: TOKEN, caCertHash: HASH });
            for (const state of ["kubelet answers", "none"] as const) {
                const kept = mint({ name: "w1", ip: "10.10.64.10", controlPlane: false }, true, state);
                assert.strictEqual(kept.status, 0, kept.stderr);
                assert.ok(!kept.calls.some((c) => c.startsWith("kubectl delete")), `${state}: ${kept.calls.join("\n")}`);
            }
        });

        it("gives a worker a token and the CA hash only", () => {
            const result = mint({ name: "w1", ip: "10.10.64.10", controlPlane: false }, true);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.doesNotMatch(result.stdout, /certificate-key/);
            assert.ok(!result.calls.some((c) => c.startsWith("etcdctl") || c.includes("upload-certs")), result.calls.join("\n"));
        });
    });

    describe("the offline plan", () => {
        it("joins every node over SSH after its first boot, control-plane nodes one at a time, cp1 again from cp2", () => {
            const resources = graph("primary");
            const joins = ofType(resources, "command:remote:Command").filter((r) => r.parent === "primary-join");
            assert.deepStrictEqual(joins.filter((j) => !j.name.endsWith("-credentials")).map((j) => j.name).sort(), ["cp1", "cp2", "cp3", "w1", "w2", "w3"].map((h) => `primary-join-${h}`));
            for (const host of ["cp2", "cp3", "w1"]) {
                const credentials = byName(resources, `primary-join-${host}-credentials`);
                assert.ok(credentials.dependsOn.includes("primary-bootstrap-cp1"), `${host} is minted on cp1 once it runs the cluster`);
                assert.ok(credentials.dependsOn.includes(`primary-bootstrap-${host}`), `${host} is prepared first`);
                assert.strictEqual(credentials.inputs.logging, "stderr", "credentials never in the log");
                const join = byName(resources, `primary-join-${host}`);
                assert.strictEqual(join.inputs.stdin, "[secret]");
                assert.match(String(join.inputs.create), /kube-bootstrap join/);
            }
            assert.ok(byName(resources, "primary-join-cp3-credentials").dependsOn.includes("primary-join-cp2"), "one control-plane join at a time");
            assert.ok(byName(resources, "primary-join-cp1-credentials").dependsOn.includes("primary-join-cp2"), "cp1 is minted on cp2, a member");
            assert.ok(byName(resources, "primary-toolkit-cp2-toolkit").dependsOn.includes("primary-join-cp2"), "nothing runs on a node before its join");
            // A replaced instance keeps its address: its new id is what makes the check wait for the new boot.
            assert.deepStrictEqual(byName(resources, "primary-bootstrap-cp2").inputs.triggers, ["primary-nodes-cp2-id"]);
        });
    });

    describe("the node side", () => {
        it("kube-bootstrap leaves the marker the bootstrap check reads", () => {
            const script = fs.readFileSync(path.join(ROOT, "node", "kube-bootstrap.sh"), "utf8");
            assert.match(script, new RegExp(`readonly AWAITING_JOIN=${AWAITING_JOIN_MARKER.replace(/[/.-]/g, "\\$&")}\\n`));
            assert.match(script, /^\s+join\) join_node ;;$/m);
        });

        it("the bootstrap check waits for cloud-init and passes a node only once kubeadm left its files, else says why (F06)", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-check-"));
            fs.mkdirSync(path.join(dir, "kubernetes"));
            // cloud-init answers with the status in the file `status`, and records a --wait.
            fs.writeFileSync(path.join(dir, "cloud-init"), `#!/bin/sh\necho "cloud-init $*" >>${dir}/calls\necho "status: $(cat ${dir}/status)"\n`, { mode: 0o755 });
            const script = bootstrapCheckScript({ name: "cp2", role: "control-plane" })
                .split(AWAITING_JOIN_MARKER).join(path.join(dir, "awaiting"))
                .split("/etc/kubernetes/").join(`${dir}/kubernetes/`)
                .split("/var/log/cloud-init-output.log").join(`${dir}/cloud-init-output.log`);
            const run = () => spawnSync("/bin/bash", ["-c", script], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } });

            fs.writeFileSync(path.join(dir, "status"), "error");
            fs.writeFileSync(path.join(dir, "cloud-init-output.log"), "kube-bootstrap: ERROR: the API at k8s-api:6443 did not answer in 10 minutes\n");
            const failed = run();
            assert.strictEqual(failed.status, 1);
            assert.match(failed.stderr, /^etcd-dr: ERROR: cp2 did not finish its kubeadm bootstrap \(cloud-init: error; missing \S+kubelet\.conf \S+admin\.conf\): kube-bootstrap: ERROR: the API at k8s-api:6443 did not answer in 10 minutes$/m);
            assert.match(fs.readFileSync(path.join(dir, "calls"), "utf8"), /^cloud-init status --wait$/m, "it waits for cloud-init first");

            fs.writeFileSync(path.join(dir, "status"), "done");
            fs.writeFileSync(path.join(dir, "kubernetes", "kubelet.conf"), "kubelet\n");
            const halfJoined = run();
            assert.strictEqual(halfJoined.status, 1, "a control-plane node without admin.conf is no member yet");
            assert.match(halfJoined.stderr, /cloud-init: done; missing \S+admin\.conf/);

            fs.writeFileSync(path.join(dir, "kubernetes", "admin.conf"), "admin\n");
            const joined = run();
            assert.strictEqual(joined.status, 0, joined.stderr);
            assert.match(joined.stdout, /bootstrap done \(cloud-init: done\)/);
        });

        it("the bootstrap check takes a prepared node that awaits its join as ready", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-check-"));
            fs.writeFileSync(path.join(dir, "cloud-init"), "#!/bin/sh\necho 'status: done'\n", { mode: 0o755 });
            const script = bootstrapCheckScript({ name: "cp2", role: "control-plane" }).split(AWAITING_JOIN_MARKER).join(path.join(dir, "awaiting"));
            const run = () => spawnSync("/bin/bash", ["-c", script], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin` } });
            assert.strictEqual(run().status, 1, "neither joined nor awaiting: a failed bootstrap");
            fs.writeFileSync(path.join(dir, "awaiting"), "no join credentials in the user data\n");
            const awaiting = run();
            assert.strictEqual(awaiting.status, 0, awaiting.stderr);
            assert.match(awaiting.stdout, /prepared, awaiting its join/);
        });
    });
});
