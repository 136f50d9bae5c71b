// node/kube-bootstrap.sh, run for real in bash with stand-ins for every command that would touch the
// machine (kubeadm, kubectl, curl, apt-get, iptables, ctr, containerd, systemctl), under a scratch
// root (its absolute paths rewritten). F16: a replaced first control-plane node whose site answers at
// the API alias joins it instead of `kubeadm init`, apt waits for the dpkg lock and downloads are
// retried; F10: a first boot without join credentials only prepares the node, and `kube-bootstrap
// join` joins it from stdin; F04: the image's host firewall is opened for the cluster; F05: etcdctl
// and etcdutl come out of the etcd image; F29: containerd runs kubeadm's pause image.
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
    /** Shell run after sourcing the script (functions of the script are available); @ROOT@ is the scratch root. */
    run: string;
    stdin?: string;
    joined?: boolean;
    /** Stand-ins replacing the defaults, by command name: the body after the call is logged; @ROOT@ is the scratch root. */
    stubs?: Record<string, string>;
    /** Files under the scratch root, by path relative to it. */
    files?: Record<string, string>;
    /** Run the real install_etcd_tools (with ctr and kubeadm stand-ins) instead of a note that it ran. */
    realEtcdTools?: boolean;
}

/** What kubeadm names for the site's configuration (`kubeadm config images list`). */
const IMAGES = ["registry.k8s.io/kube-apiserver:v1.35.8", "registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.6-0", "registry.k8s.io/coredns/coredns:v1.13.1"];

function runBootstrap(c: Case) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-kube-bootstrap-"));
    const bin = path.join(root, "bin");
    for (const dir of ["bin", "etc/etcd-dr", "etc/kubernetes", "etc/apt/sources.list.d", "var/lib", "usr/local/bin"]) fs.mkdirSync(path.join(root, dir), { recursive: true });
    const log = path.join(root, "calls");
    const stubs: Record<string, string> = {
        curl: c.apiAnswers ? "exit 0" : "exit 7",
        kubeadm: [
            `if [[ "$1" == join || "$1" == init ]]; then touch ${root}/etc/kubernetes/kubelet.conf; fi`,
            `if [[ "$1 $2 $3" == "config images list" ]]; then printf '%s\n' ${IMAGES.join(" ")}; fi`,
        ].join("\n"),
        kubectl: "",
        // Nothing here may reach the machine the tests run on.
        "apt-get": "",
        "apt-mark": "",
        iptables: "",
        ctr: "",
        containerd: "",
        systemctl: "",
        ...c.stubs,
    };
    for (const [name, body] of Object.entries(stubs)) {
        fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >>${log}\n${body.split("@ROOT@").join(root)}\n`, { mode: 0o755 });
    }
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
    for (const [file, content] of Object.entries(c.files ?? {})) {
        fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        fs.writeFileSync(path.join(root, file), content);
    }
    // Every machine path of the script, wherever it stands (after a space, a quote, a redirection),
    // moves under the scratch root; a path inside another ("$mount_dir/usr/local/bin") stays.
    const machinePath = /(?<![\w$}/.-])\/(etc|var\/lib|usr\/local\/bin)\//g;
    const script = fs.readFileSync(path.join(ROOT, "node", "kube-bootstrap.sh"), "utf8").replace(machinePath, `${root}/$1/`);
    const left = script.split(root).join("SCRATCH").match(machinePath);
    if (left) throw new Error(`kube-bootstrap.sh would write outside the scratch root: ${left.join(", ")}`);
    const scriptPath = path.join(root, "kube-bootstrap.sh");
    fs.writeFileSync(scriptPath, script);
    const program = [
        `source ${scriptPath}`,
        // The real one copies etcdctl out of the etcd image; here it only says it ran.
        ...(c.realEtcdTools ? [] : [`install_etcd_tools() { echo "install_etcd_tools" >>${log}; }`]),
        `sleep() { echo "sleep $*" >>${log}; }`,
        c.run.split("@ROOT@").join(root),
    ].join("\n");
    const result = spawnSync("/bin/bash", ["-c", program], {
        encoding: "utf8",
        input: c.stdin ?? "",
        env: { PATH: `${bin}:${path.join(root, "usr/local/bin")}:/usr/bin:/bin` },
    });
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

/** /etc/iptables/rules.v4 as OCI's Ubuntu images ship it: SSH in, everything else rejected, nothing forwarded. */
const OCI_RULES_V4 = [
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":InstanceServices - [0:0]",
    "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -p icmp -j ACCEPT",
    "-A INPUT -i lo -j ACCEPT",
    "-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT",
    "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
    "-A FORWARD -j REJECT --reject-with icmp-host-prohibited",
    "-A OUTPUT -d 169.254.0.0/16 -j InstanceServices",
    "COMMIT",
    "",
].join("\n");

/** iptables keeping its rules in a file: -C finds what -I inserted. */
const IPTABLES = [
    "state=@ROOT@/iptables-rules",
    "case \"$1\" in",
    "  -C) shift; [[ -f \"$state\" ]] && grep -qxF -- \"$*\" \"$state\" ;;",
    "  -I) chain=$2; shift 3; echo \"$chain $*\" >>\"$state\" ;;",
    "  *) exit 2 ;;",
    "esac",
].join("\n");

describe("kube-bootstrap's node preparation (F04, F05, F16, F29)", function () {
    this.timeout(30_000);

    describe("the image's host firewall (F04)", () => {
        const firewall = (extra: Partial<Case> = {}) => runBootstrap({
            role: "join-worker",
            kubeadmConfig: CLUSTER,
            apiAnswers: true,
            stubs: { iptables: IPTABLES },
            files: { "etc/iptables/rules.v4": OCI_RULES_V4 },
            run: "load_settings; open_firewall",
            ...extra,
        });

        it("accepts the site's and the pod network ahead of the image's REJECT rules, now and at boot", () => {
            const result = firewall();
            assert.strictEqual(result.status, 0, result.stderr);
            assert.deepStrictEqual(result.calls.filter((c) => c.startsWith("iptables -I")), [
                "iptables -I INPUT 1 -s 10.10.0.0/16 -m comment --comment etcd-dr: site network -j ACCEPT",
                "iptables -I INPUT 1 -s 10.244.0.0/16 -m comment --comment etcd-dr: pod network -j ACCEPT",
                "iptables -I FORWARD 1 -s 10.244.0.0/16 -m comment --comment etcd-dr: pod network -j ACCEPT",
                "iptables -I FORWARD 1 -d 10.244.0.0/16 -m comment --comment etcd-dr: pod network -j ACCEPT",
            ]);
            const saved = fs.readFileSync(path.join(result.root, "etc/iptables/rules.v4"), "utf8").split("\n");
            const ours = saved.filter((l) => l.includes("etcd-dr:"));
            assert.deepStrictEqual(ours, [
                '-A INPUT -s 10.10.0.0/16 -m comment --comment "etcd-dr: site network" -j ACCEPT',
                '-A INPUT -s 10.244.0.0/16 -m comment --comment "etcd-dr: pod network" -j ACCEPT',
                '-A FORWARD -s 10.244.0.0/16 -m comment --comment "etcd-dr: pod network" -j ACCEPT',
                '-A FORWARD -d 10.244.0.0/16 -m comment --comment "etcd-dr: pod network" -j ACCEPT',
            ]);
            // Inside *filter, before the image's first rule, and the image's own rules all kept.
            assert.strictEqual(saved.indexOf(ours[0]), OCI_RULES_V4.split("\n").indexOf(":InstanceServices - [0:0]") + 1);
            assert.deepStrictEqual(saved.filter((l) => !l.includes("etcd-dr:")), OCI_RULES_V4.split("\n"));
        });

        it("changes nothing when run again (a re-run by hand, a reboot of cloud-init's script)", () => {
            const result = firewall({ run: "load_settings; open_firewall; cp @ROOT@/etc/iptables/rules.v4 @ROOT@/etc/iptables/first; open_firewall" });
            assert.strictEqual(result.status, 0, result.stderr);
            assert.strictEqual(result.calls.filter((c) => c.startsWith("iptables -I")).length, 4);
            assert.strictEqual(
                fs.readFileSync(path.join(result.root, "etc/iptables/rules.v4"), "utf8"),
                fs.readFileSync(path.join(result.root, "etc/iptables/first"), "utf8"),
            );
        });
    });

    describe("etcdctl and etcdutl (F05)", () => {
        // ctr mounts an image with both tools in /usr/local/bin, as registry.k8s.io/etcd has them.
        const CTR = [
            "if [[ \"$3 $4\" == \"images mount\" ]]; then",
            "  mkdir -p \"$6/usr/local/bin\"",
            "  for tool in etcdctl etcdutl; do printf '#!/bin/bash\\necho \"%s version: 3.6.6\"\\n' \"$tool\" >\"$6/usr/local/bin/$tool\"; chmod 0755 \"$6/usr/local/bin/$tool\"; done",
            "elif [[ \"$3 $4\" == \"images unmount\" ]]; then rm -rf \"$5/usr\"; fi",
        ].join("\n");
        const tools = (role: Case["role"], run = "load_settings; install_etcd_tools") =>
            runBootstrap({ role, kubeadmConfig: INIT, apiAnswers: false, realEtcdTools: true, stubs: { ctr: CTR }, run });

        it("copies both out of the etcd image kubeadm runs, so they are at the cluster's etcd version", () => {
            const result = tools("init");
            assert.strictEqual(result.status, 0, result.stderr);
            assert.ok(result.calls.some((c) => /^ctr -n k8s\.io images mount registry\.k8s\.io\/etcd:3\.6\.6-0 \S+$/.test(c)), result.calls.join("\n"));
            for (const tool of ["etcdctl", "etcdutl"]) {
                const installed = path.join(result.root, "usr/local/bin", tool);
                assert.ok(fs.statSync(installed).mode & 0o111, `${tool} is executable`);
            }
            assert.match(result.stderr, /etcdctl and etcdutl installed from registry\.k8s\.io\/etcd:3\.6\.6-0: etcdctl version: 3\.6\.6/);
            assert.ok(result.calls.some((c) => c.startsWith("ctr -n k8s.io images unmount")), "the image is unmounted again");
        });

        it("leaves tools in place alone, and gives a worker none (it runs no etcd)", () => {
            const again = tools("join-control-plane", "load_settings; install_etcd_tools; install_etcd_tools");
            assert.strictEqual(again.status, 0, again.stderr);
            assert.strictEqual(again.calls.filter((c) => c.includes("images mount")).length, 1);
            const worker = tools("join-worker");
            assert.strictEqual(worker.status, 0, worker.stderr);
            assert.deepStrictEqual(worker.calls, []);
        });

        it("fails with one line when kubeadm names no etcd image", () => {
            const result = runBootstrap({ role: "init", kubeadmConfig: INIT, apiAnswers: false, realEtcdTools: true, stubs: { kubeadm: "" }, run: "load_settings; install_etcd_tools" });
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /^kube-bootstrap: ERROR: kubeadm names no etcd image for \S+kubeadm\.yaml$/m);
        });
    });

    describe("containerd (F29)", () => {
        const DEFAULTS = [
            "version = 2",
            '    sandbox_image = "registry.k8s.io/pause:3.8"',
            "    restrict_oom_score_adj = false",
            '      bin_dir = "/usr/lib/cni"',
            '      config_path = ""',
            "            SystemdCgroup = false",
        ].join("\n");

        it("runs kubeadm's own pause image and the systemd cgroup driver", () => {
            const result = runBootstrap({
                role: "init",
                kubeadmConfig: INIT,
                apiAnswers: false,
                stubs: { containerd: `printf '%s\\n' '${DEFAULTS.replace(/'/g, "'\\''").split("\n").join("' '")}'` },
                run: "load_settings; configure_containerd",
            });
            assert.strictEqual(result.status, 0, result.stderr);
            const config = fs.readFileSync(path.join(result.root, "etc/containerd/config.toml"), "utf8");
            assert.match(config, /^ {4}sandbox_image = "registry\.k8s\.io\/pause:3\.10\.1"$/m);
            assert.match(config, /^ {12}SystemdCgroup = true$/m);
            assert.match(config, /^ {6}bin_dir = "\/opt\/cni\/bin"$/m);
            assert.ok(result.calls.includes("systemctl restart containerd"), result.calls.join("\n"));
        });
    });

    describe("packages and downloads on a first boot (F16)", () => {
        // curl writes what -o names, so the keyring lands.
        const CURL = 'for ((i = 1; i <= $#; i++)); do if [[ "${!i}" == -o ]]; then j=$((i + 1)); echo key >"${!j}"; fi; done';

        it("waits for the dpkg lock cloud-init or unattended-upgrades holds, and retries every download", () => {
            const result = runBootstrap({ role: "join-worker", kubeadmConfig: CLUSTER, apiAnswers: true, stubs: { curl: CURL }, run: "load_settings; install_packages" });
            assert.strictEqual(result.status, 0, result.stderr);
            const apt = result.calls.filter((c) => c.startsWith("apt-get "));
            assert.strictEqual(apt.length, 2, result.calls.join("\n"));
            for (const call of apt) {
                assert.ok(call.includes("-o DPkg::Lock::Timeout=600") && call.includes("-o Acquire::Retries=5"), call);
            }
            assert.match(apt[1], / kubelet=1\.35\.8-\* kubeadm=1\.35\.8-\* kubectl=1\.35\.8-\*$/);
            const key = result.calls.find((c) => c.startsWith("curl ") && c.includes("Release.key"));
            assert.ok(key && / --retry 5 --retry-connrefused /.test(key), key);
        });

        it("retries the CNI manifest, which comes from outside the site, after kubeadm init", () => {
            const flaky = runBootstrap({
                role: "init",
                kubeadmConfig: INIT,
                apiAnswers: false,
                stubs: { kubectl: "[[ $(grep -c '^kubectl ' @ROOT@/calls) -ge 3 ]]" },
                run: "load_settings; bootstrap_cluster",
            });
            assert.strictEqual(flaky.status, 0, flaky.stderr);
            assert.strictEqual(flaky.calls.filter((c) => c.endsWith("apply -f https://cni.invalid/cni.yaml")).length, 3);
            const down = runBootstrap({ role: "init", kubeadmConfig: INIT, apiAnswers: false, stubs: { kubectl: "exit 1" }, run: "load_settings; bootstrap_cluster" });
            assert.strictEqual(down.status, 1);
            assert.strictEqual(down.calls.filter((c) => c.startsWith("kubectl ")).length, 5);
            assert.match(down.stderr, /^kube-bootstrap: ERROR: cannot apply the CNI manifest https:\/\/cni\.invalid\/cni\.yaml; check cluster\.cniManifestUrl/m);
        });
    });
});
