// Pure rules of the OCI components: store rules by role, PAR options, ICMP, shapes, and the
// provider settings copied from the stack's `oci:*` keys.
import * as assert from "assert";
import { isFlexShape, shapeConfigFor } from "../../lib/ociCompute";
import { icmpRules } from "../../lib/ociNetwork";
import { providerSettingsFromConfig, SECRET_PROVIDER_KEYS } from "../../lib/ociProvider";
import { lifecycleRules, PAR_IGNORED_INPUTS, parGeneration, retentionRules, StoreRuleInputs } from "../../lib/ociStore";
import { isTaggable, siteTags } from "../../lib/ociTags";

const active: StoreRuleInputs = { active: true, replica: false, prefix: "etcd/payments/", retentionDays: 14, immutableDays: 14 };
const replica: StoreRuleInputs = { ...active, active: false, replica: true };

describe("OCI snapshot store rules", () => {
    it("expires old snapshots on the writable bucket only (F03)", () => {
        assert.deepStrictEqual(lifecycleRules(active), [{
            name: "expire-old-snapshots",
            action: "DELETE",
            isEnabled: true,
            timeAmount: "14",
            timeUnit: "DAYS",
            objectNameFilter: { inclusionPrefixes: ["etcd/payments/"] },
        }]);
        assert.deepStrictEqual(lifecycleRules(replica), []);
    });

    it("makes objects immutable on the bucket the nodes write to, unlocked, never on a replica (F11)", () => {
        assert.deepStrictEqual(retentionRules(active), [{ displayName: "committed-snapshots-immutable", duration: { timeAmount: "14", timeUnit: "DAYS" } }]);
        assert.deepStrictEqual(retentionRules(replica), []);
        assert.deepStrictEqual(retentionRules({ ...active, replica: true }), [], "a destination may not have one, even when it is written");
        assert.deepStrictEqual(retentionRules({ ...active, immutableDays: 0 }), []);
        assert.deepStrictEqual(retentionRules({ ...active, active: false }), [], "a standby's own bucket before replication starts");
    });

    it("ignores bucketListingAction on PARs, and never their expiry (F09)", () => {
        assert.deepStrictEqual(PAR_IGNORED_INPUTS, ["bucketListingAction"]);
    });

    it("gives a PAR a new generation whenever anything that defines it changes (F11)", () => {
        const par = { bucket: "b", prefix: "etcd/payments/", accessType: "AnyObjectRead", bucketListingAction: "ListObjects", timeExpires: "2027-06-30T00:00:00Z" };
        assert.match(parGeneration(par), /^20270630-[0-9a-f]{8}$/);
        assert.strictEqual(parGeneration({ ...par }), parGeneration(par));
        const changed = [
            { ...par, bucket: "c" },
            { ...par, prefix: "etcd/orders/" },
            { ...par, accessType: "AnyObjectWrite" },
            { ...par, bucketListingAction: "Deny" },
            { ...par, timeExpires: "2027-06-30T12:00:00Z" },
        ].map(parGeneration);
        assert.strictEqual(new Set([parGeneration(par), ...changed]).size, 6);
    });
});

describe("OCI network and compute rules", () => {
    it("admits fragmentation-needed from anywhere and unreachable from both VCNs (F23)", () => {
        assert.deepStrictEqual(icmpRules("10.10.0.0/16", "10.20.0.0/16").map((r) => [r.key, r.source, r.type, r.code]), [
            ["icmp-3-4-from-anywhere", "0.0.0.0/0", 3, 4],
            ["icmp-3-from-10-10-0-0-16", "10.10.0.0/16", 3, undefined],
            ["icmp-3-from-10-20-0-0-16", "10.20.0.0/16", 3, undefined],
        ]);
        assert.strictEqual(icmpRules("10.10.0.0/16").length, 2);
    });

    it("sends a shape configuration only to flexible shapes (F21)", () => {
        assert.deepStrictEqual(shapeConfigFor("VM.Standard.E5.Flex", 2, 16), { ocpus: 2, memoryInGbs: 16 });
        assert.strictEqual(shapeConfigFor("VM.Standard2.4", 2, 16), undefined);
        assert.strictEqual(shapeConfigFor("BM.Standard3.64", 2, 16), undefined);
        assert.ok(isFlexShape("VM.Standard3.Flex"));
    });
});

describe("OCI provider settings (F13)", () => {
    it("copies the stack's oci:* keys by type, leaving region out", () => {
        const config: Record<string, string> = {
            "oci:region": "us-ashburn-1",
            "oci:tenancyOcid": "ocid1.tenancy.oc1..t",
            "oci:configFileProfile": "DR",
            "oci:privateKey": "-----BEGIN PRIVATE KEY-----",
            "oci:disableAutoRetries": "true",
            "oci:retryDurationSeconds": "120",
            "oci:ignoreDefinedTags": '["Oracle-Tags.CreatedBy"]',
            "oci:userOcid": "",
        };
        assert.deepStrictEqual(providerSettingsFromConfig((k) => config[k]), {
            tenancyOcid: "ocid1.tenancy.oc1..t",
            configFileProfile: "DR",
            privateKey: "-----BEGIN PRIVATE KEY-----",
            disableAutoRetries: true,
            retryDurationSeconds: 120,
            ignoreDefinedTags: ["Oracle-Tags.CreatedBy"],
        });
        assert.deepStrictEqual(providerSettingsFromConfig(() => undefined), {});
        assert.ok(SECRET_PROVIDER_KEYS.includes("privateKey"));
    });
});

describe("OCI tags", () => {
    it("names the cluster, the site and its role", () => {
        assert.deepStrictEqual(siteTags({ cluster: "payments", site: "standby", role: "standby" }), {
            "etcd-dr-cluster": "payments",
            "etcd-dr-site": "standby",
            "etcd-dr-role": "standby",
        });
        assert.ok(isTaggable("oci:Core/vcn:Vcn"));
        assert.ok(!isTaggable("oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule"));
        assert.ok(!isTaggable("pulumi:providers:oci"));
    });
});
