// Naming rules shared by the config loader and the components.

/** RFC 1123 label, lower case: what Kubernetes node names, etcd member names and OCI hostnameLabel all accept. */
const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** OCI VCN and subnet DNS labels: letters and digits, starting with a letter, at most 15 characters. */
const OCI_DNS_LABEL = /^[a-z][a-z0-9]{0,14}$/;

export function isDnsLabel(name: string): boolean {
    return DNS_LABEL.test(name);
}

export function isOciDnsLabel(name: string): boolean {
    return OCI_DNS_LABEL.test(name);
}

/** Bucket names are unique per namespace and region; include the stack so both regions read clearly. */
export function bucketName(clusterName: string, stack: string): string {
    return `${clusterName}-etcd-snapshots-${stack}`;
}


/** Stack name from a fully qualified stack reference ("org/project/stack" or "stack"). */
export function shortStackName(reference: string): string {
    const parts = reference.split("/");
    return parts[parts.length - 1];
}
