// F12/F30: each OCI site's Kubernetes API front end is a private Network Load Balancer over every
// control-plane node on 6443, at a fixed address the API alias resolves to on every node; cloud-init
// keeps the host entries across boots. F10: the instances serve no legacy IMDS.
import * as assert from "assert";
import * as yaml from "js-yaml";
import { apiFrontEndAddress, siteSubnets } from "../../lib/layout";
import { ingressRules } from "../../lib/security";
import { unwrapSecrets } from "../../tools/mocks";
import { runPlan } from "../helpers/plan";
import { buildSite, named, Recorded, typed } from "./ociSiteHarness";

function cloudConfig(resources: Recorded[], host: string): Record<string, unknown> {
    const metadata = unwrapSecrets(named(resources, `primary-nodes-${host}`).inputs.metadata) as { user_data: string };
    return yaml.load(Buffer.from(metadata.user_data, "base64").toString("utf8").replace(/^#cloud-config\n/, "")) as Record<string, unknown>;
}

function hostsFile(config: Record<string, unknown>): string {
    const files = config.write_files as { path: string; content: string }[];
    return files.find((f) => f.path === "/etc/hosts")?.content ?? "";
}

describe("the OCI site's API front end (F12, F30)", function () {
    this.timeout(60_000);
    let primary: Recorded[];

    before(async () => {
        primary = await buildSite({ role: "primary" });
    });

    it("places the front end at a fixed address below the nodes of the control-plane subnet", () => {
        assert.strictEqual(apiFrontEndAddress(siteSubnets("10.10.0.0/16")), "10.10.0.5");
        assert.strictEqual(apiFrontEndAddress(siteSubnets("10.20.0.0/16")), "10.20.0.5");
    });

    it("is a private network load balancer over every control-plane node on 6443, health-checked on /readyz", () => {
        const nlb = typed(primary, "/networkLoadBalancer:NetworkLoadBalancer");
        assert.strictEqual(nlb.length, 1);
        assert.strictEqual(nlb[0].inputs.isPrivate, true);
        assert.strictEqual(nlb[0].inputs.assignedPrivateIpv4, "10.10.0.5");
        assert.strictEqual(nlb[0].inputs.subnetId, "primary-network-control-plane-id");
        assert.deepStrictEqual(nlb[0].inputs.networkSecurityGroupIds, ["primary-network-apiFrontEnd-nsg-id"]);
        const set = typed(primary, "/backendSet:BackendSet")[0];
        // A node that calls the alias may be sent to itself: only without source preservation.
        assert.strictEqual(set.inputs.isPreserveSource, false);
        assert.deepStrictEqual(
            [(set.inputs.healthChecker as Record<string, unknown>).protocol, (set.inputs.healthChecker as Record<string, unknown>).urlPath, (set.inputs.healthChecker as Record<string, unknown>).port],
            ["HTTPS", "/readyz", 6443],
        );
        const backends = typed(primary, "/backend:Backend").map((b) => `${String(b.inputs.ipAddress)}:${String(b.inputs.port)}`);
        assert.deepStrictEqual(backends, ["10.10.0.10:6443", "10.10.0.11:6443", "10.10.0.12:6443"]);
        const listener = typed(primary, "/listener:Listener")[0];
        assert.deepStrictEqual([listener.inputs.protocol, listener.inputs.port], ["TCP", 6443]);
    });

    it("points the API alias at the front end on every node, not at cp1, and keeps cloud-init off /etc/hosts", () => {
        for (const host of ["cp1", "cp2", "cp3", "w1"]) {
            const config = cloudConfig(primary, host);
            assert.match(hostsFile(config), /^10\.10\.0\.5 k8s-api$/m, host);
            assert.doesNotMatch(hostsFile(config), /^10\.10\.0\.10 k8s-api$/m, host);
            assert.strictEqual(config.manage_etc_hosts, false, host);
        }
    });

    it("admits 6443 to the front end from the VCN, the peer (when allowed) and operators", () => {
        const rules = ingressRules({ vcnCidr: "10.10.0.0/16", peerVcnCidr: "10.20.0.0/16", operatorCidr: "192.0.2.0/28", bastion: true, allowFromPeer: [22, 6443], cni: "calico" })
            .filter((r) => r.nsg === "apiFrontEnd");
        assert.deepStrictEqual(rules.map((r) => [r.source, r.ports]), [
            [{ cidr: "10.10.0.0/16" }, [6443, 6443]],
            [{ cidr: "10.20.0.0/16" }, [6443, 6443]],
            [{ cidr: "192.0.2.0/28" }, [6443, 6443]],
        ]);
        const closed = ingressRules({ vcnCidr: "10.10.0.0/16", peerVcnCidr: "10.20.0.0/16", bastion: true, allowFromPeer: [22], cni: "calico" });
        assert.deepStrictEqual(closed.filter((r) => r.nsg === "apiFrontEnd").map((r) => r.source), [{ cidr: "10.10.0.0/16" }]);
    });

    it("is where Pulumi and the other stack reach each site's API, not cp1 (F30)", function () {
        this.timeout(180_000);
        for (const [stack, frontEnd] of [["primary", "10.10.0.5"], ["standby", "10.20.0.5"]]) {
            const result = runPlan(stack, undefined, false, ["--outputs"]);
            assert.strictEqual(result.status, 0, result.stderr);
            const outputs = JSON.parse(result.stdout) as { adminKubeconfig: string };
            const kubeconfig = yaml.load(outputs.adminKubeconfig) as { clusters: { cluster: { server: string; "tls-server-name": string } }[] };
            assert.deepStrictEqual(kubeconfig.clusters.map((c) => [c.cluster.server, c.cluster["tls-server-name"]]), [[`https://${frontEnd}:6443`, "k8s-api"]], stack);
        }
    });

    it("serves instance metadata only through IMDS v2 on every instance (F10)", () => {
        const instances = typed(primary, "/instance:Instance");
        assert.strictEqual(instances.length, 7, "six nodes and the bastion");
        for (const instance of instances) {
            assert.deepStrictEqual(instance.inputs.instanceOptions, { areLegacyImdsEndpointsDisabled: true }, instance.name);
        }
    });
});
