// The config checks of OCI keys: values OCI itself would only refuse at apply time, or never.
import * as assert from "assert";
import { isOciRegion, isRfc3339, ocidRegion, ocidType, regionMismatch } from "../../lib/ociConfig";
import { loadConfig } from "../../stack/config";
import { primaryConfig, Raw } from "./config.test";

function load(change: (raw: Raw) => void = () => undefined) {
    const raw = primaryConfig();
    change(raw);
    return loadConfig("primary", {
        get: (key: string) => {
            const value = raw[key];
            return value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
        },
    });
}

function oneError(change: (raw: Raw) => void, expected: RegExp): void {
    const result = load(change);
    const matching = result.errors.filter((e) => expected.test(e));
    assert.strictEqual(matching.length, 1, `expected one line matching ${expected} in:\n${result.errors.join("\n")}`);
    assert.ok(!matching[0].includes("\n"));
}

describe("OCI config keys", () => {
    it("loads the IAM and store settings with their defaults", () => {
        const result = load();
        assert.deepStrictEqual(result.errors, []);
        assert.deepStrictEqual(result.config?.oci?.iam, { homeRegion: undefined, tenancyId: undefined, policyCompartmentId: "ocid1.compartment.oc1..aaaaaaaatestcompartment" });
        assert.strictEqual(result.config?.oci?.immutableDays, undefined, "the retention days apply");
        assert.strictEqual(result.config?.oci?.privateAccess, false);
    });

    it("takes the home region, the policy compartment and the tenancy from config", () => {
        const result = load((r) => {
            r["etcd-dr:homeRegion"] = "eu-frankfurt-1";
            r["etcd-dr:policyCompartmentId"] = "ocid1.tenancy.oc1..aaaaaaaatenancy";
            r["oci:tenancyOcid"] = "ocid1.tenancy.oc1..aaaaaaaatenancy";
            r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", immutableDays: 7 };
        });
        assert.deepStrictEqual(result.errors, []);
        assert.deepStrictEqual(result.config?.oci?.iam, {
            homeRegion: "eu-frankfurt-1",
            tenancyId: "ocid1.tenancy.oc1..aaaaaaaatenancy",
            policyCompartmentId: "ocid1.tenancy.oc1..aaaaaaaatenancy",
        });
        assert.strictEqual(result.config?.oci?.immutableDays, 7);
    });

    it("refuses a home region that is no region identifier (F02)", () => {
        oneError((r) => (r["etcd-dr:homeRegion"] = "Ashburn"), /^etcd-dr:homeRegion 'Ashburn' is not an OCI region identifier/);
        oneError((r) => (r["etcd-dr:policyCompartmentId"] = "root"), /^etcd-dr:policyCompartmentId 'root' is not a compartment or tenancy OCID$/);
    });

    it("refuses a PAR expiry without a time zone, which the provider cannot parse (F19)", () => {
        for (const time of ["2027-06-30T00:00", "2027-06-30T00:00:00", "2027-06-30T00:00:00.000"]) {
            oneError((r) => (r["etcd-dr:snapshots"] = { parExpiresAt: time }), /^etcd-dr:snapshots\.parExpiresAt '.*' has no time zone; OCI takes RFC 3339/);
        }
        for (const time of ["2027-06-30T00:00:00Z", "2027-06-30T02:00:00+02:00", "2027-06-30T00:00:00.5Z"]) {
            assert.deepStrictEqual(load((r) => (r["etcd-dr:snapshots"] = { parExpiresAt: time })).errors, [], time);
        }
    });

    it("refuses a Vault key that is no key, or is in the other site's region (F14)", () => {
        oneError((r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", kmsKeyId: "ocid1.vault.oc1.iad.abc.def" }), /^etcd-dr:snapshots\.kmsKeyId '.*' is not a Vault key OCID/);
        oneError(
            (r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", kmsKeyId: "ocid1.key.oc1.phx.bbpdhwdmaaeuk.abuwcljrkey" }),
            /^etcd-dr:snapshots\.kmsKeyId '.*' is in us-phoenix-1 but this site is in us-ashburn-1; use one from us-ashburn-1/,
        );
        assert.deepStrictEqual(load((r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", kmsKeyId: "ocid1.key.oc1.iad.bbpdhwdmaaeuk.abuwcljrkey" })).errors, []);
    });

    it("refuses the other region's node image", () => {
        oneError((r) => (r["etcd-dr:nodeImageId"] = "ocid1.image.oc1.phx.aaaaaaaaimage"), /^etcd-dr:nodeImageId '.*' is in us-phoenix-1 but this site is in us-ashburn-1/);
        oneError((r) => (r["etcd-dr:nodeImageId"] = "ubuntu-24.04"), /^etcd-dr:nodeImageId 'ubuntu-24.04' is not an image OCID/);
    });

    it("refuses a site Pulumi cannot reach: no bastion, or a bastion nobody may reach (F24)", () => {
        oneError((r) => delete r["etcd-dr:bastion"], /^etcd-dr:bastion is false and the nodes have no public addresses, so Pulumi cannot reach them/);
        oneError((r) => delete r["etcd-dr:operatorCidr"], /^etcd-dr:operatorCidr is not set, and the bastion admits SSH only from it/);
        const inside = load((r) => {
            delete r["etcd-dr:bastion"];
            delete r["etcd-dr:operatorCidr"];
            r["etcd-dr:privateAccess"] = "true";
        });
        assert.deepStrictEqual(inside.errors, []);
        assert.strictEqual(inside.config?.oci?.privateAccess, true);
    });

    it("refuses an immutability that is no whole number of days (F11)", () => {
        oneError((r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", immutableDays: -1 }), /^etcd-dr:snapshots\.immutableDays must be a whole number of days/);
        oneError((r) => (r["etcd-dr:snapshots"] = { parExpiresAt: "2027-06-30T00:00:00Z", immutableDays: "a week" }), /^etcd-dr:snapshots\.immutableDays must be a whole number of days/);
    });
});

describe("OCI identifiers", () => {
    it("accepts region identifiers of more than three parts (F20)", () => {
        for (const region of ["us-ashburn-1", "us-gov-ashburn-1", "uk-gov-london-1", "eu-dcc-milan-1", "me-dcc-muscat-1", "ap-singapore-2"]) {
            assert.ok(isOciRegion(region), region);
        }
        for (const region of ["us_ashburn_1", "ashburn", "US-ASHBURN-1", "us-ashburn", "-us-ashburn-1"]) {
            assert.ok(!isOciRegion(region), region);
        }
    });

    it("reads the type and region of an OCID, by identifier or by key", () => {
        assert.strictEqual(ocidType("ocid1.compartment.oc1..aaaa"), "compartment");
        assert.strictEqual(ocidType("not-an-ocid"), undefined);
        assert.strictEqual(ocidRegion("ocid1.key.oc1.iad.bbp.abu"), "us-ashburn-1");
        assert.strictEqual(ocidRegion("ocid1.image.oc1.ap-sydney-1.aaaa"), "ap-sydney-1");
        assert.strictEqual(ocidRegion("ocid1.compartment.oc1..aaaa"), undefined);
        assert.strictEqual(ocidRegion("ocid1.key.oc1.zzz.bbp.abu"), undefined, "an unknown key is not checked");
        assert.strictEqual(regionMismatch("k", "ocid1.key.oc1.zzz.bbp.abu", "us-ashburn-1"), undefined);
    });

    it("takes RFC 3339 exactly as Go's time.RFC3339 does", () => {
        assert.ok(isRfc3339("2027-06-30T00:00:00Z"));
        assert.ok(isRfc3339("2027-06-30T00:00:00-07:00"));
        assert.ok(!isRfc3339("2027-06-30T00:00:00"));
        assert.ok(!isRfc3339("2027-06-30 00:00:00Z"));
        assert.ok(!isRfc3339("2027-13-45T00:00:00Z"));
    });
});
