// Which traffic each network security group admits. Derived from the site's settings by a pure
// function so the rules can be reviewed (and tested) without OCI.

import { Cni } from "./spec";

export type NsgName = "controlPlane" | "workers" | "bastion" | "apiFrontEnd";

/** OCI protocol numbers as strings, as the API wants them. */
export const PROTOCOL = { tcp: "6", udp: "17", ipip: "4" } as const;

export type RuleSource = { cidr: string } | { nsg: NsgName };

export interface IngressRule {
    nsg: NsgName;
    description: string;
    protocol: (typeof PROTOCOL)[keyof typeof PROTOCOL];
    source: RuleSource;
    ports?: [number, number];
}

export interface SecurityInputs {
    vcnCidr: string;
    peerVcnCidr?: string;
    operatorCidr?: string;
    bastion: boolean;
    allowFromPeer: number[];
    cni: Cni;
}

const NODE_GROUPS: NsgName[] = ["controlPlane", "workers"];

function cniRules(cni: Cni, vcnCidr: string): Omit<IngressRule, "nsg">[] {
    const from = { cidr: vcnCidr };
    switch (cni) {
        case "calico":
            return [
                { description: "calico BGP", protocol: PROTOCOL.tcp, source: from, ports: [179, 179] },
                { description: "calico IP-in-IP", protocol: PROTOCOL.ipip, source: from },
                { description: "calico VXLAN", protocol: PROTOCOL.udp, source: from, ports: [4789, 4789] },
                { description: "calico typha", protocol: PROTOCOL.tcp, source: from, ports: [5473, 5473] },
            ];
        case "flannel":
            return [{ description: "flannel VXLAN", protocol: PROTOCOL.udp, source: from, ports: [8472, 8472] }];
        case "cilium":
            return [
                { description: "cilium VXLAN", protocol: PROTOCOL.udp, source: from, ports: [8472, 8472] },
                { description: "cilium health", protocol: PROTOCOL.tcp, source: from, ports: [4240, 4240] },
            ];
    }
}

function sshSources(inputs: SecurityInputs): RuleSource[] {
    const sources: RuleSource[] = [];
    if (inputs.bastion) sources.push({ nsg: "bastion" });
    if (inputs.operatorCidr) sources.push({ cidr: inputs.operatorCidr });
    return sources;
}

export function ingressRules(inputs: SecurityInputs): IngressRule[] {
    const tcp = PROTOCOL.tcp;
    const vcn = { cidr: inputs.vcnCidr };
    const rules: IngressRule[] = [];
    for (const nsg of NODE_GROUPS) {
        for (const source of sshSources(inputs)) {
            rules.push({ nsg, description: "SSH for operators and Pulumi commands", protocol: tcp, source, ports: [22, 22] });
        }
        rules.push({ nsg, description: "kubelet API", protocol: tcp, source: { nsg: "controlPlane" }, ports: [10250, 10250] });
        rules.push(...cniRules(inputs.cni, inputs.vcnCidr).map((r) => ({ ...r, nsg })));
        if (inputs.peerVcnCidr) {
            for (const port of inputs.allowFromPeer) {
                rules.push({ nsg, description: `port ${port} from the peer site`, protocol: tcp, source: { cidr: inputs.peerVcnCidr }, ports: [port, port] });
            }
        }
    }
    rules.push({ nsg: "controlPlane", description: "kube-apiserver", protocol: tcp, source: vcn, ports: [6443, 6443] });
    if (inputs.operatorCidr) {
        rules.push({ nsg: "controlPlane", description: "kube-apiserver for operators", protocol: tcp, source: { cidr: inputs.operatorCidr }, ports: [6443, 6443] });
    }
    // The site's API front end (a network load balancer over the control plane, F12): whoever may
    // reach the API servers may reach it; it reaches them from its own address in the VCN.
    rules.push({ nsg: "apiFrontEnd", description: "Kubernetes API front end", protocol: tcp, source: vcn, ports: [6443, 6443] });
    if (inputs.peerVcnCidr && inputs.allowFromPeer.includes(6443)) {
        rules.push({ nsg: "apiFrontEnd", description: "Kubernetes API front end from the peer site", protocol: tcp, source: { cidr: inputs.peerVcnCidr }, ports: [6443, 6443] });
    }
    if (inputs.operatorCidr) {
        rules.push({ nsg: "apiFrontEnd", description: "Kubernetes API front end for operators", protocol: tcp, source: { cidr: inputs.operatorCidr }, ports: [6443, 6443] });
    }
    rules.push({ nsg: "controlPlane", description: "etcd client and peer", protocol: tcp, source: { nsg: "controlPlane" }, ports: [2379, 2380] });
    rules.push({ nsg: "controlPlane", description: "controller-manager and scheduler", protocol: tcp, source: { nsg: "controlPlane" }, ports: [10257, 10259] });
    rules.push({ nsg: "workers", description: "kubelet from workers (logs, exec)", protocol: tcp, source: { nsg: "workers" }, ports: [10250, 10250] });
    rules.push({ nsg: "workers", description: "NodePort services", protocol: tcp, source: vcn, ports: [30000, 32767] });
    if (inputs.bastion && inputs.operatorCidr) {
        rules.push({ nsg: "bastion", description: "SSH to the bastion", protocol: tcp, source: { cidr: inputs.operatorCidr }, ports: [22, 22] });
    }
    return rules;
}

const PROTOCOL_NAMES: Record<string, string> = { "6": "tcp", "17": "udp", "4": "ipip" };

/** A stable, unique name for a rule, so adding one rule never renames (and replaces) the others. */
export function ruleKey(rule: IngressRule): string {
    const source = "cidr" in rule.source ? rule.source.cidr.replace(/[./]/g, "-") : rule.source.nsg;
    const ports = rule.ports ? (rule.ports[0] === rule.ports[1] ? `${rule.ports[0]}` : `${rule.ports[0]}-${rule.ports[1]}`) : "any";
    return `${rule.nsg}-${PROTOCOL_NAMES[rule.protocol]}-${ports}-from-${source}`;
}
