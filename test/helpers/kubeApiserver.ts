// A real Kubernetes control plane on loopback for one test: etcd, kube-apiserver and the garbage
// collector of kube-controller-manager (it finishes foreground deletions, which is how the
// kubernetes provider deletes), from the Kubernetes supply's binaries (supply/build.sh), with
// certificates made by openssl in a temp dir. The apiserver's serving certificate names only
// `servingName`, so a client that dials 127.0.0.1 must send that name (kubeconfig `tls-server-name`),
// as etcd-dr's kubeconfig does through its SSH tunnel.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { supplyDir } from "../../tools/labStacks";
import { freePort } from "./ports";

export interface KubeApiserver {
    /** 127.0.0.1 port of the apiserver's HTTPS listener. */
    port: number;
    /** The only DNS name in the serving certificate. */
    servingName: string;
    /** An admin kubeconfig (system:masters) for https://127.0.0.1:<port> with tls-server-name. */
    kubeconfig(server?: { host: string; port: number }, tlsServerName?: string | null): string;
    /** Runs the supply's kubectl with the admin kubeconfig. */
    kubectl(args: string[], input?: string): string;
    bin: string;
    dir: string;
    stop(): void;
}

export function supplyBin(): string {
    return path.join(supplyDir(), "bin");
}

function openssl(dir: string, args: string[]): void {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, the apiserver's serving pair (SAN: servingName only), an admin client pair, SA keys. */
function certificates(dir: string, servingName: string): void {
    openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=etcd-dr-test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
    const leaf = (name: string, subject: string, ext: string) => {
        fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
        openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject,
            "-keyout", `${name}.key`, "-out", `${name}.csr`]);
        openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", `${name}.ext`, "-out", `${name}.crt`]);
    };
    leaf("serving", "/CN=kube-apiserver", `subjectAltName=DNS:${servingName}\nextendedKeyUsage=serverAuth\n`);
    leaf("admin", "/O=system:masters/CN=etcd-dr-test-admin", "extendedKeyUsage=clientAuth\n");
    openssl(dir, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"]);
    openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

function b64(dir: string, file: string): string {
    return fs.readFileSync(path.join(dir, file)).toString("base64");
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, child?: ChildProcess, log?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child && child.exitCode !== null) {
            throw new Error(`${what} exited ${child.exitCode}: ${log && fs.existsSync(log) ? fs.readFileSync(log, "utf8").slice(-3000) : ""}`);
        }
        if (await check().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what} was not ready within ${timeoutMs} ms${log && fs.existsSync(log) ? `: ${fs.readFileSync(log, "utf8").slice(-3000)}` : ""}`);
}

function start(bin: string, args: string[], log: string): ChildProcess {
    const out = fs.openSync(log, "a");
    const child = spawn(bin, args, { stdio: ["ignore", out, out] });
    fs.closeSync(out);
    return child;
}

export async function startKubeApiserver(servingName = "api.example.internal"): Promise<KubeApiserver> {
    const bin = supplyBin();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-kube-"));
    certificates(dir, servingName);
    const children: ChildProcess[] = [];
    const stop = () => {
        for (const child of children.reverse()) {
            if (child.exitCode === null && child.pid) {
                try {
                    process.kill(child.pid, "SIGTERM");
                } catch {
                    // already gone
                }
            }
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        const [clientPort, peerPort, port] = [await freePort(), await freePort(), await freePort()];
        const etcdLog = path.join(dir, "etcd.log");
        const etcd = start(path.join(bin, "etcd"), [
            "--name", "test", "--data-dir", path.join(dir, "etcd"),
            "--listen-client-urls", `http://127.0.0.1:${clientPort}`, "--advertise-client-urls", `http://127.0.0.1:${clientPort}`,
            "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
            "--initial-cluster", `test=http://127.0.0.1:${peerPort}`, "--listen-metrics-urls", "",
        ], etcdLog);
        children.push(etcd);
        await waitFor("etcd", 30_000, async () => (await httpGet(`http://127.0.0.1:${clientPort}/health`)).includes("true"), etcd, etcdLog);

        const apiLog = path.join(dir, "kube-apiserver.log");
        const apiserver = start(path.join(bin, "kube-apiserver"), [
            "--etcd-servers", `http://127.0.0.1:${clientPort}`,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String(port),
            "--tls-cert-file", path.join(dir, "serving.crt"), "--tls-private-key-file", path.join(dir, "serving.key"),
            "--client-ca-file", path.join(dir, "ca.crt"),
            "--service-account-key-file", path.join(dir, "sa.pub"), "--service-account-signing-key-file", path.join(dir, "sa.key"),
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--authorization-mode", "RBAC", "--service-cluster-ip-range", "10.96.0.0/24",
            "--enable-priority-and-fairness=false", "--endpoint-reconciler-type", "none",
        ], apiLog);
        children.push(apiserver);
        const kubeconfigFor = (server = { host: "127.0.0.1", port }, tlsServerName: string | null = servingName) => [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- name: test",
            "  cluster:",
            `    server: https://${server.host}:${server.port}`,
            `    certificate-authority-data: ${b64(dir, "ca.crt")}`,
            ...(tlsServerName ? [`    tls-server-name: ${tlsServerName}`] : []),
            "users:",
            "- name: admin",
            "  user:",
            `    client-certificate-data: ${b64(dir, "admin.crt")}`,
            `    client-key-data: ${b64(dir, "admin.key")}`,
            "contexts:",
            "- name: admin@test",
            "  context: {cluster: test, user: admin}",
            "current-context: admin@test",
            "",
        ].join("\n");
        const adminConfig = path.join(dir, "admin.conf");
        fs.writeFileSync(adminConfig, kubeconfigFor(), { mode: 0o600 });
        const kubectl = (args: string[], input?: string) =>
            execFileSync(path.join(bin, "kubectl"), ["--kubeconfig", adminConfig, ...args], {
                encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"],
            });
        await waitFor("kube-apiserver", 90_000, async () => {
            kubectl(["get", "--raw", "/readyz"]);
            // The default namespaces appear shortly after /readyz.
            kubectl(["get", "namespace", "kube-system"]);
            return true;
        }, apiserver, apiLog);

        const gcLog = path.join(dir, "kube-controller-manager.log");
        children.push(start(path.join(bin, "kube-controller-manager"), [
            "--kubeconfig", adminConfig, "--controllers", "garbagecollector", "--leader-elect=false",
            "--secure-port", "0", "--use-service-account-credentials=false",
        ], gcLog));
        return { port, servingName, kubeconfig: kubeconfigFor, kubectl, bin, dir, stop };
    } catch (error) {
        stop();
        throw error;
    }
}

function httpGet(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, (res) => {
            let body = "";
            res.on("data", (d: Buffer) => (body += String(d)));
            res.on("end", () => resolve(body));
        });
        req.on("error", reject);
        req.setTimeout(2_000, () => req.destroy(new Error("timeout")));
    });
}
