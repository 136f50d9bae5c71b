// The one shape of a node every layer shares: a host name and what it does in the cluster.
// Host names are the identity that survives a restore (etcd member names, Node objects), so
// every richer node type (planned address, SSH connection, existing host) extends this one.

export const HOST_ROLES = ["control-plane", "worker"] as const;
export type HostRole = (typeof HOST_ROLES)[number];

export interface Host {
    name: string;
    role: HostRole;
}

export function isHostRole(value: unknown): value is HostRole {
    return (HOST_ROLES as readonly unknown[]).includes(value);
}

export function controlPlaneOf<T extends Host>(hosts: T[]): T[] {
    return hosts.filter((h) => h.role === "control-plane");
}

export function workersOf<T extends Host>(hosts: T[]): T[] {
    return hosts.filter((h) => h.role === "worker");
}
