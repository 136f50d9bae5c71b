import * as assert from "assert";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { extractKubeadmConfig, kubeadmApiVersion, renderClusterConfiguration, renderHostsEntries } from "../../lib/cloudinit";
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
        assert.strictEqual(doc.kubernetesVersion, "v1.31.4");
    });

    it("maps short host names and the API alias to this site's addresses", () => {
        const hosts = [{ name: "cp1", ip: "10.20.0.10" }, { name: "w1", ip: "10.20.64.10" }];
        assert.strictEqual(renderHostsEntries(hosts, "k8s-api", "10.20.0.10"), "10.20.0.10 cp1\n10.20.64.10 w1\n10.20.0.10 k8s-api\n");
    });

    it("gives both sites the same ClusterConfiguration, and each node the tokens from random", async () => {
        const { ClusterBootstrap } = await import("../../components/oci/clusterBootstrap");
        const spec = sampleSpec();
        const sites = ["10.10.0.0/16", "10.20.0.0/16"].map((vcn, i) => {
            const hosts = planHosts(spec.topology, siteSubnets(vcn));
            return new ClusterBootstrap(`site${i}-kubeadm`, { spec, hosts });
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
        assert.strictEqual(join.discovery.bootstrapToken.token, await promiseOf(sites[1].bootstrapToken));
        assert.strictEqual(join.controlPlane.certificateKey, await promiseOf(sites[1].certificateKey));
        assert.match(join.controlPlane.certificateKey, /^[0-9a-f]{64}$/);
        assert.strictEqual(join.nodeRegistration.name, "cp2");
        assert.strictEqual(join.controlPlane.localAPIEndpoint.advertiseAddress, "10.20.0.11");
        assert.ok(await promiseOf(pulumi.output(pulumi.isSecret(sites[1].userData.cp2))), "user data must be a secret");
    });

    it("bootstraps the first control-plane node with init and workers with a plain join", async () => {
        const { ClusterBootstrap } = await import("../../components/oci/clusterBootstrap");
        const spec = sampleSpec();
        const site = new ClusterBootstrap("roles-kubeadm", { spec, hosts: planHosts(spec.topology, siteSubnets("10.10.0.0/16")) });
        const kinds = await Promise.all(["cp1", "w1"].map(async (host) => {
            const text = Buffer.from(await promiseOf(site.userData[host]), "base64").toString("utf8");
            const nodeDoc = yaml.load(extractKubeadmConfig(text).split("---\n")[1]) as Record<string, any>;
            return [nodeDoc.kind, nodeDoc.controlPlane === undefined, text.includes("NODE_ROLE='")];
        }));
        assert.deepStrictEqual(kinds, [["InitConfiguration", true, true], ["JoinConfiguration", true, true]]);
    });
});
