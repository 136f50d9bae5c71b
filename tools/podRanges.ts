// Gives one of a site's workers another pod range than the same host name has on the other site.
//
// The controller-manager hands out pod ranges in the order nodes register, so two sites built the
// same way usually agree, and sometimes do not (a join retried, nodes registering in another
// order). After a failover the restored Node objects carry the primary's ranges, and a node whose
// range differs must change its flannel subnet and CNI bridge (restore restart-kubelet). The drill
// makes that case certain instead of leaving it to chance: the worker registers again while a
// placeholder Node holds the range it had.

import { cidrTextsOverlap } from "../lib/cidr";
import { LabAccess, Site, waitFor } from "./lab";

export interface PodRangeSkew {
    node: string;
    /** The range the node of that name has on the other site, the one a restore gives it. */
    other: string;
    /** The range it ran with on this site before. */
    before: string;
    /** The range it runs with on this site now. */
    after: string;
}

const PLACEHOLDER = "etcd-dr-drill-placeholder";

interface PodItem {
    metadata: { namespace: string; name: string };
    spec: { hostNetwork?: boolean };
    status: { phase?: string; podIP?: string };
}

function podCidr(lab: LabAccess, site: Site, node: string): string {
    return lab.kubectl(site, `get node ${node} -o 'jsonpath={.spec.podCIDR}' --ignore-not-found`).trim();
}

function podsOn(lab: LabAccess, site: Site, node: string): PodItem[] {
    return (JSON.parse(lab.kubectl(site, `get pods -A --field-selector spec.nodeName=${node} -o json`)) as { items: PodItem[] }).items;
}

/** True when an address, or the address of an interface-style "10.244.4.1/24", lies inside `range`. */
export function addressIn(address: string, range: string): boolean {
    return cidrTextsOverlap(`${address.split("/")[0]}/32`, range);
}

/** True when every pod-network pod on the node runs with an address inside `range`. */
export function podsWithin(pods: PodItem[], range: string): boolean {
    return pods.filter((p) => !p.spec.hostNetwork)
        .every((p) => p.status.phase === "Running" && !!p.status.podIP && addressIn(p.status.podIP, range));
}

function flannelSubnet(lab: LabAccess, site: Site, node: string): string | undefined {
    return /^FLANNEL_SUBNET=(\S+)$/m.exec(lab.ssh(site, node, "cat /run/flannel/subnet.env").stdout)?.[1];
}

export async function skewPodRange(lab: LabAccess, site: Site, node: string, otherSite: Site): Promise<PodRangeSkew> {
    const other = podCidr(lab, otherSite, node);
    const before = podCidr(lab, site, node);
    if (!before) throw new Error(`${site}/${node} has no pod range to move away from`);
    lab.ok(site, node, "systemctl stop kubelet");
    lab.kubectl(site, `delete node ${node} ${PLACEHOLDER} --ignore-not-found --wait=true`);
    lab.kubectl(site, "create -f -", JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: PLACEHOLDER } }));
    await waitFor(`a pod range for the placeholder Node on ${site}`, 60_000, () => podCidr(lab, site, PLACEHOLDER) || undefined);
    lab.ok(site, node, "systemctl start kubelet");
    const after = await waitFor(`${site}/${node} registered again with a pod range`, 120_000, () => podCidr(lab, site, node) || undefined);
    lab.kubectl(site, `delete node ${PLACEHOLDER} --wait=false`);
    if (cidrTextsOverlap(before, after) || cidrTextsOverlap(other, after)) {
        throw new Error(`${site}/${node} registered again with pod range ${after}; it had ${before} and has ${other} on ${otherSite}`);
    }

    // Flannel reads the range once, at start; the bridge keeps the old address until removed, and
    // pods already running keep their old addresses until they are made again.
    lab.kubectl(site, `-n kube-flannel delete pod --field-selector spec.nodeName=${node} --wait=false`);
    await waitFor(`flannel on ${site}/${node} to run ${after}`, 120_000, () => {
        const subnet = flannelSubnet(lab, site, node);
        return subnet && addressIn(subnet, after) ? subnet : undefined;
    });
    lab.ok(site, node, "ip link delete cni0 2>/dev/null || true");
    for (const pod of podsOn(lab, site, node).filter((p) => !p.spec.hostNetwork)) {
        lab.kubectl(site, `-n ${pod.metadata.namespace} delete pod ${pod.metadata.name} --wait=false`);
    }
    await waitFor(`the pods on ${site}/${node} running in ${after}`, 180_000, () => (podsWithin(podsOn(lab, site, node), after) ? true : undefined));
    return { node, other, before, after };
}

/**
 * After a failover: the skewed node runs the restored range, flannel's subnet and its pods alike.
 * Pods the kubelet started on the old bridge before restart-kubelet removed it keep their old
 * addresses until reconcile's roll replaces them, so this waits for the roll (up to `timeoutMs`).
 */
export async function checkRestoredRange(lab: LabAccess, site: Site, skew: PodRangeSkew, timeoutMs = 300_000): Promise<void> {
    let last = "";
    try {
        await waitFor(`${site}/${skew.node} on its restored pod range ${skew.other}`, timeoutMs, () => {
            const range = podCidr(lab, site, skew.node);
            const subnet = flannelSubnet(lab, site, skew.node) ?? "none";
            const pods = podsOn(lab, site, skew.node);
            if (range === skew.other && addressIn(subnet, range) && podsWithin(pods, range)) return true;
            const addresses = pods.filter((p) => !p.spec.hostNetwork).map((p) => `${p.metadata.name} ${p.status.phase} ${p.status.podIP ?? "-"}`);
            last = `Node range ${range} (restored: ${skew.other}), flannel ${subnet}, pods ${addresses.join(", ") || "none"}`;
            return undefined;
        });
    } catch (error) {
        throw new Error(`${site}/${skew.node} after the failover: ${last} (${(error as Error).message})`);
    }
}
