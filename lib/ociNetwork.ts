// ICMP the nodes must receive. OCI VNICs run a 9000-byte MTU while the DRG, NAT and internet
// paths carry 1500: without "fragmentation needed" messages, path MTU discovery fails and large
// transfers (image pulls, snapshot uploads, the peer site's API) hang. OCI's own default security
// list admits the same two rules.

export interface IcmpRule {
    /** Stable part of the rule's resource name. */
    key: string;
    description: string;
    source: string;
    type: number;
    code?: number;
}

const cidrKey = (cidr: string) => cidr.replace(/[./]/g, "-");

export function icmpRules(vcnCidr: string, peerVcnCidr?: string): IcmpRule[] {
    const rules: IcmpRule[] = [
        { key: "icmp-3-4-from-anywhere", description: "path MTU discovery (fragmentation needed)", source: "0.0.0.0/0", type: 3, code: 4 },
        { key: `icmp-3-from-${cidrKey(vcnCidr)}`, description: "destination unreachable from the VCN", source: vcnCidr, type: 3 },
    ];
    if (peerVcnCidr) {
        rules.push({ key: `icmp-3-from-${cidrKey(peerVcnCidr)}`, description: "destination unreachable from the peer site", source: peerVcnCidr, type: 3 });
    }
    return rules;
}
