import * as assert from "assert";
import { canonicalJson, DEFAULT_CLUSTER, DEFAULT_TOPOLOGY, MirroredSpec, mirrorDifferences, specDigest, validateSpec } from "../../lib/spec";
import { planHosts, siteSubnets } from "../../lib/layout";

export function sampleSpec(): MirroredSpec {
    return {
        topology: { ...DEFAULT_TOPOLOGY, clusterName: "payments" },
        cluster: { ...DEFAULT_CLUSTER, cniManifestUrl: "https://example.org/cni.yaml", kubernetesPackageRepo: "https://example.org/k8s" },
    };
}

describe("mirrored spec", () => {
    it("accepts the defaults", () => {
        assert.deepStrictEqual(validateSpec(sampleSpec(), ["10.10.0.0/16", "10.20.0.0/16"]), { errors: [], warnings: [] });
    });

    it("reports bad and duplicate host names, one line each", () => {
        const spec = sampleSpec();
        spec.topology.controlPlane = ["cp1", "CP_2", "cp1"];
        const { errors } = validateSpec(spec, []);
        assert.ok(errors.some((e) => e.includes("'CP_2' is not a valid DNS label")), errors.join("\n"));
        assert.ok(errors.some((e) => e.includes("'cp1' is listed more than once")), errors.join("\n"));
    });

    it("warns on an even number of control-plane nodes", () => {
        const spec = sampleSpec();
        spec.topology.controlPlane = ["cp1", "cp2"];
        const { errors, warnings } = validateSpec(spec, []);
        assert.deepStrictEqual(errors, []);
        assert.match(warnings[0], /even etcd membership/);
    });

    it("refuses pod and service subnets that overlap a VCN or each other", () => {
        const spec = sampleSpec();
        spec.cluster.podSubnet = "10.10.128.0/17";
        spec.cluster.serviceSubnet = "10.10.0.0/12";
        const { errors } = validateSpec(spec, ["10.10.0.0/16"]);
        assert.ok(errors.some((e) => e.startsWith("cluster.podSubnet 10.10.128.0/17 overlaps the VCN")), errors.join("\n"));
        assert.ok(errors.some((e) => e.includes("is not an IPv4 network")), errors.join("\n"));
    });

    it("names every difference a standby sets, and nothing it leaves out", () => {
        const primary = sampleSpec();
        const differences = mirrorDifferences(primary, {
            topology: { controlPlane: ["cp1", "cp2", "cp3"], workers: ["w1"] },
            cluster: { kubernetesVersion: "1.30.2", podSubnet: primary.cluster.podSubnet },
        });
        assert.deepStrictEqual(differences, [
            'topology.workers: primary has ["w1","w2","w3"], this stack sets ["w1"]',
            'cluster.kubernetesVersion: primary has "1.35.8", this stack sets "1.30.2"',
        ]);
    });

    it("digests equal specs equally whatever the key order", () => {
        const a = sampleSpec();
        const b = JSON.parse(canonicalJson(a)) as MirroredSpec;
        assert.strictEqual(specDigest(a), specDigest({ cluster: b.cluster, topology: b.topology }));
        b.topology.apiAlias = "other";
        assert.notStrictEqual(specDigest(a), specDigest(b));
    });

    it("places the same host names at site-specific fixed addresses", () => {
        const spec = sampleSpec();
        const east = planHosts(spec.topology, siteSubnets("10.10.0.0/16"));
        const west = planHosts(spec.topology, siteSubnets("10.20.0.0/16"));
        assert.deepStrictEqual(east.map((h) => h.name), west.map((h) => h.name));
        assert.deepStrictEqual(east.slice(0, 4).map((h) => h.ip), ["10.10.0.10", "10.10.0.11", "10.10.0.12", "10.10.64.10"]);
        assert.strictEqual(west[0].ip, "10.20.0.10");
    });
});
