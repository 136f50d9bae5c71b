// The OCI side of the offline plan of the shipped stacks: tags on every taggable resource, the
// IAM written through the home region, and the service grants in place before anything needs them.
import * as assert from "assert";
import * as path from "path";
import { TAG_KEYS } from "../../lib/ociTags";
import { byName, graph, ofType, shippedConfig, writeStacks } from "../helpers/plan";
import { acceptsFreeformTags } from "./ociSiteHarness";

describe("offline plan: OCI rules", function () {
    this.timeout(180_000);

    it("tags every OCI resource that takes tags with its cluster, site and role (F18)", () => {
        for (const stack of ["primary", "standby"]) {
            const resources = graph(stack).filter((r) => r.type.startsWith("oci:") && acceptsFreeformTags(r.type));
            assert.ok(resources.length > 20, `${stack} has taggable resources`);
            for (const resource of resources) {
                assert.deepStrictEqual(
                    resource.inputs.freeformTags,
                    { [TAG_KEYS.cluster]: "payments", [TAG_KEYS.site]: stack, [TAG_KEYS.role]: stack },
                    `${resource.type} ${resource.name}`,
                );
            }
        }
    });

    it("replaces a node's instance delete-first: its fixed private address cannot be held by two VNICs (F16)", () => {
        for (const stack of ["primary", "standby"]) {
            const instances = ofType(graph(stack), "/instance:Instance").filter((r) => r.parent === `${stack}-nodes` && r.name !== `${stack}-nodes-bastion`);
            assert.ok(instances.length >= 4, `${stack}: ${instances.length} instances`);
            for (const r of instances) assert.strictEqual(r.options.deleteBeforeReplace, true, r.name);
        }
    });

    it("writes each site's grants through a home-region provider, before the store needs them (F02, F03)", () => {
        for (const stack of ["primary", "standby"]) {
            const resources = graph(stack);
            assert.strictEqual(byName(resources, `${stack}-home-region`).inputs.region, "us-ashburn-1");
            const policy = ofType(resources, "/policy:Policy");
            assert.deepStrictEqual(policy.map((p) => p.parent), [`${stack}-iam`]);
            assert.strictEqual(
                (policy[0].inputs.statements as string[])[0],
                `Allow service objectstorage-${stack === "primary" ? "us-ashburn-1" : "us-phoenix-1"} to manage object-family in compartment id ${shippedConfig(stack)["etcd-dr:compartmentId"]}`,
            );
        }
        assert.deepStrictEqual(byName(graph("primary"), "primary-snapshots-retention").dependsOn, ["primary-iam-propagation"]);
        assert.deepStrictEqual(ofType(graph("standby"), "/objectLifecyclePolicy:ObjectLifecyclePolicy"), []);
    });

    it("gives the explicit providers the stack's oci:* credentials (F13)", () => {
        const credentials = { "oci:tenancyOcid": "ocid1.tenancy.oc1..aaaaaaaatenancy", "oci:userOcid": "ocid1.user.oc1..aaaaaaaauser", "oci:fingerprint": "aa:bb", "oci:privateKey": "-----BEGIN PRIVATE KEY-----" };
        const dir = writeStacks({ primary: { ...shippedConfig("primary"), ...credentials }, standby: { ...shippedConfig("standby"), ...credentials } });
        const standby = graph("standby", path.join(dir, "Pulumi.standby.yaml"));
        for (const name of ["standby-home-region", "standby-snapshots-source-region"]) {
            const inputs = byName(standby, name).inputs;
            assert.deepStrictEqual([inputs.tenancyOcid, inputs.userOcid, inputs.fingerprint, inputs.privateKey], ["ocid1.tenancy.oc1..aaaaaaaatenancy", "ocid1.user.oc1..aaaaaaaauser", "aa:bb", "[secret]"], name);
        }
    });
});
