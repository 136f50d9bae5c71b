// The lab's Kubernetes supply (make k8s-supply), without any lab node: the cached binaries report the
// pinned versions, the images are exactly the ones kubeadm names, and the services of supply/serve.sh
// on 127.0.0.1 serve every image through the registry API and a signed apt repository that apt
// resolves kubeadm, kubelet and kubectl from (and rejects once tampered with).
import * as assert from "assert";
import { execFileSync, spawn, spawnSync, ChildProcess } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { freePort } from "../helpers/ports";

const ROOT = path.resolve(__dirname, "..", "..");
const BUILD = path.join(ROOT, "supply", "build.sh");
const SERVE = path.join(ROOT, "supply", "serve.sh");

interface Supply {
    kubernetesVersion: string;
    etcdVersion: string;
    etcdImageTag: string;
    corednsVersion: string;
    pauseVersion: string;
    crictlVersion: string;
    cniVersion: string;
    flannelVersion: string;
    packages: Record<string, string>;
    registryPath: string;
    images: string[];
    kubeadmImages: string[];
    kubernetesAptPath: string;
    debianAptPath: string;
}

interface OciDescriptor {
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, withStderr = false): string {
    const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    }
    return withStderr ? r.stdout + r.stderr : r.stdout;
}

async function fetchOk(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, init);
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url}: HTTP ${res.status} ${await res.text()}`);
    return res;
}

// Whether a process runs (a zombie waiting for its reaper does not).
function alive(pid: number): boolean {
    try {
        return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}

// Processes whose arguments name a directory: what supply/serve.sh calls its own.
function processesNaming(dir: string): number[] {
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let cmdline = "";
        try {
            cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
        } catch {
            continue;
        }
        if (cmdline.includes(`${dir}/`)) pids.push(Number(entry));
    }
    return pids;
}

describe("Kubernetes supply for the lab (make k8s-supply)", function () {
    this.timeout(120_000);
    let dir: string;
    let supply: Supply;
    const bin = (name: string) => path.join(dir, "bin", name);

    before(function () {
        // make test builds it first; a cold build here would take many minutes.
        this.timeout(3_600_000);
        dir = execFileSync(BUILD, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
        supply = JSON.parse(fs.readFileSync(path.join(dir, "supply.json"), "utf8")) as Supply;
    });

    it("a warm build is a no-op that returns within 5 s and prints the same directory", () => {
        const started = Date.now();
        const again = execFileSync(BUILD, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
        assert.strictEqual(again, dir);
        assert.ok(Date.now() - started < 5000, `warm build took ${Date.now() - started} ms`);
    });

    it("the binaries report the pinned versions", () => {
        const v = supply.kubernetesVersion;
        assert.strictEqual(v, "v1.35.8");
        assert.strictEqual(run(bin("kubeadm"), ["version", "-o", "short"]).trim(), v);
        assert.strictEqual(run(bin("kubelet"), ["--version"]).trim(), `Kubernetes ${v}`);
        const client = JSON.parse(run(bin("kubectl"), ["version", "--client", "-o", "json"])).clientVersion;
        assert.deepStrictEqual([client.gitVersion, client.major, client.minor, client.gitTreeState], [v, "1", "35", "clean"]);
        for (const b of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]) {
            assert.strictEqual(run(bin(b), ["--version"]).trim(), `Kubernetes ${v}`, b);
        }
        const etcd = supply.etcdVersion.replace(/^v/, "");
        assert.strictEqual(etcd, "3.6.6");
        assert.match(run(bin("etcdutl"), ["version"]), new RegExp(`^etcdutl version: ${etcd.replace(/\./g, "\\.")}$`, "m"));
        assert.match(run(bin("etcdctl"), ["version"]), new RegExp(`^etcdctl version: ${etcd.replace(/\./g, "\\.")}$`, "m"));
        assert.match(run(bin("etcd"), ["--version"]), new RegExp(`^etcd Version: ${etcd.replace(/\./g, "\\.")}$`, "m"));
        assert.strictEqual(run(bin("crictl"), ["--version"]).trim(), `crictl version ${supply.crictlVersion}`);
        assert.match(run(bin("coredns"), ["-version"]), new RegExp(`^CoreDNS-${supply.corednsVersion.replace(/^v/, "")}$`, "m"));
        // flanneld prints its version on stderr.
        assert.strictEqual(run(bin("flanneld"), ["--version"], {}, true).trim(), supply.flannelVersion);
        assert.match(run(bin("cni/bridge"), ["--version"], {}, true), new RegExp(`^CNI bridge plugin ${supply.cniVersion}$`, "m"));
        assert.match(run(bin("cni/flannel"), ["--version"], {}, true), /^CNI flannel plugin v0\.9\.1$/m);
    });

    it("holds exactly the images kubeadm config images list names, plus the lab's extras", () => {
        const repo = `127.0.0.1:5000/${supply.registryPath}`;
        const listed = run(bin("kubeadm"), ["config", "images", "list", "--kubernetes-version", supply.kubernetesVersion, "--image-repository", repo])
            .trim()
            .split("\n")
            .sort();
        assert.deepStrictEqual(listed, [
            `${repo}/coredns:${supply.corednsVersion}`,
            `${repo}/etcd:${supply.etcdImageTag}`,
            `${repo}/kube-apiserver:${supply.kubernetesVersion}`,
            `${repo}/kube-controller-manager:${supply.kubernetesVersion}`,
            `${repo}/kube-proxy:${supply.kubernetesVersion}`,
            `${repo}/kube-scheduler:${supply.kubernetesVersion}`,
            `${repo}/pause:${supply.pauseVersion}`,
        ]);
        const extras = ["busybox:1.35.0", `flannel:${supply.flannelVersion}`, "flannel-cni-plugin:v0.9.1"];
        assert.deepStrictEqual([...supply.images].sort(), [...listed.map((i) => i.slice(repo.length + 1)), ...extras].sort());
        assert.deepStrictEqual(supply.kubeadmImages, listed.map((i) => i.slice(repo.length + 1)));
    });

    describe("served by supply/serve.sh on 127.0.0.1", () => {
        let run_dir: string;
        let work: string;
        let env: NodeJS.ProcessEnv;
        let httpUrl: string;
        let registryUrl: string;
        const pidsOf = () =>
            fs
                .readdirSync(run_dir)
                .filter((f) => f.endsWith(".pid"))
                .map((f) => Number(fs.readFileSync(path.join(run_dir, f), "utf8").split("\n")[0]));
        let startedPids: number[] = [];
        let tamperServer: ChildProcess | undefined;

        before(async () => {
            work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-supply-"));
            run_dir = path.join(work, "run");
            const [httpPort, registryPort] = [await freePort(), await freePort()];
            env = {
                ETCD_DR_SUPPLY_RUN: run_dir,
                ETCD_DR_SUPPLY_DIR: dir,
                ETCD_DR_SUPPLY_HTTP_PORT: String(httpPort),
                ETCD_DR_SUPPLY_REGISTRY_PORT: String(registryPort),
            };
            httpUrl = `http://127.0.0.1:${httpPort}`;
            registryUrl = `http://127.0.0.1:${registryPort}`;
            run(SERVE, ["start", "127.0.0.1"], env);
            startedPids = pidsOf();
        });

        after(() => {
            tamperServer?.kill();
            if (run_dir) spawnSync(SERVE, ["stop"], { env: { ...process.env, ...env } });
            if (work) fs.rmSync(work, { recursive: true, force: true });
        });

        it("start is idempotent and status reports both services running", () => {
            assert.strictEqual(startedPids.length, 2);
            const again = spawnSync(SERVE, ["start", "127.0.0.1"], { encoding: "utf8", env: { ...process.env, ...env } });
            assert.strictEqual(again.status, 0, again.stderr);
            assert.match(again.stderr, /registry-127\.0\.0\.1 already running/);
            assert.match(again.stderr, /http-127\.0\.0\.1 already running/);
            const status = run(SERVE, ["status"], env);
            assert.match(status, /^registry-127\.0\.0\.1 pid \d+ running$/m);
            assert.match(status, /^http-127\.0\.0\.1 pid \d+ running$/m);
        });

        it("start restarts a service that serves an older supply", () => {
            const pidfile = path.join(run_dir, "http-127.0.0.1.pid");
            const [oldPid] = fs.readFileSync(pidfile, "utf8").split("\n");
            fs.writeFileSync(pidfile, `${oldPid}\n${path.join(path.dirname(dir), "an-older-supply")}\n`);
            const again = spawnSync(SERVE, ["start", "127.0.0.1"], { encoding: "utf8", env: { ...process.env, ...env } });
            assert.strictEqual(again.status, 0, again.stderr);
            assert.match(again.stderr, /http-127\.0\.0\.1 \(pid \d+\) serves an older supply: restarting it/);
            assert.match(again.stderr, /registry-127\.0\.0\.1 already running/);
            const [newPid, served] = fs.readFileSync(pidfile, "utf8").split("\n");
            assert.notStrictEqual(newPid, oldPid);
            assert.strictEqual(served, dir);
            assert.ok(!alive(Number(oldPid)), `old pid ${oldPid} is still alive`);
        });

        it("the registry's catalog lists every image and serves each manifest and blob with the expected tag", async () => {
            const catalog = (await (await fetchOk(`${registryUrl}/v2/_catalog`)).json()) as { repositories: string[] };
            const repos = supply.images.map((i) => `${supply.registryPath}/${i.split(":")[0]}`).sort();
            assert.deepStrictEqual(catalog.repositories, repos);
            const index = JSON.parse(fs.readFileSync(path.join(dir, "oci", "index.json"), "utf8")) as { manifests: OciDescriptor[] };
            assert.strictEqual(index.manifests.length, supply.images.length);
            for (const image of supply.images) {
                const [name, tag] = image.split(":");
                const repo = `${supply.registryPath}/${name}`;
                const tags = (await (await fetchOk(`${registryUrl}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
                assert.deepStrictEqual(tags.tags, [tag], repo);
                const res = await fetchOk(`${registryUrl}/v2/${repo}/manifests/${tag}`, {
                    headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
                });
                const expected = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === `${supply.registryPath}/${image}`);
                assert.ok(expected, `${image} is not in the OCI layout`);
                assert.strictEqual(res.headers.get("docker-content-digest"), expected.digest, image);
                const manifest = (await res.json()) as { config: OciDescriptor; layers: OciDescriptor[] };
                assert.strictEqual(manifest.layers.length, 1, image);
                for (const blob of [manifest.config, ...manifest.layers]) {
                    const head = await fetchOk(`${registryUrl}/v2/${repo}/blobs/${blob.digest}`, { method: "HEAD" });
                    assert.strictEqual(Number(head.headers.get("content-length")), blob.size, `${image} ${blob.digest}`);
                }
                const config = (await (await fetchOk(`${registryUrl}/v2/${repo}/blobs/${manifest.config.digest}`)).json()) as {
                    os: string;
                    architecture: string;
                    config: { User?: string };
                };
                assert.deepStrictEqual([config.os, config.architecture], ["linux", "amd64"], image);
                if (name === "pause") assert.strictEqual(config.config.User, "65535:65535");
                if (name === "coredns" || name === "busybox") {
                    const layer = await (await fetchOk(`${registryUrl}/v2/${repo}/blobs/${manifest.layers[0].digest}`)).arrayBuffer();
                    const tar = zlib.gunzipSync(Buffer.from(layer));
                    if (name === "coredns") {
                        assert.strictEqual(config.config.User, "65532:65532");
                        // cap_net_bind_service=+ep on /coredns, as a PAX xattr record.
                        const record = "SCHILY.xattr.security.capability=" + Buffer.from("0100000200040000000000000000000000000000", "hex").toString("latin1");
                        assert.ok(tar.includes(Buffer.from(record, "latin1")), "coredns has no cap_net_bind_service xattr");
                    } else {
                        assert.ok(tar.includes(Buffer.from("bin/sh\0")), "busybox has no bin/sh");
                    }
                }
            }
        });

        it("the registry is read-only to the lab", async () => {
            const res = await fetch(`${registryUrl}/v2/${supply.registryPath}/busybox/blobs/uploads/`, { method: "POST" });
            assert.notStrictEqual(res.status, 202);
        });

        it("serves the flannel manifest with this address's image repository and the pod subnet", async () => {
            const text = await (await fetchOk(`${httpUrl}/cni/kube-flannel.yml`)).text();
            const registry = registryUrl.replace(/^http:\/\//, "");
            assert.match(text, new RegExp(`image: ${registry}/${supply.registryPath}/flannel:${supply.flannelVersion}$`, "m"));
            assert.match(text, new RegExp(`image: ${registry}/${supply.registryPath}/flannel-cni-plugin:v0\\.9\\.1$`, "m"));
            assert.doesNotMatch(text, /@[A-Z_]+@/);
            const docs = yaml.loadAll(text) as Array<{ kind: string; data?: Record<string, string> }>;
            assert.deepStrictEqual(docs.map((d) => d.kind), ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet"]);
            const data = docs[4].data ?? {};
            assert.deepStrictEqual(JSON.parse(data["net-conf.json"]), { Network: "10.244.0.0/16", EnableNFTables: false, Backend: { Type: "host-gw" } });
            const cni = JSON.parse(data["cni-conf.json"]) as { cniVersion: string; plugins: Array<{ type: string }> };
            assert.deepStrictEqual([cni.cniVersion, cni.plugins.map((p) => p.type)], ["0.3.1", ["flannel", "portmap"]]);
        });

        // A throwaway apt: its own sources, lists, cache and a dpkg status of a minbase node.
        function aptConfig(name: string, sources: string[]): string[] {
            const base = path.join(work, name);
            for (const d of ["lists/partial", "cache/archives/partial", "parts"]) fs.mkdirSync(path.join(base, d), { recursive: true });
            fs.writeFileSync(path.join(base, "sources.list"), sources.join("\n") + "\n");
            fs.copyFileSync(path.join(dir, "debian-minbase.status"), path.join(base, "status"));
            return [
                "-o", `Dir::Etc::sourcelist=${path.join(base, "sources.list")}`,
                "-o", `Dir::Etc::sourceparts=${path.join(base, "parts")}`,
                "-o", `Dir::State=${base}`,
                "-o", `Dir::State::Lists=${path.join(base, "lists")}`,
                "-o", `Dir::State::status=${path.join(base, "status")}`,
                "-o", `Dir::Cache=${path.join(base, "cache")}`,
                "-o", "Debug::NoLocking=true",
                "-o", "Acquire::Languages=none",
                "-o", "APT::Install-Recommends=false",
            ];
        }

        function keyring(): string {
            const key = path.join(work, "kubernetes-apt-keyring.gpg");
            if (!fs.existsSync(key)) {
                // As a node does it: curl -fsSL <url>/Release.key | gpg --dearmor -o <keyring>
                const armored = execFileSync("curl", ["-fsSL", `${httpUrl}/${supply.kubernetesAptPath}/Release.key`]);
                execFileSync("gpg", ["--batch", "--dearmor", "-o", key], { input: armored });
            }
            return key;
        }

        it("apt on a minbase node resolves kubeadm, kubelet, kubectl and containerd from the two signed repositories", () => {
            const key = keyring();
            const opts = aptConfig("apt-good", [
                `deb [signed-by=${key}] ${httpUrl}/${supply.kubernetesAptPath}/ /`,
                `deb [signed-by=${key}] ${httpUrl}/${supply.debianAptPath}/ /`,
            ]);
            run("apt-get", [...opts, "update"]);
            const policy = run("apt-cache", [...opts, "policy", "kubeadm", "kubelet", "kubectl"]);
            for (const pkg of ["kubeadm", "kubelet", "kubectl"]) {
                assert.match(policy, new RegExp(`^${pkg}:\\n  Installed: \\(none\\)\\n  Candidate: 1\\.35\\.8-1\\.1$`, "m"), policy);
            }
            const uris = run("apt-get", [...opts, "install", "--download-only", "--print-uris", "-qq", "kubeadm", "kubelet", "kubectl", "containerd", "conntrack", "socat", "ethtool", "ebtables"]);
            const files = new Map(uris.trim().split("\n").map((line) => {
                const [url, file] = line.split(" ");
                return [file, url.replace(/'/g, "")] as [string, string];
            }));
            for (const pkg of ["kubeadm", "kubelet", "kubectl"]) {
                const url = files.get(`${pkg}_1.35.8-1.1_amd64.deb`);
                assert.strictEqual(url, `${httpUrl}/${supply.kubernetesAptPath}/amd64/${pkg}_1.35.8-1.1_amd64.deb`, uris);
            }
            assert.ok(files.has(`kubernetes-cni_${supply.packages["kubernetes-cni"]}_amd64.deb`), uris);
            assert.ok([...files.keys()].some((f) => f.startsWith("containerd_1.6.")), uris);
            assert.ok([...files.keys()].some((f) => f.startsWith("iptables_")), uris);
        });

        it("apt refuses the repository once its Release is tampered with", async () => {
            // A copy of the repository with one changed byte in Release and InRelease, served on its own port.
            const copy = path.join(work, "tampered");
            const repo = path.join(copy, supply.kubernetesAptPath);
            fs.mkdirSync(repo, { recursive: true });
            const src = path.join(dir, "www", supply.kubernetesAptPath);
            for (const f of ["Packages", "Packages.gz", "Release", "Release.gpg", "InRelease"]) fs.copyFileSync(path.join(src, f), path.join(repo, f));
            for (const f of ["Release", "InRelease"]) {
                const text = fs.readFileSync(path.join(repo, f), "utf8");
                assert.match(text, /^Label: kubernetes core stable v1\.35$/m);
                fs.writeFileSync(path.join(repo, f), text.replace(/^Label: kubernetes core stable v1\.35$/m, "Label: kubernetes core stable v1.36"));
            }
            const key = keyring();
            // The detached signature check fails on the tampered Release and passes on the original.
            const gpgv = (file: string) => spawnSync("gpgv", ["--keyring", key, path.join(path.dirname(file), "Release.gpg"), file]).status;
            assert.strictEqual(gpgv(path.join(src, "Release")), 0);
            assert.notStrictEqual(gpgv(path.join(repo, "Release")), 0);

            const port = await freePort();
            tamperServer = spawn(bin("supplytool"), ["serve", "-listen", `127.0.0.1:${port}`, "-root", copy], { stdio: "ignore" });
            for (let i = 0; i < 50; i++) {
                if ((await fetch(`http://127.0.0.1:${port}/${supply.kubernetesAptPath}/Release`).catch(() => undefined))?.ok) break;
                await new Promise((r) => setTimeout(r, 100));
            }
            const opts = aptConfig("apt-tampered", [`deb [signed-by=${key}] http://127.0.0.1:${port}/${supply.kubernetesAptPath}/ /`]);
            const update = spawnSync("apt-get", [...opts, "update"], { encoding: "utf8" });
            assert.notStrictEqual(update.status, 0, update.stdout);
            // apt names the bad signature, not a missing file or a network error.
            assert.match(update.stdout + update.stderr, /BADSIG|signatures were invalid/, update.stdout + update.stderr);
            const policy = run("apt-cache", [...opts, "policy", "kubeadm"]);
            assert.doesNotMatch(policy, /Candidate: 1\.35/);
            tamperServer.kill();
            tamperServer = undefined;
        });

        it("stop ends both services and leaves no process behind", () => {
            const pids = pidsOf();
            assert.strictEqual(pids.length, 2);
            run(SERVE, ["stop"], env);
            for (const pid of [...startedPids, ...pids]) assert.ok(!alive(pid), `pid ${pid} is still alive`);
            assert.deepStrictEqual(processesNaming(run_dir), []);
            const status = spawnSync(SERVE, ["status"], { encoding: "utf8", env: { ...process.env, ...env } });
            assert.strictEqual(status.status, 3, status.stdout);
            // A second stop, with nothing left, is fine too.
            run(SERVE, ["stop"], env);
        });
    });
});
