import * as assert from "assert";
import { loadConfig } from "../../stack/config";
import { parExpiryWarning } from "../../lib/par";

export type Raw = Record<string, unknown>;

/** A complete, valid OCI primary stack config; other config tests start from it. */
export function primaryConfig(): Raw {
    return {
        "oci:region": "us-ashburn-1",
        "etcd-dr:role": "primary",
        "etcd-dr:compartmentId": "ocid1.compartment.oc1..aaaaaaaatestcompartment",
        "etcd-dr:vcnCidr": "10.10.0.0/16",
        "etcd-dr:peerVcnCidr": "10.20.0.0/16",
        "etcd-dr:operatorCidr": "192.0.2.0/28",
        "etcd-dr:bastion": "true",
        "etcd-dr:nodeImageId": "ocid1.image.oc1.iad.aaaa",
        "etcd-dr:sshPublicKey": "ssh-ed25519 AAAAC3Nza test",
        "etcd-dr:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----",
        "etcd-dr:snapshots": { parExpiresAt: "2027-06-30T00:00:00Z" },
        "etcd-dr:topology": { clusterName: "payments" },
        "etcd-dr:cluster": { cniManifestUrl: "https://example.org/cni.yaml", kubernetesPackageRepo: "https://example.org/k8s" },
    };
}

function load(raw: Raw, stack = "primary") {
    const source = {
        get: (key: string) => {
            const value = raw[key];
            return value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
        },
    };
    return loadConfig(stack, source);
}

function errorsOf(change: (raw: Raw) => void): string[] {
    const raw = primaryConfig();
    change(raw);
    const result = load(raw);
    assert.strictEqual(result.config, undefined, "a config with errors must not load");
    return result.errors;
}

describe("config loader", () => {
    it("loads a complete primary with defaults filled in", () => {
        const result = load(primaryConfig());
        assert.deepStrictEqual(result.errors, []);
        assert.deepStrictEqual(result.config?.mirrored.topology.controlPlane, ["cp1", "cp2", "cp3"]);
        assert.strictEqual(result.config?.snapshots.retentionDays, 14);
        assert.deepStrictEqual(result.config?.oci?.allowFromPeer, [22, 6443]);
        assert.deepStrictEqual(result.config?.backup, { onCalendar: "*:0/15", randomizedDelaySec: 60, compression: "zstd" });
        assert.strictEqual(result.config?.kubernetesApi, true);
        assert.strictEqual(result.config?.sshUser, "ubuntu");
    });

    it("uses the Kubernetes API by default on the sites it builds (oci, lab), not on existing hosts", () => {
        const lab = load({
            "etcd-dr:role": "primary",
            "etcd-dr:platform": "lab",
            "etcd-dr:sshPublicKey": "ssh-ed25519 AAAAC3Nza test",
            "etcd-dr:sshPrivateKey": "key",
            "etcd-dr:snapshots": { parExpiresAt: "2027-06-30T00:00:00Z" },
            "etcd-dr:topology": { clusterName: "drill" },
            "etcd-dr:cluster": { cniManifestUrl: "http://10.250.0.1/cni.yaml", kubernetesPackageRepo: "http://10.250.0.1/k8s" },
        });
        assert.deepStrictEqual(lab.errors, []);
        assert.strictEqual(lab.config?.kubernetesApi, true);
        const existing = load({
            "etcd-dr:role": "primary",
            "etcd-dr:platform": "existing",
            "etcd-dr:nodes": [{ name: "cp1", address: "10.0.0.11", role: "control-plane" }],
            "etcd-dr:storeWriteUrl": "http://10.0.0.1:8080/p/write/n/lab/b/etcd/o/",
            "etcd-dr:sshPrivateKey": "key",
        });
        assert.deepStrictEqual(existing.errors, []);
        assert.strictEqual(existing.config?.kubernetesApi, false);
    });

    const cases: [string, (raw: Raw) => void, RegExp][] = [
        ["missing compartment", (r) => delete r["etcd-dr:compartmentId"], /^etcd-dr:compartmentId is not set: set the OCID/],
        ["malformed compartment", (r) => (r["etcd-dr:compartmentId"] = "compartment-1"), /is not a compartment or tenancy OCID/],
        ["malformed VCN CIDR", (r) => (r["etcd-dr:vcnCidr"] = "10.10.0.0/33"), /^etcd-dr:vcnCidr '10.10.0.0\/33' is not an IPv4 network/],
        ["VCN with host bits", (r) => (r["etcd-dr:vcnCidr"] = "10.10.0.1/16"), /is not an IPv4 network in CIDR form/],
        ["overlapping CIDRs", (r) => (r["etcd-dr:peerVcnCidr"] = "10.10.128.0/17"), /overlaps etcd-dr:peerVcnCidr 10.10.128.0\/17; peered VCNs need disjoint ranges/],
        ["bad host name", (r) => (r["etcd-dr:topology"] = { clusterName: "payments", workers: ["w1", "worker_2"] }), /host name 'worker_2' is not a valid DNS label/],
        ["duplicate host names", (r) => (r["etcd-dr:topology"] = { clusterName: "payments", controlPlane: ["cp1", "cp2", "w1"] }), /host name 'w1' is listed more than once/],
        ["unknown role", (r) => (r["etcd-dr:role"] = "secondary"), /^etcd-dr:role 'secondary' is unknown; use primary or standby$/],
        ["missing role", (r) => delete r["etcd-dr:role"], /^etcd-dr:role is not set/],
        ["unknown platform", (r) => (r["etcd-dr:platform"] = "aws"), /^etcd-dr:platform 'aws' is unknown/],
        ["missing region", (r) => delete r["oci:region"], /^oci:region is not set/],
        ["primary without peerVcnCidr", (r) => delete r["etcd-dr:peerVcnCidr"], /^etcd-dr:peerVcnCidr is not set/],
        ["PAR expiry missing", (r) => (r["etcd-dr:snapshots"] = {}), /^etcd-dr:snapshots.parExpiresAt is not set/],
        ["PAR expiry malformed", (r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "next june" }), /is not an RFC 3339 time/],
        ["topology not an object", (r) => (r["etcd-dr:topology"] = "cp1,cp2"), /^etcd-dr:topology must be an object/],
        ["bad ssh key", (r) => (r["etcd-dr:sshPublicKey"] = "not a key"), /is not an OpenSSH public key line/],
        ["bad bastion flag", (r) => (r["etcd-dr:bastion"] = "yes"), /^etcd-dr:bastion must be true or false/],
        ["bad peer ports", (r) => (r["etcd-dr:allowFromPeer"] = [22, 70000]), /must be a list of TCP ports/],
        ["unsupported CNI", (r) => (r["etcd-dr:cluster"] = { cni: "weave", cniManifestUrl: "https://x/y", kubernetesPackageRepo: "https://x/z" }), /cluster.cni 'weave' is not supported/],
        // The toolkit refuses it too (ETCD_DR_PREFIX); a '..' segment would name objects outside the PAR's prefix (review #31).
        ["a snapshot prefix with a .. segment", (r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", prefix: "a/../b" }), /^etcd-dr:snapshots.prefix 'a\/\.\.\/b' has a '\.' or '\.\.' segment/],
        ["a snapshot prefix with a . segment", (r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", prefix: "./etcd" }), /^etcd-dr:snapshots.prefix '\.\/etcd' has a '\.' or '\.\.' segment/],
    ];
    for (const [name, change, expected] of cases) {
        it(`refuses ${name} with one clear line`, () => {
            const errors = errorsOf(change);
            assert.ok(errors.some((e) => expected.test(e)), `expected ${expected} in:\n${errors.join("\n")}`);
            for (const line of errors) {
                assert.ok(!line.includes("\n") && !/\bat .*\.ts:\d+/.test(line), `not one plain line: ${line}`);
            }
        });
    }

    it("reports every problem at once, not only the first", () => {
        const errors = errorsOf((r) => {
            delete r["etcd-dr:compartmentId"];
            r["etcd-dr:vcnCidr"] = "nope";
            r["etcd-dr:role"] = "primary";
        });
        assert.ok(errors.length >= 2, errors.join("\n"));
    });

    it("requires peerStack on a standby and ignores its own topology defaults", () => {
        const raw = primaryConfig();
        raw["etcd-dr:role"] = "standby";
        delete raw["etcd-dr:topology"];
        delete raw["etcd-dr:cluster"];
        const missing = load(raw, "standby");
        assert.ok(missing.errors.some((e) => /^etcd-dr:peerStack is not set: a standby must name the primary stack/.test(e)), missing.errors.join("\n"));
        raw["etcd-dr:peerStack"] = "org/etcd-dr/primary";
        const ok = load(raw, "standby");
        assert.deepStrictEqual(ok.errors, []);
        assert.deepStrictEqual(ok.config?.mirrored, { topology: {}, cluster: {} });
        assert.ok(ok.warnings.some((w) => w.includes("peerVcnCidr is ignored on a standby")));
    });

    it("warns about an even number of control-plane nodes without failing", () => {
        const raw = primaryConfig();
        raw["etcd-dr:topology"] = { clusterName: "payments", controlPlane: ["cp1", "cp2", "cp3", "cp4"] };
        const result = load(raw);
        assert.deepStrictEqual(result.errors, []);
        assert.ok(result.warnings.some((w) => w.includes("has 4 nodes: an even etcd membership")), result.warnings.join("\n"));
    });

    it("warns when the PARs expire within 30 days, and loudly when expired", () => {
        const now = new Date("2027-06-10T00:00:00Z");
        assert.match(parExpiryWarning("2027-06-30T00:00:00Z", now) ?? "", /expire in 20 days/);
        assert.strictEqual(parExpiryWarning("2027-09-30T00:00:00Z", now), undefined);
        assert.match(parExpiryWarning("2027-01-01T00:00:00Z", now) ?? "", /is in the past/);
    });
});
