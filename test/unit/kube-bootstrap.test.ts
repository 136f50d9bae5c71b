// node/kube-bootstrap.sh's cluster step, run for real in bash with stand-ins for kubeadm, kubectl
// and curl, under a scratch root (its absolute paths rewritten). F16: a replaced first control-plane
// node whose site answers at the API alias joins it instead of `kubeadm init`; F10: a first boot
// without join credentials only prepares the node, and `kube-bootstrap join` joins it from stdin.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../helpers/plan";

interface Case {
    role: "init" | "join-control-plane" | "join-worker";
    kubeadmConfig: string;
    /** Whether something answers at https://<alias>:6443/readyz. */
    apiAnswers: boolean;
    /** Shell run after sourcing the script (functions of the script are available). */
    run: string;
    stdin?: string;
    joined?: boolean;
}

function runBootstrap(c: Case) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-kube-bootstrap-"));
    const bin = path.join(root, "bin");
    for (const dir of ["bin", "etc/etcd-dr", "etc/kubernetes", "var/lib"]) fs.mkdirSync(path.join(root, dir), { recursive: true });
    const log = path.join(root, "calls");
    const stub = (name: string, body = "") => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >>${log}\n${body}\n`, { mode: 0o755 });
    stub("curl", c.apiAnswers ? "exit 0" : "exit 7");
    stub("kubeadm", `if [[ "$1" == join || "$1" == init ]]; then touch ${root}/etc/kubernetes/kubelet.conf; fi`);
    stub("kubectl");
    fs.writeFileSync(path.join(root, "etc/etcd-dr/bootstrap.env"), [
        `NODE_ROLE=${c.role}`,
        "KUBERNETES_VERSION=1.35.8",
        "KUBERNETES_PACKAGE_REPO=https://repo.invalid/core",
        "API_ALIAS=k8s-api",
        "SITE_CIDR=10.10.0.0/16",
        "POD_SUBNET=10.244.0.0/16",
        "CNI_MANIFEST_URL=https://cni.invalid/cni.yaml",
        "",
    ].join("\n"));
    fs.writeFileSync(path.join(root, "etc/etcd-dr/kubeadm.yaml"), c.kubeadmConfig);
    if (c.joined) fs.writeFileSync(path.join(root, "etc/kubernetes/kubelet.conf"), "joined\n");
    const script = fs.readFileSync(path.join(ROOT, "node", "kube-bootstrap.sh"), "utf8")
        .replace(/(^|[\s="'])\/(etc|var\/lib)\//gm, `$1${root}/$2/`);
    const scriptPath = path.join(root, "kube-bootstrap.sh");
    fs.writeFileSync(scriptPath, script);
    const program = [
        `source ${scriptPath}`,
        // The real one copies etcdctl out of the etcd image; here it only says it ran.
        `install_etcd_tools() { echo "install_etcd_tools" >>${log}; }`,
        "sleep() { :; }",
        c.run,
    ].join("\n");
    const result = spawnSync("/bin/bash", ["-c", program], { encoding: "utf8", input: c.stdin ?? "", env: { PATH: `${bin}:/usr/bin:/bin` } });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
    const awaiting = path.join(root, "var/lib/etcd-dr/awaiting-join");
    return { ...result, calls, root, awaiting: fs.existsSync(awaiting) ? fs.readFileSync(awaiting, "utf8").trim() : undefined };
}

const CLUSTER = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n";
const INIT = `${CLUSTER}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n`;
const JOIN = `${CLUSTER}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n`;

describe("kube-bootstrap's cluster step (F10, F16)", function () {
    this.timeout(30_000);

    it("initialises a new site's cluster on cp1, without uploading certificates when it has no key", () => {
        const result = runBootstrap({ role: "init", kubeadmConfig: INIT, apiAnswers: false, run: "load_settings; bootstrap_cluster" });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.ok(result.calls.some((c) => /^kubeadm init --config \S+kubeadm\.yaml$/.test(c)), result.calls.join("\n"));
        assert.ok(result.calls.some((c) => c.startsWith("kubectl --kubeconfig") && c.endsWith("apply -f https://cni.invalid/cni.yaml")));
        assert.strictEqual(result.awaiting, undefined);
    });

    it("uploads the certificates when the user data brings the key (the lab's user-data joins)", () => {
        const result = runBootstrap({ role: "init", kubeadmConfig: `${INIT}certificateKey: abc\n`, apiAnswers: false, run: "load_settings; bootstrap_cluster" });
        assert.ok(result.calls.some((c) => /^kubeadm init --config \S+ --upload-certs$/.test(c)), result.calls.join("\n"));
    });

    it("never runs kubeadm init on a replaced cp1 whose site answers at the API alias: it awaits its join", () => {
        const result = runBootstrap({ role: "init", kubeadmConfig: INIT, apiAnswers: true, run: "main_part() { load_settings; bootstrap_cluster; }; main_part" });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.ok(!result.calls.some((c) => c.startsWith("kubeadm")), result.calls.join("\n"));
        assert.match(result.awaiting ?? "", /exists already/);
    });

    it("only prepares a joining node whose user data has no join credentials", () => {
        const result = runBootstrap({ role: "join-worker", kubeadmConfig: CLUSTER, apiAnswers: true, run: "load_settings; bootstrap_cluster" });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.ok(!result.calls.some((c) => c.startsWith("kubeadm")), result.calls.join("\n"));
        assert.match(result.awaiting ?? "", /no join credentials/);
    });

    it("still joins at first boot with credentials in the user data", () => {
        const result = runBootstrap({ role: "join-worker", kubeadmConfig: JOIN, apiAnswers: true, run: "load_settings; bootstrap_cluster" });
        assert.ok(result.calls.some((c) => /^kubeadm join --config \S+kubeadm\.yaml$/.test(c)), result.calls.join("\n"));
        assert.strictEqual(result.awaiting, undefined);
    });

    it("'join' joins from the configuration on stdin, then forgets it and the marker", () => {
        const result = runBootstrap({
            role: "join-control-plane",
            kubeadmConfig: CLUSTER,
            apiAnswers: true,
            run: "load_settings; bootstrap_cluster; join_node",
            stdin: "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n",
        });
        assert.strictEqual(result.status, 0, result.stderr);
        assert.ok(result.calls.some((c) => /^kubeadm join --config \S+kubeadm-join\.yaml$/.test(c)), result.calls.join("\n"));
        assert.ok(result.calls.includes("install_etcd_tools"));
        assert.ok(!fs.existsSync(path.join(result.root, "etc/etcd-dr/kubeadm-join.yaml")), "the token and key are not left on disk");
        assert.strictEqual(result.awaiting, undefined);
    });

    it("'join' on a member changes nothing, and refuses an empty stdin on a node that is none", () => {
        const member = runBootstrap({ role: "join-worker", kubeadmConfig: CLUSTER, apiAnswers: true, joined: true, run: "join_node" });
        assert.strictEqual(member.status, 0, member.stderr);
        assert.ok(!member.calls.some((c) => c.startsWith("kubeadm")));
        const empty = runBootstrap({ role: "join-worker", kubeadmConfig: CLUSTER, apiAnswers: true, run: "join_node" });
        assert.strictEqual(empty.status, 1);
        assert.match(empty.stderr, /no JoinConfiguration on standard input/);
    });
});
