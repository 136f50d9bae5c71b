// Lab instances as the program will use them: one per site with the same host name, booted from the
// OCI-like image, configured by cloud-init from the user data given, reachable as `ubuntu` only, behind
// the image's host firewall, with nothing Kubernetes on board and cgroups nested containers can use;
// then delete and down-all leave nothing behind. Needs root: `npx mocha test/integration/lab-instance.test.ts`.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const INSTANCE_SH = path.join(ROOT, "lab", "instance.sh");
const IMAGE_SH = path.join(ROOT, "lab", "image.sh");
const INSTANCES = path.join(process.env.ETCD_DR_LAB_DIR ?? "/var/lib/etcd-dr-lab", "instances");

interface Node {
    site: "primary" | "standby";
    name: string;
    address: string;
    gateway: string;
    bridge: string;
    machine: string;
}

const NODES: Node[] = [
    { site: "primary", name: "cp1", address: "10.250.1.11", gateway: "10.250.1.1", bridge: "edr-br-p", machine: "edri-p-cp1" },
    { site: "standby", name: "cp1", address: "10.250.2.11", gateway: "10.250.2.1", bridge: "edr-br-s", machine: "edri-s-cp1" },
];
const [PRIMARY, STANDBY] = NODES;

// Global sysctls a booting node or a kubelet would set; the host must keep its own values.
const HOST_SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "fs/protected_regular", "fs/protected_fifos"];

const USER_DATA = `#cloud-config
write_files:
  - path: /etc/edri-probe/written
    content: "written by cloud-init\\n"
runcmd:
  - [sh, -c, "hostname > /etc/edri-probe/ran; id -un >> /etc/edri-probe/ran"]
`;

interface Run {
    status: number;
    stdout: string;
    stderr: string;
}

function run(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Run {
    const result = spawnSync(command, args, { input: options.input, encoding: "utf8", timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    if (result.error) throw result.error;
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function instance(...args: string[]): Run {
    return run("bash", [INSTANCE_SH, ...args]);
}

function instanceWithInput(input: string, ...args: string[]): Run {
    return run("bash", [INSTANCE_SH, ...args], { input });
}

function lines(text: string): string[] {
    return text.split("\n").filter((l) => l.trim() !== "");
}

/** Every cgroup directory named after a test machine, in every hierarchy. */
function cgroupDirs(): string[] {
    const found = run("find", ["/sys/fs/cgroup", "-mindepth", "2", "-maxdepth", "6", "-type", "d", "(", "-name", PRIMARY.machine, "-o", "-name", STANDBY.machine, ")", "-prune", "-print"]);
    return lines(found.stdout);
}

function nspawnProcesses(): string[] {
    return lines(run("pgrep", ["-af", `systemd-nspawn .*--directory=${INSTANCES}/`]).stdout);
}

function mountsUnder(dir: string): string[] {
    return fs.readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.split(" ")[1]?.startsWith(`${dir}/`));
}

function linkExists(name: string): boolean {
    return run("ip", ["link", "show", name]).status === 0;
}

function bridgeMembers(bridge: string): string {
    return run("ip", ["-o", "link", "show", "master", bridge]).stdout;
}

function hostSysctls(): Record<string, string> {
    return Object.fromEntries(HOST_SYSCTLS.map((k) => [k, fs.readFileSync(`/proc/sys/${k}`, "utf8").trim()]));
}

/** What connecting from the host to ADDRESS:PORT gives: "connected", an errno code, or "timeout". */
function tcpConnect(address: string, port: number): Promise<string> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: address, port, timeout: 5000 });
        socket.once("connect", () => { socket.destroy(); resolve("connected"); });
        socket.once("timeout", () => { socket.destroy(); resolve("timeout"); });
        socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
}

function seconds(fromMs: number): string {
    return ((Date.now() - fromMs) / 1000).toFixed(1);
}

describe("lab instances (OCI-like nspawn machines)", function () {
    this.timeout(900_000);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lab-instance-"));
    const key = path.join(tmp, "id_ed25519");
    const userData = path.join(tmp, "user-data");
    const knownHosts = path.join(tmp, "known_hosts");
    const bridgesBefore = new Map<string, boolean>();
    const createdAt = new Map<Node, number>();
    let sysctlsBefore: Record<string, string> = {};

    function ssh(user: string, node: Node, command: string): Run {
        return run("ssh", [
            "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`,
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", `${user}@${node.address}`, command,
        ], { timeoutMs: 120_000 });
    }

    function ok(node: Node, command: string): string {
        const result = ssh("ubuntu", node, command);
        assert.strictEqual(result.status, 0, `${node.site}/${node.name}: \`${command}\` exited ${result.status}: ${result.stderr}`);
        return result.stdout;
    }

    before(function () {
        if (process.getuid?.() !== 0) this.skip();
        assert.deepStrictEqual(nspawnProcesses(), [], "instances from an earlier run are still up; run lab/instance.sh down-all");
        for (const node of NODES) bridgesBefore.set(node.bridge, linkExists(node.bridge));
        assert.strictEqual(run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lab-instance-test", "-f", key]).status, 0);
        fs.writeFileSync(userData, USER_DATA);
        // The image is built once per machine; instance timings below exclude it.
        const started = Date.now();
        const image = run("bash", [IMAGE_SH]);
        assert.strictEqual(image.status, 0, image.stderr);
        console.log(`      image ready in ${seconds(started)}s: ${image.stdout.trim()}`);
        sysctlsBefore = hostSysctls();
    });

    after(function () {
        if (process.getuid?.() !== 0) return;
        instance("down-all");
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe("create refuses bad input with one clear line and makes nothing", function () {
        const good = () => ({ site: "primary", name: "cp1", address: "10.250.1.11/24", gateway: "10.250.1.1", "user-data": userData, "ssh-key": `${key}.pub` });
        const cases: { what: string; change: Record<string, string>; says: RegExp }[] = [
            { what: "an unknown site", change: { site: "moon" }, says: /unknown site 'moon'/ },
            { what: "a name that is not a DNS label", change: { name: "cp_1.example" }, says: /not a DNS label/ },
            { what: "an address outside the site's subnet", change: { address: "10.250.2.11/24" }, says: /outside the primary subnet 10\.250\.1\.0\/24/ },
            { what: "a missing user-data file", change: { "user-data": path.join(tmp, "missing") }, says: /--user-data .* is not a readable file/ },
            { what: "a gateway that is not the lab host", change: { gateway: "10.250.1.254" }, says: /only gateway on primary is 10\.250\.1\.1/ },
            { what: "a private key given as the SSH key", change: { "ssh-key": key }, says: /holds no SSH public key/ },
        ];
        for (const c of cases) {
            it(`fails on ${c.what}`, function () {
                const flags = { ...good(), ...c.change };
                const result = instance("create", ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]));
                assert.strictEqual(result.status, 2, result.stderr);
                const errors = lines(result.stderr);
                assert.strictEqual(errors.length, 1, `expected one line, got: ${result.stderr}`);
                assert.match(errors[0], /^instance: ERROR: /);
                assert.match(errors[0], c.says);
                assert.strictEqual(instance("list", "--json").stdout.trim(), "[]");
                assert.ok(!fs.existsSync(path.join(INSTANCES, "primary", "cp1")));
                assert.deepStrictEqual(nspawnProcesses(), []);
                assert.deepStrictEqual(cgroupDirs(), []);
                for (const [bridge, existed] of bridgesBefore) assert.strictEqual(linkExists(bridge), existed, bridge);
            });
        }
    });

    describe("one instance per site with the same host name", function () {
        before(function () {
            for (const node of NODES) {
                createdAt.set(node, Date.now());
                // The primary gets its user data from a file, the standby from stdin (`--user-data -`).
                const result = instanceWithInput(USER_DATA, "create", "--site", node.site, "--name", node.name, "--address", `${node.address}/24`,
                    "--gateway", node.gateway, "--user-data", node === PRIMARY ? userData : "-", "--ssh-key", `${key}.pub`);
                assert.strictEqual(result.status, 0, result.stderr);
                const created = JSON.parse(result.stdout);
                assert.strictEqual(created.state, "running");
                assert.strictEqual(created.machine, node.machine);
                assert.strictEqual(created.address, node.address);
                console.log(`      ${node.site}/${node.name}: create returned in ${seconds(createdAt.get(node)!)}s`);
            }
            for (const node of NODES) {
                const wait = instance("wait-ssh", "--site", node.site, "--name", node.name, "--timeout", "180");
                assert.strictEqual(wait.status, 0, wait.stderr);
                const keys = lines(wait.stdout);
                assert.ok(keys.length > 0 && keys.every((l) => l.startsWith(`${node.address} `) && / (ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) /.test(l)), wait.stdout);
                fs.appendFileSync(knownHosts, wait.stdout);
                console.log(`      ${node.site}/${node.name}: create -> SSH answers ${seconds(createdAt.get(node)!)}s`);
            }
        });

        it("lists both instances as running", function () {
            const listed = JSON.parse(instance("list", "--json").stdout) as { site: string; name: string; state: string }[];
            assert.deepStrictEqual(listed.map((i) => `${i.site}/${i.name}/${i.state}`).sort(), ["primary/cp1/running", "standby/cp1/running"]);
        });

        it("runs the user data with cloud-init (NoCloud) to the end", function () {
            for (const node of NODES) {
                const status = ok(node, "cloud-init status --wait");
                console.log(`      ${node.site}/${node.name}: create -> cloud-init done ${seconds(createdAt.get(node)!)}s`);
                assert.match(status, /status: done/);
                assert.strictEqual(ok(node, "sudo cat /var/lib/cloud/seed/nocloud/user-data"), USER_DATA, "the user data, byte for byte");
                assert.strictEqual(ok(node, "cat /etc/edri-probe/written"), "written by cloud-init\n");
                assert.strictEqual(ok(node, "cat /etc/edri-probe/ran"), `${node.name}\nroot\n`);
                assert.strictEqual(ok(node, "cloud-init query platform"), "nocloud\n");
                assert.match(ok(node, "cloud-init query subplatform"), /seed-dir \(\/var\/lib\/cloud\/seed\/nocloud\)/);
            }
        });

        it("logs in as ubuntu with the given key, with passwordless sudo", function () {
            for (const node of NODES) {
                assert.strictEqual(ok(node, "id -un"), "ubuntu\n");
                assert.strictEqual(ok(node, "sudo -n true && sudo -n id -u"), "0\n");
            }
        });

        it("refuses SSH as root", function () {
            const result = ssh("root", PRIMARY, "id -u");
            assert.notStrictEqual(result.status, 0);
            assert.doesNotMatch(result.stdout, /^0$/m);
            assert.match(result.stdout + result.stderr, /Please login as the user "ubuntu" rather than the user "root"/);
        });

        it("has no password logins", function () {
            assert.match(ok(PRIMARY, "sudo sshd -T"), /^passwordauthentication no$/m);
        });

        it("has OCI's host firewall: INPUT rejects all but SSH, FORWARD rejects all", async function () {
            const input = ok(PRIMARY, "sudo iptables -S INPUT");
            assert.match(input, /^-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT$/m);
            assert.match(input, /^-A INPUT -j REJECT --reject-with icmp-host-prohibited$/m);
            assert.match(ok(PRIMARY, "sudo iptables -S FORWARD"), /^-A FORWARD -j REJECT --reject-with icmp-host-prohibited$/m);
            assert.match(ok(PRIMARY, "readlink -f /usr/sbin/iptables; sudo iptables -V"), /xtables-nft-multi[\s\S]*nf_tables/);
            // A real listener on 8080: reachable inside, rejected from the host.
            ok(PRIMARY, "nohup python3 -m http.server 8080 >/dev/null 2>&1 </dev/null & sleep 1; curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/");
            assert.strictEqual(await tcpConnect(PRIMARY.address, 8080), "EHOSTUNREACH");
            assert.strictEqual(await tcpConnect(PRIMARY.address, 22), "connected");
            ok(PRIMARY, "pkill -f 'http[.]server 8080' || true");
        });

        it("has nothing Kubernetes installed", function () {
            for (const node of NODES) {
                const result = ssh("ubuntu", node, "command -v etcd etcdctl etcdutl kubeadm kubelet kubectl containerd");
                assert.strictEqual(result.stdout, "");
                assert.notStrictEqual(result.status, 0);
            }
        });

        it("has the given host name, and the two cp1 live on different bridges", function () {
            for (const node of NODES) {
                assert.strictEqual(ok(node, "hostname; cat /etc/hostname"), `${node.name}\n${node.name}\n`);
                assert.match(ok(node, "ip -4 -o addr show host0"), new RegExp(`inet ${node.address.replace(/\./g, "\\.")}/24`));
                assert.match(ok(node, "ip route show default"), new RegExp(`default via ${node.gateway.replace(/\./g, "\\.")} dev host0`));
            }
            assert.match(bridgeMembers(PRIMARY.bridge), /vb-edri-p-cp1/);
            assert.doesNotMatch(bridgeMembers(PRIMARY.bridge), /vb-edri-s-cp1/);
            assert.match(bridgeMembers(STANDBY.bridge), /vb-edri-s-cp1/);
            assert.doesNotMatch(bridgeMembers(STANDBY.bridge), /vb-edri-p-cp1/);
        });

        it("mounts the cgroup v1 controllers read-write, and a nested cgroup works (W2, W5)", function () {
            const mounts = ok(PRIMARY, "mount | grep /sys/fs/cgroup");
            for (const controller of ["memory", "pids", "cpuset", "devices", "freezer", "blkio"]) {
                assert.match(mounts, new RegExp(`on /sys/fs/cgroup/${controller} type cgroup \\(rw,`), mounts);
            }
            const nested = ok(PRIMARY, "sudo sh -c 'mkdir /sys/fs/cgroup/memory/probe && echo 67108864 > /sys/fs/cgroup/memory/probe/memory.limit_in_bytes && " +
                "unshare --fork --pid --mount-proc sh -c \"echo \\$\\$ > /sys/fs/cgroup/memory/probe/cgroup.procs && grep :memory: /proc/self/cgroup && cat /sys/fs/cgroup/memory/probe/memory.limit_in_bytes\"; rmdir /sys/fs/cgroup/memory/probe'");
            assert.match(nested, /:memory:\/probe\n67108864\n/);
            // On the host the nested cgroup was inside the instance's own subtree.
            assert.ok(cgroupDirs().some((d) => d.startsWith("/sys/fs/cgroup/memory/") && d.endsWith(`/${PRIMARY.machine}`)));
        });

        it("keeps /var/lib/containerd off the overlay root, so a snapshotter can mount overlays there (W3)", function () {
            const result = ok(PRIMARY, "findmnt -n -o FSTYPE /var/lib/containerd; sudo sh -c 'd=/var/lib/containerd/probe; " +
                "mkdir -p $d/l $d/u $d/w $d/m && echo nested > $d/l/f && mount -t overlay overlay -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w $d/m && " +
                "cat $d/m/f && umount $d/m && rm -rf $d'");
            const [fstype, content] = lines(result);
            assert.notStrictEqual(fstype, "overlay");
            assert.strictEqual(content, "nested");
        });

        it("shields the host's kernel settings and loads built-in modules like a VM", function () {
            assert.strictEqual(ok(PRIMARY, "sysctl -n vm.overcommit_memory kernel.panic"), "1\n10\n");
            ok(PRIMARY, "sudo modprobe overlay && sudo modprobe br_netfilter");
            assert.deepStrictEqual(hostSysctls(), sysctlsBefore);
        });

        it("reports idle memory per instance", function () {
            for (const node of NODES) {
                const dir = cgroupDirs().find((d) => d.startsWith("/sys/fs/cgroup/memory/") && d.endsWith(`/${node.machine}`));
                assert.ok(dir, `no memory cgroup for ${node.machine}`);
                const usage = Number(fs.readFileSync(path.join(dir, "memory.usage_in_bytes"), "utf8"));
                const stat = fs.readFileSync(path.join(dir, "memory.stat"), "utf8");
                const rss = Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? 0);
                const pids = lines(run("find", [dir, "-name", "cgroup.procs", "-exec", "cat", "{}", "+"]).stdout);
                let pss = 0;
                for (const pid of pids) {
                    try {
                        pss += Number(/^Pss:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
                    } catch { /* gone */ }
                }
                console.log(`      ${node.site}/${node.name} idle: ${pids.length} processes, PSS ${(pss / 1024).toFixed(0)} MiB, ` +
                    `rss ${(rss / 2 ** 20).toFixed(0)} MiB, cgroup usage ${(usage / 2 ** 20).toFixed(0)} MiB (with page cache)`);
                assert.ok(pss > 0);
            }
        });

        it("reset cuts the power and boots the same disk again at the same address", function () {
            ok(STANDBY, "echo before-the-reset > ~/reset-probe");
            const bootedBefore = ok(STANDBY, "ps -o lstart= -p 1");
            const started = Date.now();
            const result = instance("reset", "--site", STANDBY.site, "--name", STANDBY.name);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.strictEqual((JSON.parse(result.stdout) as { state: string }).state, "running");
            const wait = instance("wait-ssh", "--site", STANDBY.site, "--name", STANDBY.name, "--timeout", "180");
            assert.strictEqual(wait.status, 0, wait.stderr);
            console.log(`      ${STANDBY.site}/${STANDBY.name}: reset to SSH answering ${seconds(started)}s`);
            assert.notStrictEqual(ok(STANDBY, "ps -o lstart= -p 1"), bootedBefore, "PID 1 started again");
            assert.strictEqual(ok(STANDBY, "cat ~/reset-probe"), "before-the-reset\n");
            assert.strictEqual(instance("reset", "--site", STANDBY.site, "--name", "nosuch").status, 2);
        });

        it("delete powers one instance off and removes it, the other keeps running", function () {
            const started = Date.now();
            const result = instance("delete", "--site", PRIMARY.site, "--name", PRIMARY.name);
            assert.strictEqual(result.status, 0, result.stderr);
            console.log(`      ${PRIMARY.site}/${PRIMARY.name}: delete (power-off and removal) ${seconds(started)}s`);
            assert.ok(!fs.existsSync(path.join(INSTANCES, PRIMARY.site, PRIMARY.name)));
            assert.ok(!cgroupDirs().some((d) => d.endsWith(`/${PRIMARY.machine}`)), cgroupDirs().join("\n"));
            assert.strictEqual(mountsUnder(path.join(INSTANCES, PRIMARY.site)).length, 0);
            const listed = JSON.parse(instance("list", "--json").stdout) as { site: string; state: string }[];
            assert.deepStrictEqual(listed.map((i) => `${i.site}/${i.state}`), ["standby/running"]);
            assert.strictEqual(ok(STANDBY, "hostname"), "cp1\n");
            // Deleting what is gone succeeds.
            assert.strictEqual(instance("delete", "--site", PRIMARY.site, "--name", PRIMARY.name).status, 0);
        });

        it("down-all leaves no process, mount, cgroup, pid file or bridge behind", function () {
            const started = Date.now();
            const result = instance("down-all");
            assert.strictEqual(result.status, 0, result.stderr);
            console.log(`      down-all ${seconds(started)}s`);
            assert.deepStrictEqual(nspawnProcesses(), []);
            assert.deepStrictEqual(mountsUnder(INSTANCES), []);
            assert.deepStrictEqual(cgroupDirs(), []);
            assert.ok(!fs.existsSync(INSTANCES), `${INSTANCES} (pid files, overlays) remains`);
            for (const [bridge, existed] of bridgesBefore) assert.strictEqual(linkExists(bridge), existed, `bridge ${bridge}`);
            assert.doesNotMatch(run("ip", ["-o", "link"]).stdout, /vb-edri-/);
            assert.strictEqual(instance("list", "--json").stdout.trim(), "[]");
        });
    });
});
