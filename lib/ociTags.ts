// The free-form tags every OCI resource of a site carries: which cluster, which site (stack) and
// which role, so cost reports, the console's resource search, alarms and tag-based policies can
// tell the two sites and their roles apart.

export interface SiteTagInputs {
    cluster: string;
    site: string;
    role: string;
}

export const TAG_KEYS = { cluster: "etcd-dr-cluster", site: "etcd-dr-site", role: "etcd-dr-role" } as const;

export function siteTags(inputs: SiteTagInputs): Record<string, string> {
    return { [TAG_KEYS.cluster]: inputs.cluster, [TAG_KEYS.site]: inputs.site, [TAG_KEYS.role]: inputs.role };
}

/**
 * The OCI resource types the program creates whose inputs take `freeformTags`. Rules, policies on
 * buckets and pre-authenticated requests take none. A unit test compares this list with the
 * provider's own type definitions for every type the program registers, so a new resource type
 * that can be tagged and is missing here fails the tests.
 */
export const TAGGABLE_TYPES: readonly string[] = [
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
    "oci:Core/remotePeeringConnection:RemotePeeringConnection",
    "oci:Core/instance:Instance",
    "oci:ObjectStorage/bucket:Bucket",
    "oci:Identity/policy:Policy",
    "oci:NetworkLoadBalancer/networkLoadBalancer:NetworkLoadBalancer",
];

export function isTaggable(type: string): boolean {
    return TAGGABLE_TYPES.includes(type);
}
