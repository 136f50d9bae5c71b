// The offline plan of both shipped stacks (and of variants written to a temporary directory):
// the real program under mocks, run exactly as a user runs `npm run plan`.
import * as assert from "assert";
import * as path from "path";
import { graph, ofType, one, runPlan, shippedConfig, writeStacks } from "../helpers/plan";

describe("offline plan of the shipped stacks", function () {
    this.timeout(180_000);

    it("builds network, DRG, peering, store and one instance per host name on each site", () => {
        for (const stack of ["primary", "standby"]) {
            const resources = graph(stack);
            for (const type of ["/vcn:Vcn", "/drg:Drg", "/drgAttachment:DrgAttachment", "/remotePeeringConnection:RemotePeeringConnection", "/bucket:Bucket", "/natGateway:NatGateway", "/serviceGateway:ServiceGateway", "/internetGateway:InternetGateway"]) {
                one(resources, type);
            }
            assert.strictEqual(ofType(resources, "/subnet:Subnet").length, 3, stack);
            const site = one(resources, "etcd-dr:site:Site");
            for (const component of ["network", "peering", "snapshots", "kubeadm", "nodes"]) {
                const child = resources.find((r) => r.name === `${stack}-${component}`);
                assert.ok(child && child.parent === site.name, `${component} is a child of the site`);
            }
            for (const r of resources.filter((x) => x.type.startsWith("oci:") && !x.type.startsWith("oci:Core/instance"))) {
                assert.ok(r.parent, `${r.name} has a parent`);
            }
        }
    });

    it("gives both sites the same host names, from the one topology", () => {
        const labels = (stack: string) =>
            ofType(graph(stack), "/instance:Instance")
                .map((r) => (r.inputs.createVnicDetails as { hostnameLabel: string }).hostnameLabel)
                .sort();
        assert.deepStrictEqual(labels("primary"), ["bastion", "cp1", "cp2", "cp3", "w1", "w2", "w3"]);
        assert.deepStrictEqual(labels("standby"), labels("primary"));
        const vcnLabels = ["primary", "standby"].map((s) => one(graph(s), "/vcn:Vcn").inputs.dnsLabel);
        assert.deepStrictEqual(vcnLabels, ["k8sdr", "k8sdr"]);
    });

    it("uses disjoint VCN ranges and routes the peer's range through the DRG", () => {
        const cidrs = ["primary", "standby"].map((s) => (one(graph(s), "/vcn:Vcn").inputs.cidrBlocks as string[])[0]);
        assert.deepStrictEqual(cidrs, ["10.10.0.0/16", "10.20.0.0/16"]);
        for (const [stack, peer] of [["primary", "10.20.0.0/16"], ["standby", "10.10.0.0/16"]]) {
            const routes = ofType(graph(stack), "/routeTable:RouteTable");
            for (const table of routes) {
                const rules = table.inputs.routeRules as { destination: string; networkEntityId: string }[];
                assert.ok(rules.some((r) => r.destination === peer && r.networkEntityId === `${stack}-network-drg-id`), `${table.name} routes ${peer} to the DRG`);
            }
        }
    });

    it("peers the standby's connection with the primary's, in the primary's region", () => {
        const primaryRpc = one(graph("primary"), "/remotePeeringConnection:RemotePeeringConnection");
        assert.strictEqual(primaryRpc.inputs.peerId, undefined);
        const standbyRpc = one(graph("standby"), "/remotePeeringConnection:RemotePeeringConnection");
        assert.strictEqual(standbyRpc.inputs.peerId, `${primaryRpc.name}-id`);
        assert.strictEqual(standbyRpc.inputs.peerRegionName, "us-ashburn-1");
    });

    it("replicates the primary's bucket into the standby's, owned by the standby", () => {
        assert.strictEqual(ofType(graph("primary"), "/replicationPolicy:ReplicationPolicy").length, 0);
        const standby = graph("standby");
        const policy = one(standby, "/replicationPolicy:ReplicationPolicy");
        assert.deepStrictEqual(
            [policy.inputs.bucket, policy.inputs.destinationBucketName, policy.inputs.destinationRegionName],
            ["payments-etcd-snapshots-primary", "payments-etcd-snapshots-standby", "us-phoenix-1"],
        );
        const provider = standby.find((r) => r.name === "standby-snapshots-source-region");
        assert.strictEqual(provider?.inputs.region, "us-ashburn-1", "the policy is created in the source bucket's region");
        assert.ok(policy.dependsOn.includes("standby-iam-propagation"), "the policy waits for Object Storage's grants");
        const iam = one(standby, "/policy:Policy");
        const statements = iam.inputs.statements as string[];
        assert.match(statements[1], /^Allow service objectstorage-us-ashburn-1 to manage object-family in compartment id ocid1\.compartment\.oc1\.\.aaaaaaaa4kdr7mhb2wq3dxm5lqnvgc2s6yqfo3q2ztmz3ffjxwnq6lfrxb2a where any \{request\.permission='BUCKET_READ'/);
    });

    it("scopes the pre-authenticated requests: write-only for backups, read and list on the replica", () => {
        const write = one(graph("primary"), "/preauthrequest:Preauthrequest");
        assert.deepStrictEqual(
            [write.inputs.accessType, write.inputs.bucketListingAction, write.inputs.objectName, write.inputs.timeExpires],
            ["AnyObjectWrite", "Deny", "etcd/payments/", "2027-06-30T00:00:00Z"],
        );
        const read = one(graph("standby"), "/preauthrequest:Preauthrequest");
        assert.deepStrictEqual([read.inputs.accessType, read.inputs.bucketListingAction, read.inputs.objectName], ["AnyObjectRead", "ListObjects", "etcd/payments/"]);
        for (const stack of ["primary", "standby"]) {
            assert.strictEqual(one(graph(stack), "/bucket:Bucket").inputs.accessType, "NoPublicAccess");
        }
    });

    it("prints secrets as [secret] and never their values", () => {
        const text = runPlan("primary").stdout;
        const nodes = ofType(graph("primary"), "/instance:Instance").filter((i) => !i.name.endsWith("bastion"));
        assert.strictEqual(nodes.length, 6);
        // The user data carries no join credential (F10): the joins get theirs over SSH, as secrets.
        for (const node of nodes) {
            const userData = Buffer.from(String((node.inputs.metadata as { user_data: string }).user_data), "base64").toString("utf8");
            assert.match(userData, /^#cloud-config\n/, node.name);
            assert.doesNotMatch(userData, /[a-z0-9]{6}\.[a-z0-9]{16}|^\s*certificateKey: /m, `${node.name}: a join credential in the user data`);
        }
        const joins = ofType(graph("primary"), "remote:Command").filter((c) => c.parent === "primary-join" && !c.name.endsWith("-credentials"));
        assert.ok(joins.length > 0 && joins.every((j) => j.inputs.stdin === "[secret]"), "the minted credentials travel as secrets");
        assert.ok(!/certificateKey|caCertHashes/.test(text), "a JoinConfiguration leaked into the plan");
    });

    it("prints a readable tree without --json", () => {
        const result = runPlan("standby", undefined, false);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, /^etcd-dr:site:Site {2}standby$/m);
        assert.match(result.stdout, /^ {4}oci:ObjectStorage\/replicationPolicy:ReplicationPolicy {2}standby-snapshots-replication {2}\(after /m);
        assert.match(result.stdout, /^\d+ resources$/m);
    });
});

describe("offline plan of variants", function () {
    this.timeout(180_000);

    it("flips the replication direction when the roles are swapped", () => {
        const primary = shippedConfig("primary");
        const standby = shippedConfig("standby");
        const dir = writeStacks({
            west: { ...standby, "etcd-dr:role": "primary", "etcd-dr:peerStack": "", "etcd-dr:peerVcnCidr": "10.10.0.0/16", "etcd-dr:topology": primary["etcd-dr:topology"], "etcd-dr:cluster": primary["etcd-dr:cluster"] },
            east: { ...primary, "etcd-dr:role": "standby", "etcd-dr:peerStack": "west", "etcd-dr:peerVcnCidr": "", "etcd-dr:topology": undefined, "etcd-dr:cluster": undefined },
        });
        const east = graph("east", path.join(dir, "Pulumi.east.yaml"));
        const policy = one(east, "/replicationPolicy:ReplicationPolicy");
        assert.deepStrictEqual(
            [policy.inputs.bucket, policy.inputs.destinationBucketName, policy.inputs.destinationRegionName],
            ["payments-etcd-snapshots-west", "payments-etcd-snapshots-east", "us-ashburn-1"],
        );
        assert.strictEqual(east.find((r) => r.name === "east-snapshots-source-region")?.inputs.region, "us-phoenix-1");
        assert.strictEqual(one(graph("west", path.join(dir, "Pulumi.west.yaml")), "/preauthrequest:Preauthrequest").inputs.accessType, "AnyObjectWrite");
        assert.strictEqual(one(east, "/preauthrequest:Preauthrequest").inputs.accessType, "AnyObjectRead");
    });

    it("stops a standby that sets the mirrored spec differently, naming every difference", () => {
        const dir = writeStacks({
            primary: shippedConfig("primary"),
            standby: {
                ...shippedConfig("standby"),
                "etcd-dr:topology": { workers: ["w1", "w2"], apiAlias: "k8s-api" },
                "etcd-dr:cluster": { kubernetesVersion: "1.30.1" },
            },
        });
        const result = runPlan("standby", path.join(dir, "Pulumi.standby.yaml"));
        assert.strictEqual(result.status, 1);
        const lines = result.stderr.trim().split("\n");
        assert.deepStrictEqual(lines, [
            'error: not mirrored: topology.workers: primary has ["w1","w2","w3"], this stack sets ["w1","w2"]; remove the key from this stack or make it equal',
            'error: not mirrored: cluster.kubernetesVersion: primary has "1.35.8", this stack sets "1.30.1"; remove the key from this stack or make it equal',
        ]);
    });

    it("stops a standby whose VCN is not the one the primary routes to", () => {
        const dir = writeStacks({ primary: shippedConfig("primary"), standby: { ...shippedConfig("standby"), "etcd-dr:vcnCidr": "10.30.0.0/16" } });
        const result = runPlan("standby", path.join(dir, "Pulumi.standby.yaml"));
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /^error: the primary routes its peer at 10.20.0.0\/16 but this stack's vcnCidr is 10.30.0.0\/16; make them equal$/m);
    });

    it("prints the loader's errors and exits non-zero on a wrong config, without a stack trace", () => {
        const dir = writeStacks({
            broken: { ...shippedConfig("primary"), "etcd-dr:compartmentId": "", "etcd-dr:vcnCidr": "10.10.0.0/16", "etcd-dr:peerVcnCidr": "10.10.0.0/24", "etcd-dr:role": "leader" },
        });
        const result = runPlan("broken", path.join(dir, "Pulumi.broken.yaml"));
        assert.strictEqual(result.status, 1);
        assert.strictEqual(result.stdout, "");
        const lines = result.stderr.trim().split("\n");
        assert.ok(lines.every((l) => l.startsWith("error: ")), result.stderr);
        assert.ok(lines.some((l) => l.includes("etcd-dr:role 'leader' is unknown")));
        assert.ok(lines.some((l) => l.includes("etcd-dr:compartmentId is not set")));
        assert.ok(lines.some((l) => l.includes("overlaps etcd-dr:peerVcnCidr")));
        assert.ok(!/\n\s+at /.test(result.stderr), "no stack trace");
    });

    it("warns in the preview when the PARs expire within 30 days", () => {
        const soon = new Date(Date.now() + 10 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
        const dir = writeStacks({ primary: { ...shippedConfig("primary"), "etcd-dr:snapshots": { parExpiresAt: soon } } });
        const result = runPlan("primary", path.join(dir, "Pulumi.primary.yaml"));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /pre-authenticated requests expire in (9|10) days/);
    });

    it("names the stacks it knows when asked for one that does not exist", () => {
        const result = runPlan("nosuch");
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /^error: there is no Pulumi.nosuch.yaml in .*; stacks there: .*primary, standby/);
    });
});
