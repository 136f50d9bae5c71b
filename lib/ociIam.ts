// OCI IAM for one site, as text: the grants Object Storage needs to act on the site's bucket, and
// the permissions the identity that runs `pulumi up` needs. Statements are plain strings, so they
// can be reviewed and tested without OCI.

/**
 * What Object Storage in a source region does in the destination compartment while replicating:
 * the permission-restricted form of the grant from OCI's "Object Storage Replication" page.
 */
export const REPLICATION_PERMISSIONS = [
    "BUCKET_READ",
    "BUCKET_UPDATE",
    "OBJECT_READ",
    "OBJECT_INSPECT",
    "OBJECT_CREATE",
    "OBJECT_OVERWRITE",
    "OBJECT_RESTORE",
    "OBJECT_DELETE",
] as const;

/** "in tenancy" for the root compartment, "in compartment id …" otherwise. */
export function policyScope(compartmentId: string): string {
    return compartmentId.startsWith("ocid1.tenancy.") ? "tenancy" : `compartment id ${compartmentId}`;
}

export interface ServiceGrantInputs {
    /** The site's region: its Object Storage runs the bucket's lifecycle and reads it as a replication source. */
    region: string;
    /** The compartment that holds the site's bucket. */
    compartmentId: string;
    /** Standby only: the region whose Object Storage writes replicas into this site's bucket. */
    replicateFromRegion?: string;
    /** Vault key of the bucket, when there is one. */
    kmsKeyId?: string;
    /** Where the policy is attached; the Vault key must live in its subtree. */
    policyCompartmentId: string;
}

/**
 * The Object Storage service grants of one site. Each site grants its own region's service on its
 * own compartment (lifecycle deletes, and reading the bucket when it is a replication source); the
 * standby adds the source region's service, limited to what replication does. No statement names
 * the other site's compartment, so the policy is valid attached to this site's compartment.
 */
export function serviceGrantStatements(inputs: ServiceGrantInputs): string[] {
    const own = `objectstorage-${inputs.region}`;
    const statements = [`Allow service ${own} to manage object-family in compartment id ${inputs.compartmentId}`];
    if (inputs.replicateFromRegion) {
        const permissions = REPLICATION_PERMISSIONS.map((p) => `request.permission='${p}'`).join(", ");
        statements.push(
            `Allow service objectstorage-${inputs.replicateFromRegion} to manage object-family in compartment id ${inputs.compartmentId} where any {${permissions}}`,
        );
    }
    if (inputs.kmsKeyId) {
        statements.push(`Allow service ${own} to use keys in ${policyScope(inputs.policyCompartmentId)} where target.key.id = '${inputs.kmsKeyId}'`);
    }
    return [...new Set(statements)];
}

/** Policy names are unique per compartment: two clusters, or two stacks, may share one. */
export function serviceGrantPolicyName(clusterName: string, stack: string): string {
    return `etcd-dr-${clusterName}-${stack}-object-storage`;
}

/** One permission the identity that runs `pulumi up` needs, and the resource types it covers. */
export interface IdentityPermission {
    /** The policy statement, with <group>, <site-compartment> and <policy-compartment> to fill in. */
    statement: string;
    why: string;
    /** Pulumi type tokens this statement lets the program create, update and delete. */
    covers: string[];
    /** Only needed when this setting is used. */
    when?: string;
}

const NETWORK_TYPES = [
    "oci:Core/vcn:Vcn",
    "oci:Core/internetGateway:InternetGateway",
    "oci:Core/natGateway:NatGateway",
    "oci:Core/serviceGateway:ServiceGateway",
    "oci:Core/drg:Drg",
    "oci:Core/drgAttachment:DrgAttachment",
    "oci:Core/routeTable:RouteTable",
    "oci:Core/securityList:SecurityList",
    "oci:Core/subnet:Subnet",
    "oci:Core/networkSecurityGroup:NetworkSecurityGroup",
    "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule",
    "oci:Core/remotePeeringConnection:RemotePeeringConnection",
];

const STORAGE_TYPES = [
    "oci:ObjectStorage/bucket:Bucket",
    "oci:ObjectStorage/objectLifecyclePolicy:ObjectLifecyclePolicy",
    "oci:ObjectStorage/preauthrequest:Preauthrequest",
    "oci:ObjectStorage/replicationPolicy:ReplicationPolicy",
];

/** What a tenancy administrator grants the group of the identity (user or CI) that runs `pulumi up`. */
export const PULUMI_IDENTITY_PERMISSIONS: IdentityPermission[] = [
    {
        statement: "Allow group <group> to manage virtual-network-family in compartment id <site-compartment>",
        why: "VCN, gateways, route tables, subnets, NSGs, DRG and its attachment, remote peering connection",
        covers: NETWORK_TYPES,
    },
    {
        statement: "Allow group <group> to manage remote-peering-from in compartment id <site-compartment>",
        why: "the standby's connection requests the peering (the requestor, in the standby's compartment)",
        covers: ["oci:Core/remotePeeringConnection:RemotePeeringConnection"],
    },
    {
        statement: "Allow group <group> to manage remote-peering-to in compartment id <site-compartment>",
        why: "the primary's connection accepts it (the acceptor, in the primary's compartment); the sides stay put when the roles swap",
        covers: ["oci:Core/remotePeeringConnection:RemotePeeringConnection"],
    },
    {
        statement: "Allow group <group> to manage instance-family in compartment id <site-compartment>",
        why: "the nodes and the bastion",
        covers: ["oci:Core/instance:Instance"],
    },
    {
        statement: "Allow group <group> to use volume-family in compartment id <site-compartment>",
        why: "boot volumes created with the instances",
        covers: ["oci:Core/instance:Instance"],
    },
    {
        statement: "Allow group <group> to manage object-family in compartment id <site-compartment>",
        why: "the bucket, its retention and lifecycle rules, the pre-authenticated requests (PAR_MANAGE), the replication policy, and MakeBucketWritable when a standby is promoted; the standby also needs it on the primary's compartment, where the policy lives on the source bucket",
        covers: STORAGE_TYPES,
    },
    {
        statement: "Allow group <group> to manage network-load-balancers in compartment id <site-compartment>",
        why: "the site's Kubernetes API front end over the control-plane nodes",
        covers: [
            "oci:NetworkLoadBalancer/networkLoadBalancer:NetworkLoadBalancer",
            "oci:NetworkLoadBalancer/backendSet:BackendSet",
            "oci:NetworkLoadBalancer/backend:Backend",
            "oci:NetworkLoadBalancer/listener:Listener",
        ],
    },
    {
        statement: "Allow group <group> to manage policies in compartment id <policy-compartment>",
        why: "the Object Storage service grants; written through the home region",
        covers: ["oci:Identity/policy:Policy"],
    },
    {
        statement: "Allow group <group> to inspect compartments in tenancy",
        why: "availability domains, and finding the tenancy (for its home region) from the site's compartment",
        covers: [],
    },
    {
        statement: "Allow group <group> to inspect tenancies in tenancy",
        why: "reading the tenancy's region subscriptions to find its home region",
        covers: [],
        when: "etcd-dr:homeRegion is not set",
    },
    {
        statement: "Allow group <group> to use key-delegate in compartment id <key-compartment> where target.key.id = '<kmsKeyId>'",
        why: "assigning the Vault key to the bucket",
        covers: [],
        when: "etcd-dr:snapshots.kmsKeyId is set",
    },
];

/** The types a policy statement covers, for checking that nothing the program creates is left out. */
export function coveredTypes(permissions: IdentityPermission[] = PULUMI_IDENTITY_PERMISSIONS): Set<string> {
    return new Set(permissions.flatMap((p) => p.covers));
}

/** The identity's policy as an administrator would paste it, one statement per line. */
export function renderIdentityPolicy(permissions: IdentityPermission[] = PULUMI_IDENTITY_PERMISSIONS): string {
    return permissions.map((p) => `${p.statement}${p.when ? `   # only when ${p.when}` : ""}`).join("\n");
}

/** The home region among a tenancy's region subscriptions. */
export function homeRegionOf(subscriptions: { isHomeRegion: boolean; regionName: string }[]): string | undefined {
    return subscriptions.find((s) => s.isHomeRegion)?.regionName;
}
