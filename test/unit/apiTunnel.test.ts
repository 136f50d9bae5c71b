import * as assert from "assert";
import * as yaml from "js-yaml";
import { hostKeyAlgorithms, kubeconfigFor, knownHosts, preferredPort, sshArgs, sshConfig, TunnelRoute, tunnelFiles, tunnelKubeconfig } from "../../lib/apiTunnel";

const ADMIN_CONF = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://k8s-api:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
`;

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx";
const ROUTE: TunnelRoute = {
    node: { host: "10.20.0.10", port: 22, user: "ubuntu", privateKey: "KEY", hostKey: ED25519 },
    target: { host: "10.20.0.10", port: 6443 },
};

describe("apiTunnel", () => {
    const files = tunnelFiles("/tmp/t");

    it("points every cluster of an admin kubeconfig at the tunnel, verifying by the API alias", () => {
        const doc = yaml.load(tunnelKubeconfig(ADMIN_CONF, 23456, "k8s-api")) as {
            clusters: { cluster: Record<string, string> }[];
            users: { user: Record<string, string> }[];
            "current-context": string;
        };
        assert.deepStrictEqual(doc.clusters[0].cluster, {
            "certificate-authority-data": "Q0E=",
            server: "https://127.0.0.1:23456",
            "tls-server-name": "k8s-api",
        });
        assert.strictEqual(doc.users[0].user["client-key-data"], "S0VZ");
        assert.strictEqual(doc["current-context"], "kubernetes-admin@kubernetes");
    });

    it("verifies another site's front end by the API alias, its server kept or set", () => {
        const cluster = (text: string) => (yaml.load(text) as { clusters: { cluster: Record<string, string> }[] }).clusters[0].cluster;
        const kept = cluster(kubeconfigFor(ADMIN_CONF, undefined, "k8s-api"));
        assert.strictEqual(kept["tls-server-name"], "k8s-api");
        assert.strictEqual(kept.server, (yaml.load(ADMIN_CONF) as { clusters: { cluster: { server: string } }[] }).clusters[0].cluster.server);
        assert.strictEqual(cluster(kubeconfigFor(ADMIN_CONF, "https://10.10.0.250:6443", "k8s-api")).server, "https://10.10.0.250:6443");
    });

    it("refuses a kubeconfig without clusters, saying where it came from", () => {
        assert.throws(() => tunnelKubeconfig("", 1, "k8s-api"), /admin kubeconfig has no clusters.*admin\.conf/);
        assert.throws(() => tunnelKubeconfig("clusters: []\n", 1, "k8s-api"), /no clusters/);
    });

    it("forwards only on loopback, runs no command, and fails rather than run without the forward", () => {
        assert.deepStrictEqual(sshArgs(ROUTE, files, 23456), [
            "-F", "/tmp/t/ssh_config", "-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:23456:10.20.0.10:6443", "etcd-dr-api-node",
        ]);
    });

    it("logs in non-interactively with only the node's key and pins its host key by alias", () => {
        const text = sshConfig(ROUTE, files);
        for (const line of ["HostName 10.20.0.10", "User ubuntu", "IdentityFile /tmp/t/node_key", "IdentitiesOnly yes", "BatchMode yes",
            "HostKeyAlias etcd-dr-api-node", "StrictHostKeyChecking yes", "UserKnownHostsFile /tmp/t/known_hosts", "HostKeyAlgorithms ssh-ed25519"]) {
            assert.ok(text.includes(`    ${line}\n`), `${line} is missing from\n${text}`);
        }
        assert.ok(!text.includes("ProxyJump"));
        assert.strictEqual(knownHosts(ROUTE), `etcd-dr-api-node ${ED25519}\n`);
    });

    it("accepts any host key when the platform gives none, as the command provider does", () => {
        const text = sshConfig({ ...ROUTE, node: { ...ROUTE.node, hostKey: undefined } }, files);
        assert.ok(text.includes("    StrictHostKeyChecking no\n") && text.includes("    UserKnownHostsFile /dev/null\n"));
        assert.strictEqual(knownHosts({ ...ROUTE, node: { ...ROUTE.node, hostKey: undefined } }), "");
    });

    it("goes through a jump host (OCI's bastion) with its own key and host key", () => {
        const route: TunnelRoute = { ...ROUTE, jump: { host: "129.1.2.3", port: 22, user: "opc", privateKey: "JUMP", hostKey: "ssh-rsa AAAAB3" } };
        const text = sshConfig(route, files);
        assert.match(text, /Host etcd-dr-api-node\n(    .*\n)*    ProxyJump etcd-dr-api-jump\n/);
        assert.match(text, /Host etcd-dr-api-jump\n    HostName 129\.1\.2\.3\n    Port 22\n    User opc\n    IdentityFile \/tmp\/t\/jump_key\n/);
        assert.match(text, /HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256\n/);
        assert.strictEqual(knownHosts(route), `etcd-dr-api-node ${ED25519}\netcd-dr-api-jump ssh-rsa AAAAB3\n`);
    });

    it("names the host key algorithms a pinned key can answer with, and refuses what is not a public key", () => {
        assert.strictEqual(hostKeyAlgorithms("ecdsa-sha2-nistp256 AAAA"), "ecdsa-sha2-nistp256");
        assert.strictEqual(hostKeyAlgorithms("ssh-rsa AAAA"), "rsa-sha2-512,rsa-sha2-256");
        assert.throws(() => hostKeyAlgorithms("-----BEGIN OPENSSH PRIVATE KEY-----"), /not an OpenSSH public key/);
    });

    it("prefers the same local port for the same stack, below the ephemeral range", () => {
        const a = preferredPort("lab-primary");
        assert.strictEqual(preferredPort("lab-primary"), a);
        assert.ok(a >= 20000 && a < 30000, String(a));
        assert.notStrictEqual(preferredPort("lab-standby"), a);
    });
});
