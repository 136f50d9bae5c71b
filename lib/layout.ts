// Where each node of a site lives: subnets carved from the VCN and a fixed private address per
// host name. Fixed addresses let cloud-init write /etc/hosts before any instance exists.

import { formatCidr, hostAddress, parseCidr, subnet } from "./cidr";
import { Host, HostRole } from "./hosts";
import { Topology } from "./spec";

/** A host of a site built by the program, at its fixed private address. */
export interface PlannedHost extends Host {
    ip: string;
}

export interface SiteSubnets {
    controlPlane: string;
    workers: string;
    bastion: string;
}

/** First host offset inside a subnet; the low addresses stay free for gateways and load balancers. */
export const FIRST_HOST_OFFSET = 10;

/** Where a site's API front end (its load balancer) sits in the control-plane subnet. */
export const API_FRONT_END_OFFSET = 5;

/** The fixed address of the site's API front end, which the API alias resolves to on every node. */
export function apiFrontEndAddress(subnets: SiteSubnets): string {
    const parsed = parseCidr(subnets.controlPlane);
    if (!parsed) {
        throw new Error(`invalid subnet ${subnets.controlPlane}`);
    }
    return hostAddress(parsed, API_FRONT_END_OFFSET);
}

/** The quarters of the VCN: control plane, workers, bastion (the fourth is left for growth). */
export function siteSubnets(vcnCidr: string): SiteSubnets {
    const vcn = parseCidr(vcnCidr);
    if (!vcn) {
        throw new Error(`invalid VCN CIDR ${vcnCidr}`);
    }
    return {
        controlPlane: formatCidr(subnet(vcn, 2, 0)),
        workers: formatCidr(subnet(vcn, 2, 1)),
        bastion: formatCidr(subnet(vcn, 2, 2)),
    };
}

export function planHosts(topology: Topology, subnets: SiteSubnets): PlannedHost[] {
    const place = (names: string[], role: HostRole, cidr: string): PlannedHost[] => {
        const parsed = parseCidr(cidr);
        if (!parsed) {
            throw new Error(`invalid subnet ${cidr}`);
        }
        return names.map((name, i) => ({ name, role, ip: hostAddress(parsed, FIRST_HOST_OFFSET + i) }));
    };
    return [
        ...place(topology.controlPlane, "control-plane", subnets.controlPlane),
        ...place(topology.workers, "worker", subnets.workers),
    ];
}
