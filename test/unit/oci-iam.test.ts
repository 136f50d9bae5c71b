// The IAM text of an OCI site: Object Storage's service grants, and what the identity that runs
// `pulumi up` needs, checked against every OCI resource type the shipped stacks register.
import * as assert from "assert";
import {
    coveredTypes,
    homeRegionOf,
    policyScope,
    PULUMI_IDENTITY_PERMISSIONS,
    renderIdentityPolicy,
    serviceGrantPolicyName,
    serviceGrantStatements,
} from "../../lib/ociIam";
import { graph } from "../helpers/plan";

const SITE = "ocid1.compartment.oc1..aaaaaaaasite";

describe("OCI service grants", () => {
    it("grants a primary's region what its lifecycle rule and the replication source need", () => {
        assert.deepStrictEqual(serviceGrantStatements({ region: "us-ashburn-1", compartmentId: SITE, policyCompartmentId: SITE }), [
            `Allow service objectstorage-us-ashburn-1 to manage object-family in compartment id ${SITE}`,
        ]);
    });

    it("adds, on a standby, the source region's replication permissions and nothing broader", () => {
        const statements = serviceGrantStatements({ region: "us-phoenix-1", compartmentId: SITE, replicateFromRegion: "us-ashburn-1", policyCompartmentId: SITE });
        assert.strictEqual(statements.length, 2);
        assert.strictEqual(
            statements[1],
            `Allow service objectstorage-us-ashburn-1 to manage object-family in compartment id ${SITE} where any {request.permission='BUCKET_READ', request.permission='BUCKET_UPDATE', request.permission='OBJECT_READ', request.permission='OBJECT_INSPECT', request.permission='OBJECT_CREATE', request.permission='OBJECT_OVERWRITE', request.permission='OBJECT_RESTORE', request.permission='OBJECT_DELETE'}`,
        );
    });

    it("never names another site's compartment, so the policy is valid where it is attached (F14)", () => {
        const statements = serviceGrantStatements({ region: "us-phoenix-1", compartmentId: SITE, replicateFromRegion: "us-ashburn-1", policyCompartmentId: SITE });
        const named = statements.flatMap((s) => [...s.matchAll(/compartment id (\S+)/g)].map((m) => m[1]));
        assert.deepStrictEqual([...new Set(named)], [SITE]);
    });

    it("lets the bucket's region use exactly the bucket's Vault key", () => {
        const key = "ocid1.key.oc1.phx.bbp.abu";
        const statements = serviceGrantStatements({ region: "us-phoenix-1", compartmentId: SITE, kmsKeyId: key, policyCompartmentId: "ocid1.tenancy.oc1..root" });
        assert.strictEqual(statements[1], `Allow service objectstorage-us-phoenix-1 to use keys in tenancy where target.key.id = '${key}'`);
        assert.strictEqual(policyScope(SITE), `compartment id ${SITE}`);
    });

    it("gives two clusters, or two stacks, sharing a compartment different policy names (F25)", () => {
        const names = [serviceGrantPolicyName("payments", "primary"), serviceGrantPolicyName("orders", "primary"), serviceGrantPolicyName("payments", "standby")];
        assert.strictEqual(new Set(names).size, 3);
        assert.ok(names.every((n) => /^[A-Za-z0-9._-]{1,100}$/.test(n)), names.join(" "));
    });

    it("finds the home region among the tenancy's subscriptions", () => {
        assert.strictEqual(homeRegionOf([{ isHomeRegion: false, regionName: "us-phoenix-1" }, { isHomeRegion: true, regionName: "eu-frankfurt-1" }]), "eu-frankfurt-1");
        assert.strictEqual(homeRegionOf([]), undefined);
    });
});

describe("what the Pulumi identity needs (F18)", function () {
    this.timeout(180_000);

    it("covers every OCI resource type the shipped stacks create", () => {
        const types = new Set(["primary", "standby"].flatMap((s) => graph(s).map((r) => r.type)).filter((t) => t.startsWith("oci:")));
        const covered = coveredTypes();
        assert.deepStrictEqual([...types].filter((t) => !covered.has(t)), [], "add a statement to PULUMI_IDENTITY_PERMISSIONS in lib/ociIam.ts");
    });

    it("renders one statement per line, saying which are optional", () => {
        const lines = renderIdentityPolicy().split("\n");
        assert.strictEqual(lines.length, PULUMI_IDENTITY_PERMISSIONS.length);
        assert.ok(lines.every((l) => l.startsWith("Allow group <group> to ")), lines.join("\n"));
        assert.ok(lines.some((l) => l.includes("manage policies in compartment id <policy-compartment>")));
        assert.ok(lines.some((l) => l.endsWith("# only when etcd-dr:snapshots.kmsKeyId is set")));
    });
});
