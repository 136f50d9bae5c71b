// One OCI site built in-process under mocks, checked against OCI's rules that the plan's shape
// alone does not show: which provider (region) each resource goes through, what waits for which
// IAM grant, and the resource options that keep refreshes and role swaps from replacing things.
import * as assert from "assert";
import { TAG_KEYS, TAGGABLE_TYPES } from "../../lib/ociTags";
import { MOCK_HOME_REGION } from "../../tools/mocks";
import { acceptsFreeformTags, buildSite, COMPARTMENT, named, Recorded, typed } from "./ociSiteHarness";

const KEY_PHX = "ocid1.key.oc1.phx.bbpdhwdmaaeuk.abuwcljrkeystandby";

describe("an OCI site, built under mocks", function () {
    this.timeout(60_000);
    let primary: Recorded[];
    let standby: Recorded[];

    before(async () => {
        primary = await buildSite({ role: "primary" });
        standby = await buildSite({ role: "standby", iam: { homeRegion: "eu-frankfurt-1" } });
    });

    describe("IAM (F02, F03, F14, F25)", () => {
        it("writes every identity resource through the home-region provider", () => {
            for (const [site, resources, home] of [["primary", primary, MOCK_HOME_REGION], ["standby", standby, "eu-frankfurt-1"]] as const) {
                const identity = resources.filter((r) => r.type.startsWith("oci:Identity/"));
                assert.ok(identity.length > 0, `${site} has identity resources`);
                for (const resource of identity) {
                    assert.strictEqual(resource.provider, `${site}-home-region`, `${resource.name} goes through the home-region provider`);
                }
                assert.strictEqual(named(resources, `${site}-home-region`).inputs.region, home);
            }
        });

        it("finds the home region from the tenancy when config does not name it", () => {
            // The primary's config has no homeRegion: the mocks' tenancy answers us-ashburn-1.
            assert.strictEqual(named(primary, "primary-home-region").inputs.region, MOCK_HOME_REGION);
        });

        it("grants each region's Object Storage what it does, in the site's own compartment", () => {
            assert.deepStrictEqual(named(primary, "primary-iam-object-storage").inputs.statements, [
                `Allow service objectstorage-us-ashburn-1 to manage object-family in compartment id ${COMPARTMENT}`,
            ]);
            const statements = named(standby, "standby-iam-object-storage").inputs.statements as string[];
            assert.strictEqual(statements[0], `Allow service objectstorage-us-phoenix-1 to manage object-family in compartment id ${COMPARTMENT}`);
            assert.match(statements[1], /^Allow service objectstorage-us-ashburn-1 to manage object-family in compartment id \S+ where any \{request\.permission='BUCKET_READ'/);
        });

        it("names each site's policy after its cluster and stack", () => {
            assert.strictEqual(named(primary, "primary-iam-object-storage").inputs.name, "etcd-dr-payments-primary-object-storage");
            assert.strictEqual(named(standby, "standby-iam-object-storage").inputs.name, "etcd-dr-payments-standby-object-storage");
        });

        it("makes the lifecycle policy wait for its region's service grant", () => {
            const lifecycle = named(primary, "primary-snapshots-retention");
            assert.deepStrictEqual(lifecycle.dependsOn, ["primary-iam-propagation"]);
            assert.deepStrictEqual(named(primary, "primary-iam-propagation").dependsOn, ["primary-iam-object-storage"]);
        });

        it("makes replication wait for the source region's grant on the destination", () => {
            assert.deepStrictEqual(named(standby, "standby-snapshots-replication").dependsOn, ["standby-iam-propagation", "standby-snapshots-bucket"]);
        });

        it("puts no delete lifecycle rule on the replica, where OCI ignores it", () => {
            assert.deepStrictEqual(typed(standby, "/objectLifecyclePolicy:ObjectLifecyclePolicy"), []);
        });

        it("lets Object Storage use the Vault key before the bucket asks for it", async () => {
            const site = await buildSite({ role: "standby", iam: { homeRegion: "us-ashburn-1" }, kmsKeyId: KEY_PHX });
            const statements = named(site, "standby-iam-object-storage").inputs.statements as string[];
            assert.ok(
                statements.includes(`Allow service objectstorage-us-phoenix-1 to use keys in compartment id ${COMPARTMENT} where target.key.id = '${KEY_PHX}'`),
                statements.join("\n"),
            );
            const bucket = named(site, "standby-snapshots-bucket");
            assert.strictEqual(bucket.inputs.kmsKeyId, KEY_PHX);
            assert.deepStrictEqual(bucket.dependsOn, ["standby-iam-propagation"]);
        });

        it("attaches the grants where policyCompartmentId says, scoping the key grant to it", async () => {
            const tenancy = "ocid1.tenancy.oc1..aaaaaaaatenancy";
            const site = await buildSite({ role: "standby", iam: { homeRegion: "us-ashburn-1", policyCompartmentId: tenancy }, kmsKeyId: KEY_PHX });
            const policy = named(site, "standby-iam-object-storage");
            assert.strictEqual(policy.inputs.compartmentId, tenancy);
            assert.ok((policy.inputs.statements as string[]).some((s) => s.endsWith(`to use keys in tenancy where target.key.id = '${KEY_PHX}'`)));
        });
    });

    describe("explicit providers (F13)", () => {
        it("carry the stack's oci:* credentials, the private key as a secret", async () => {
            const site = await buildSite({
                role: "standby",
                config: {
                    "oci:tenancyOcid": "ocid1.tenancy.oc1..aaaaaaaatenancy",
                    "oci:userOcid": "ocid1.user.oc1..aaaaaaaauser",
                    "oci:fingerprint": "12:34:56",
                    "oci:privateKey": "-----BEGIN PRIVATE KEY-----\nMII=\n-----END PRIVATE KEY-----",
                    "oci:region": "us-phoenix-1",
                },
                secrets: ["oci:privateKey"],
            });
            for (const name of ["standby-home-region", "standby-snapshots-source-region"]) {
                const inputs = named(site, name).inputs;
                assert.strictEqual(inputs.tenancyOcid, "ocid1.tenancy.oc1..aaaaaaaatenancy", name);
                assert.strictEqual(inputs.userOcid, "ocid1.user.oc1..aaaaaaaauser", name);
                assert.strictEqual(inputs.fingerprint, "12:34:56", name);
                assert.match(JSON.stringify(inputs.privateKey), /BEGIN PRIVATE KEY/, name);
                assert.ok(isSecret(inputs.privateKey), `${name}: the private key stays secret`);
            }
            // Its own region, never the stack's: the tenancy given by config also spares the lookup.
            assert.strictEqual(named(site, "standby-snapshots-source-region").inputs.region, "us-ashburn-1");
            assert.strictEqual(named(site, "standby-home-region").inputs.region, MOCK_HOME_REGION);
        });
    });

    describe("snapshot store (F09, F11, F26)", () => {
        it("ignores bucketListingAction on both PARs, and only that", () => {
            for (const par of [...typed(primary, "/preauthrequest:Preauthrequest"), ...typed(standby, "/preauthrequest:Preauthrequest")]) {
                assert.deepStrictEqual(par.ignoreChanges, ["bucketListingAction"], par.name);
            }
        });

        it("rotates a PAR by creating the next one from the program's inputs, never by replacing it", async () => {
            const [write] = typed(primary, "/preauthrequest:Preauthrequest");
            assert.match(write.name, /^primary-snapshots-backup-write-20270630-[0-9a-f]{8}$/);
            assert.deepStrictEqual(
                [write.inputs.name, write.inputs.timeExpires, write.inputs.bucketListingAction],
                ["primary-snapshots-backup-write-until-2027-06-30", "2027-06-30T00:00:00Z", "Deny"],
            );
            // A replacement would take the ignored bucketListingAction from the state, where a refresh
            // may have blanked it; a new resource takes it from the program.
            const rotated = await buildSite({ role: "primary", parExpiresAt: "2027-12-31T00:00:00Z" });
            const [next] = typed(rotated, "/preauthrequest:Preauthrequest");
            assert.match(next.name, /^primary-snapshots-backup-write-20271231-[0-9a-f]{8}$/);
            assert.strictEqual(next.inputs.timeExpires, "2027-12-31T00:00:00Z");
        });

        it("keeps committed snapshots from being overwritten or deleted on the active site", () => {
            assert.deepStrictEqual(named(primary, "primary-snapshots-bucket").inputs.retentionRules, [
                { displayName: "committed-snapshots-immutable", duration: { timeAmount: "14", timeUnit: "DAYS" } },
            ]);
            const rule = (named(primary, "primary-snapshots-bucket").inputs.retentionRules as Record<string, unknown>[])[0];
            assert.strictEqual(rule.timeRuleLocked, undefined, "never locked: a role swap must be able to drop it");
        });

        it("gives the replica no retention rule, which OCI refuses on a replication destination", () => {
            assert.strictEqual(named(standby, "standby-snapshots-bucket").inputs.retentionRules, undefined);
        });

        it("leaves the retention rule out when immutableDays is 0", async () => {
            const site = await buildSite({ role: "primary", immutableDays: 0 });
            assert.strictEqual(named(site, "primary-snapshots-bucket").inputs.retentionRules, undefined);
        });

        it("protects the buckets and keeps them when the stack is destroyed", () => {
            for (const bucket of [named(primary, "primary-snapshots-bucket"), named(standby, "standby-snapshots-bucket")]) {
                assert.ok(bucket.protect && bucket.retainOnDelete, bucket.name);
            }
        });
    });

    describe("network and compute (F21, F22, F23)", () => {
        it("never replaces a peering connection when the roles swap", () => {
            for (const rpc of [named(primary, "primary-peering-rpc"), named(standby, "standby-peering-rpc")]) {
                assert.deepStrictEqual(rpc.ignoreChanges, ["peerId", "peerRegionName"], rpc.name);
            }
            assert.strictEqual(named(standby, "standby-peering-rpc").inputs.peerId, "ocid1.remotepeeringconnection.oc1.iad.primary");
        });

        it("admits ICMP fragmentation-needed and unreachable on every NSG", () => {
            for (const group of ["controlPlane", "workers", "bastion"]) {
                const frag = named(primary, `primary-network-${group}-icmp-3-4-from-anywhere`).inputs;
                assert.deepStrictEqual([frag.protocol, frag.source, frag.icmpOptions], ["1", "0.0.0.0/0", { type: 3, code: 4 }]);
                for (const cidr of ["10-10-0-0-16", "10-20-0-0-16"]) {
                    assert.deepStrictEqual(named(primary, `primary-network-${group}-icmp-3-from-${cidr}`).inputs.icmpOptions, { type: 3 });
                }
            }
        });

        it("sends a shape configuration only with a flexible shape", async () => {
            assert.deepStrictEqual(named(primary, "primary-nodes-cp1").inputs.shapeConfig, { ocpus: 2, memoryInGbs: 16 });
            const fixed = await buildSite({ role: "primary", shape: "VM.Standard2.4" });
            for (const instance of typed(fixed, "/instance:Instance")) {
                assert.strictEqual(instance.inputs.shapeConfig, undefined, instance.name);
            }
        });
    });

    describe("tags (F18)", () => {
        it("tags every OCI resource that takes tags with its cluster, site and role", () => {
            for (const [site, resources] of [["primary", primary], ["standby", standby]] as const) {
                const oci = resources.filter((r) => r.type.startsWith("oci:"));
                for (const resource of oci.filter((r) => acceptsFreeformTags(r.type))) {
                    assert.deepStrictEqual(
                        resource.inputs.freeformTags,
                        { [TAG_KEYS.cluster]: "payments", [TAG_KEYS.site]: site, [TAG_KEYS.role]: site },
                        `${resource.type} ${resource.name}`,
                    );
                }
                for (const resource of oci.filter((r) => !acceptsFreeformTags(r.type))) {
                    assert.strictEqual(resource.inputs.freeformTags, undefined, `${resource.type} takes no tags`);
                }
            }
        });

        it("lists exactly the taggable types the site registers", () => {
            const registered = new Set([...primary, ...standby].map((r) => r.type).filter((t) => t.startsWith("oci:")));
            const taggable = [...registered].filter(acceptsFreeformTags).sort();
            assert.deepStrictEqual(taggable, [...TAGGABLE_TYPES].filter((t) => registered.has(t)).sort(),
                "add the type to TAGGABLE_TYPES in lib/ociTags.ts");
            assert.deepStrictEqual([...TAGGABLE_TYPES].filter((t) => !acceptsFreeformTags(t)), []);
        });
    });
});

function isSecret(value: unknown): boolean {
    return value !== null && typeof value === "object" && (value as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270";
}
