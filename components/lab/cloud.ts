// The lab's local cloud (lab/cloud.sh, lab/instance.sh) as the lab components see it: fixed site
// networks on this host, and the tools that create instances and links in them.

export const LAB_SITES = ["primary", "standby"] as const;
export type LabSiteName = (typeof LAB_SITES)[number];

/** The lab's service address: Kubernetes packages and images (as pkgs.k8s.io and registry.k8s.io are for OCI). */
export const LAB_SERVICE_ADDRESS = "10.250.0.1";

export function labSiteIndex(site: LabSiteName): number {
    return site === "primary" ? 1 : 2;
}

/** The site's network, as lab/instance.sh makes it: the host is .1, the peering router .254. */
export function labSiteCidr(site: LabSiteName): string {
    return `10.250.${labSiteIndex(site)}.0/24`;
}

export function labGateway(site: LabSiteName): string {
    return `10.250.${labSiteIndex(site)}.1`;
}

/** A lab tool, run from the checkout's root (the commands' `dir`). */
export function labCommand(tool: "instance.sh" | "cloud.sh" | "store.sh"): string {
    return `lab/${tool}`;
}
