// The `lab` platform end to end: `pulumi up` of the real program builds a kubeadm site from nothing in
// the lab's local cloud -- instances from the OCI-like image, cloud-init user data, the same
// kube-bootstrap as OCI, Kubernetes from the lab's package repository and registry -- and `pulumi
// destroy` plus `lab/cloud.sh down` leave nothing behind. Needs root and the k8s supply
// (`make k8s-supply`): `npx mocha test/integration/lab-site.test.ts`.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { labClusterConfig, readSupply, Supply } from "../../tools/labStacks";
import { engineEnv, Pulumi } from "../../tools/pulumiCli";

const ROOT = path.resolve(__dirname, "..", "..");
const CLOUD_SH = path.join(ROOT, "lab", "cloud.sh");
const LAB_DIR = process.env.ETCD_DR_LAB_DIR ?? "/var/lib/etcd-dr-lab";
const STACK = "lab-site-test";
const CP1 = "10.250.1.10";
const W1 = "10.250.1.74";
const SERVICES = "10.250.0.1";

function sh(command: string, args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    const result = spawnSync(command, args, { input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.error) throw result.error;
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe("the lab platform: pulumi up builds a real kubeadm site", function () {
    this.timeout(1_800_000);
    let work: string;
    let key: string;
    let pulumi: Pulumi;
    let supply: Supply;
    let configFile: string;

    const ssh = (address: string, script: string, user = "ubuntu") =>
        sh("ssh", ["-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", `${user}@${address}`, script]);
    const sshOk = (address: string, script: string) => {
        const result = ssh(address, script);
        assert.strictEqual(result.status, 0, `${address}: ${script}\n${result.stdout}\n${result.stderr}`);
        return result.stdout;
    };
    const stack = (...args: string[]) => pulumi.ok([...args, "--stack", STACK, "--config-file", configFile]);

    const INOTIFY = ["fs.inotify.max_user_instances", "fs.inotify.max_user_watches"];
    const inotify = () => INOTIFY.map((key) => Number(fs.readFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, "utf8")));
    let hostInotify: number[] = [];

    before(() => {
        supply = readSupply();
        // cloud.sh down below puts back what the host had before the lab.
        execFileSync(CLOUD_SH, ["down"], { stdio: ["ignore", "ignore", "inherit"] });
        hostInotify = inotify();
        execFileSync(CLOUD_SH, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-lab-site-"));
        key = path.join(work, "id_ed25519");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
        fs.mkdirSync(path.join(work, "state"));
        pulumi = new Pulumi({ ...engineEnv(), PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`, PULUMI_CONFIG_PASSPHRASE: "lab-site-test" });
        configFile = path.join(work, `Pulumi.${STACK}.yaml`);
        fs.writeFileSync(configFile, yaml.dump({
            config: {
                "etcd-dr:platform": "lab",
                "etcd-dr:role": "primary",
                "etcd-dr:sshPublicKey": fs.readFileSync(`${key}.pub`, "utf8").trim(),
                "etcd-dr:topology": { clusterName: "labsite", controlPlane: ["cp1"], workers: ["w1"] },
                "etcd-dr:cluster": labClusterConfig(supply),
                // The lab platform makes the site's store and its pre-authenticated requests, as OCI does.
                "etcd-dr:snapshots": { parExpiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z") },
                "etcd-dr:kubernetesApi": "false",
            },
        }));
        pulumi.ok(["stack", "init", STACK]);
        pulumi.ok(["config", "set", "--secret", "sshPrivateKey", "--stack", STACK, "--config-file", configFile], fs.readFileSync(key, "utf8"));
    });

    after(() => {
        if (pulumi && configFile) {
            pulumi.run(["destroy", "--stack", STACK, "--config-file", configFile, "--yes", "--skip-preview"]);
        }
        execFileSync(CLOUD_SH, ["down"], { stdio: ["ignore", "ignore", "inherit"] });
        if (work) fs.rmSync(work, { recursive: true, force: true });
        // `stack init` keeps the passphrase salt beside the project, whatever --config-file says.
        fs.rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
    });

    it("gives the instances, which share the host's kernel, inotify limits for a VM each", () => {
        const [instances, watches] = inotify();
        assert.ok(instances >= 8192 && watches >= 1_048_576, `${instances} inotify instances, ${watches} watches`);
    });

    it("builds cp1 and w1 from nothing with pulumi up; both are Ready and CoreDNS runs", () => {
        const started = Date.now();
        stack("up", "--yes", "--skip-preview");
        process.stdout.write(`      pulumi up of a 1 + 1 lab site: ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
        // Joined is not Ready yet: a node is Ready once its CNI (flannel's DaemonSet pod) runs there.
        sshOk(CP1, "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready node --all --timeout=300s");
        const nodes = JSON.parse(sshOk(CP1, "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json")) as {
            items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
        };
        const ready = nodes.items.map((n) => [n.metadata.name, n.status.conditions.find((c) => c.type === "Ready")?.status]);
        assert.deepStrictEqual(ready.sort(), [["cp1", "True"], ["w1", "True"]]);
        const dns = sshOk(CP1, "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system wait --for=condition=Ready pod -l k8s-app=kube-dns --timeout=180s");
        assert.match(dns, /condition met/);
        const outputs = JSON.parse(pulumi.ok(["stack", "output", "--stack", STACK, "--json", "--show-secrets"])) as { lab: { hostKeys: Record<string, string> } };
        assert.match(outputs.lab.hostKeys.cp1, new RegExp(`^${CP1.replace(/\./g, "\\.")} ssh-ed25519 `, "m"), "each instance's host keys are exported");
    });

    it("logs in as ubuntu only, and keeps the image's REJECT rules with the cluster's networks opened before them", () => {
        const root = ssh(CP1, "true", "root");
        assert.notStrictEqual(root.status, 0, "root login must be refused");
        for (const address of [CP1, W1]) {
            const rules = sshOk(address, "sudo iptables -S INPUT; sudo iptables -S FORWARD; sudo cat /etc/iptables/rules.v4").split("\n");
            assert.ok(rules.includes("-A INPUT -j REJECT --reject-with icmp-host-prohibited"), `${address} keeps the image's INPUT REJECT`);
            assert.ok(rules.includes("-A FORWARD -j REJECT --reject-with icmp-host-prohibited"), `${address} keeps the image's FORWARD REJECT`);
            assert.ok(rules.some((r) => r.startsWith("-A INPUT -s 10.250.1.0/24 ") && r.endsWith("-j ACCEPT")), `${address} accepts its site's network`);
            // The same rules are in what netfilter-persistent restores at boot, ahead of the REJECT.
            const saved = rules.slice(rules.indexOf("*filter"));
            assert.ok(saved.findIndex((r) => r.includes("etcd-dr: site network")) < saved.indexOf("-A INPUT -j REJECT --reject-with icmp-host-prohibited"));
        }
    });

    it("runs the supply's Kubernetes and etcd, installed from the lab's package repository (issue 10)", () => {
        const version = supply.kubernetesVersion;
        const out = sshOk(CP1, "kubeadm version -o short; kubelet --version; kubectl version --client -o json; etcdctl version; etcdutl version; apt-cache policy kubelet");
        assert.match(out, new RegExp(`^${version}$`, "m"), "kubeadm version");
        assert.match(out, new RegExp(`^Kubernetes ${version}$`, "m"), "kubelet --version");
        assert.match(out, new RegExp(`"gitVersion": "${version}"`), "kubectl version --client");
        assert.match(out, new RegExp(`^etcdctl version: ${supply.etcdVersion.replace(/^v/, "")}$`, "m"));
        assert.match(out, new RegExp(`^etcdutl version: ${supply.etcdVersion.replace(/^v/, "")}$`, "m"));
        assert.match(out, new RegExp(`http://${SERVICES.replace(/\./g, "\\.")}:8080/core:/stable:/v1\\.\\d+/deb`), "kubelet comes from the lab's repository");
    });

    it("pulls every image of the supply from the lab registry, and runs a container of the workload image", () => {
        const repository = labClusterConfig(supply).imageRepository;
        const pulls = supply.images.map((image) => `sudo crictl pull ${repository}/${image} >/dev/null && echo pulled ${image}`).join(" && ");
        const pulled = sshOk(W1, pulls);
        assert.deepStrictEqual(pulled.trim().split("\n"), supply.images.map((i) => `pulled ${i}`));
        const kubectl = "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf";
        sshOk(CP1, `${kubectl} run workload --image=${repository}/busybox:${supply.busyboxTag} --restart=Never -- sh -c 'echo hello from $(hostname)'`);
        sshOk(CP1, `${kubectl} wait --for=jsonpath='{.status.phase}'=Succeeded pod/workload --timeout=180s`);
        assert.strictEqual(sshOk(CP1, `${kubectl} logs workload`).trim(), "hello from workload");
    });

    it("replaces w1 with a new instance at the same address: joined again with fresh credentials, Ready (F16)", () => {
        const hostKeyOfW1 = () => (JSON.parse(pulumi.ok(["stack", "output", "--stack", STACK, "--json", "--show-secrets"])) as { lab: { hostKeys: Record<string, string> } }).lab.hostKeys.w1;
        const before = hostKeyOfW1();
        const urn = (JSON.parse(pulumi.ok(["stack", "export", "--stack", STACK])) as { deployment: { resources: { urn: string }[] } })
            .deployment.resources.map((r) => r.urn).find((u) => u.endsWith(`::${STACK}-instances-w1`));
        assert.ok(urn, "the state has w1's instance");
        const started = Date.now();
        // Delete-first (its name and address cannot be held twice); the old Node object, still Ready,
        // is removed by the join's minting step on cp1 once nothing answers at w1's kubelet port.
        stack("up", "--yes", "--skip-preview", "--replace", urn);
        process.stdout.write(`      pulumi up replacing w1: ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
        assert.notStrictEqual(hostKeyOfW1(), before, "w1 is a new instance, with host keys of its own");
        sshOk(CP1, "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready node/w1 --timeout=300s");
        sshOk(W1, "test -f /etc/kubernetes/kubelet.conf && systemctl is-active kubelet");
    });

    it("pulumi destroy removes the instances, and cloud down leaves no machine, bridge, mount, cgroup or process", () => {
        stack("destroy", "--yes", "--skip-preview");
        const listed = JSON.parse(execFileSync(path.join(ROOT, "lab", "instance.sh"), ["list", "--json"], { encoding: "utf8" })) as unknown[];
        assert.deepStrictEqual(listed, []);
        execFileSync(CLOUD_SH, ["down"], { stdio: ["ignore", "ignore", "inherit"] });
        assert.strictEqual(sh("bash", ["-c", "ip -o link show | grep -c ' edr-' || true"]).stdout.trim(), "0", "no lab bridge or veth");
        assert.strictEqual(sh("bash", ["-c", "ip netns list | grep -c edr- || true"]).stdout.trim(), "0", "no peering namespace");
        assert.ok(!fs.readFileSync("/proc/mounts", "utf8").includes(`${LAB_DIR}/instances`), "no instance mount");
        assert.strictEqual(sh("bash", ["-c", "find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name 'edri-*' | wc -l"]).stdout.trim(), "0", "no instance cgroup");
        assert.strictEqual(sh("bash", ["-c", `pgrep -f '^systemd-nspawn .*--directory=${LAB_DIR}/instances' | wc -l`]).stdout.trim(), "0", "no nspawn");
        assert.strictEqual(sh("bash", [path.join(ROOT, "supply", "serve.sh"), "status"]).status, 3, "no supply service");
        assert.deepStrictEqual(inotify(), hostInotify, "the host's inotify limits are its own again");
    });
});
