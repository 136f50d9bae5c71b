import * as assert from "assert";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { extractKubeadmConfig, kubeadmApiVersion, NodePlatformSettings, renderClusterConfiguration, renderCloudInit, renderHostsEntries } from "../../lib/cloudinit";
import { planHosts, siteSubnets } from "../../lib/layout";
import { SiteMocks } from "../../tools/mocks";
import { sampleSpec } from "./spec.test";

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

describe("cloud-init and kubeadm rendering", () => {
    let mocks: SiteMocks;
    before(async () => {
        mocks = new SiteMocks();
        await pulumi.runtime.setMocks(mocks, "etcd-dr", "unit", false);
    });

    it("picks kubeadm's config API by Kubernetes version", () => {
        assert.strictEqual(kubeadmApiVersion("1.30.9"), "kubeadm.k8s.io/v1beta3");
        assert.strictEqual(kubeadmApiVersion("1.31.0"), "kubeadm.k8s.io/v1beta4");
    });

    it("renders a ClusterConfiguration with the alias endpoint, SANs, subnets and etcd data dir", () => {
        const doc = yaml.load(renderClusterConfiguration(sampleSpec())) as Record<string, any>;
        assert.strictEqual(doc.controlPlaneEndpoint, "k8s-api:6443");
        assert.deepStrictEqual(doc.apiServer.certSANs, ["k8s-api", "cp1", "cp2", "cp3"]);
        assert.deepStrictEqual(doc.networking, { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12" });
        assert.strictEqual(doc.etcd.local.dataDir, "/var/lib/etcd");
        assert.strictEqual(doc.kubernetesVersion, `v${sampleSpec().cluster.kubernetesVersion}`);
        assert.strictEqual(doc.imageRepository, "registry.k8s.io");
    });

    it("pins etcd's image to cluster.etcdVersion on both sites, whatever kubeadm's patch release defaults to (F27)", () => {
        for (const etcdVersion of ["3.6.6", "3.5.21"]) {
            const spec = sampleSpec();
            spec.cluster.etcdVersion = etcdVersion;
            const doc = yaml.load(renderClusterConfiguration(spec)) as Record<string, any>;
            assert.strictEqual(doc.etcd.local.imageTag, `${etcdVersion}-0`);
        }
    });

    it("maps short host names and the API alias to this site's addresses", () => {
        const hosts = [{ name: "cp1", ip: "10.20.0.10" }, { name: "w1", ip: "10.20.64.10" }];
        assert.strictEqual(renderHostsEntries(hosts, "k8s-api", "10.20.0.10"), "10.20.0.10 cp1\n10.20.64.10 w1\n10.20.0.10 k8s-api\n");
    });

    it("gives both sites the same ClusterConfiguration, and each node the tokens from random", async () => {
        const { ClusterBootstrap } = await import("../../components/k8s/clusterBootstrap");
        const spec = sampleSpec();
        const sites = ["10.10.0.0/16", "10.20.0.0/16"].map((vcn, i) => {
            const hosts = planHosts(spec.topology, siteSubnets(vcn));
            return new ClusterBootstrap(`site${i}-kubeadm`, { spec, hosts, platform: { siteCidr: vcn } });
        });
        const documents = await Promise.all(sites.map(async (site) => {
            const cloudInit = Buffer.from(await promiseOf(site.userData.cp2), "base64").toString("utf8");
            return extractKubeadmConfig(cloudInit).split("---\n");
        }));
        assert.strictEqual(documents[0][0], documents[1][0], "ClusterConfiguration differs between sites");

        const tokenId = mocks.registrations.find((r) => r.name === "site1-kubeadm-token-id");
        assert.ok(tokenId, "the token id comes from random.RandomString");
        const join = yaml.load(documents[1][1]) as Record<string, any>;
        assert.strictEqual(join.kind, "JoinConfiguration");
        assert.match(join.discovery.bootstrapToken.token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
        assert.strictEqual(join.discovery.bootstrapToken.token, await promiseOf(sites[1].bootstrapToken as pulumi.Output<string>));
        assert.strictEqual(join.controlPlane.certificateKey, await promiseOf(sites[1].certificateKey as pulumi.Output<string>));
        assert.match(join.controlPlane.certificateKey, /^[0-9a-f]{64}$/);
        assert.strictEqual(join.nodeRegistration.name, "cp2");
        assert.strictEqual(join.controlPlane.localAPIEndpoint.advertiseAddress, "10.20.0.11");
        assert.ok(await promiseOf(pulumi.output(pulumi.isSecret(sites[1].userData.cp2))), "user data must be a secret");
    });

    it("bootstraps the first control-plane node with init and workers with a plain join", async () => {
        const { ClusterBootstrap } = await import("../../components/k8s/clusterBootstrap");
        const spec = sampleSpec();
        const site = new ClusterBootstrap("roles-kubeadm", { spec, hosts: planHosts(spec.topology, siteSubnets("10.10.0.0/16")), platform: { siteCidr: "10.10.0.0/16" } });
        const kinds = await Promise.all(["cp1", "w1"].map(async (host) => {
            const text = Buffer.from(await promiseOf(site.userData[host]), "base64").toString("utf8");
            const nodeDoc = yaml.load(extractKubeadmConfig(text).split("---\n")[1]) as Record<string, any>;
            return [nodeDoc.kind, nodeDoc.controlPlane === undefined, text.includes("NODE_ROLE='")];
        }));
        assert.deepStrictEqual(kinds, [["InitConfiguration", true, true], ["JoinConfiguration", true, true]]);
    });

    it("carries the platform's settings into the node's bootstrap, and none of them into the ClusterConfiguration", () => {
        const spec = sampleSpec();
        const platform: NodePlatformSettings = {
            siteCidr: "10.250.1.0/24",
            osPackageRepo: "http://10.250.0.1:8080/debian",
            plainHttpRegistry: "10.250.0.1:5000",
            restrictOomScoreAdj: true,
            kubelet: { failCgroupV1: false },
            kubeProxy: { conntrack: { maxPerCore: 0 } },
            ignorePreflightErrors: ["SystemVerification"],
            extraHosts: [{ name: "mirror", ip: "10.250.0.1" }],
        };
        const hosts = [{ name: "cp1", ip: "10.250.1.10" }, { name: "w1", ip: "10.250.1.74" }];
        const render = (role: "init" | "join-worker", p: NodePlatformSettings) =>
            renderCloudInit(spec, { host: role === "init" ? hosts[0] : hosts[1], role, siteHosts: hosts, apiAddress: "10.250.1.10", bootstrapToken: "abcdef.0123456789abcdef", certificateKey: "a".repeat(64) }, p, "#!/bin/bash\n");
        const text = render("init", platform);
        const files = (yaml.load(text.replace(/^#cloud-config\n/, "")) as { write_files: { path: string; content: string }[] }).write_files;
        const env = files.find((f) => f.path === "/etc/etcd-dr/bootstrap.env")?.content ?? "";
        for (const line of ["SITE_CIDR='10.250.1.0/24'", "POD_SUBNET='10.244.0.0/16'", "OS_PACKAGE_REPO='http://10.250.0.1:8080/debian'", "PLAIN_HTTP_REGISTRY='10.250.0.1:5000'", "CONTAINERD_RESTRICT_OOM_SCORE_ADJ='true'"]) {
            assert.ok(env.split("\n").includes(line), `bootstrap.env lacks ${line}:\n${env}`);
        }
        assert.match(files.find((f) => f.path === "/etc/hosts")?.content ?? "", /^10\.250\.0\.1 mirror$/m);
        const documents = extractKubeadmConfig(text).split("---\n").map((d) => yaml.load(d) as Record<string, any>);
        assert.deepStrictEqual(documents.map((d) => d.kind), ["ClusterConfiguration", "InitConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]);
        assert.deepStrictEqual(documents[1].nodeRegistration.ignorePreflightErrors, ["SystemVerification"]);
        assert.strictEqual(documents[2].failCgroupV1, false);
        assert.strictEqual(documents[2].cgroupDriver, "systemd");
        assert.deepStrictEqual(documents[3].conntrack, { maxPerCore: 0 });
        // The ClusterConfiguration, which both sites must share, is the same with or without the platform's quirks.
        const plain = extractKubeadmConfig(render("init", { siteCidr: "10.20.0.0/16" })).split("---\n");
        assert.strictEqual(plain[0], extractKubeadmConfig(text).split("---\n")[0]);
        assert.deepStrictEqual(plain.map((d) => (yaml.load(d) as Record<string, any>).kind), ["ClusterConfiguration", "InitConfiguration", "KubeletConfiguration"]);
        // A join takes its kubelet settings from the cluster: no component configuration in its file.
        const join = extractKubeadmConfig(render("join-worker", platform)).split("---\n").map((d) => (yaml.load(d) as Record<string, any>).kind);
        assert.deepStrictEqual(join, ["ClusterConfiguration", "JoinConfiguration"]);
    });
});
