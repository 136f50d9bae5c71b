import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { siteSubnets } from "../../lib/layout";
import { icmpRules } from "../../lib/ociNetwork";
import { ingressRules, IngressRule, NsgName, ruleKey } from "../../lib/security";
import { Cni } from "../../lib/spec";

export interface NetworkArgs {
    compartmentId: pulumi.Input<string>;
    vcnCidr: string;
    /** The other site's VCN, routed through the DRG. */
    peerVcnCidr?: string;
    /** The same on both sites, so node FQDNs differ only by region. */
    dnsLabel: string;
    bastion: boolean;
    operatorCidr?: string;
    allowFromPeer: number[];
    cni: Cni;
}

/**
 * VCN, gateways, route tables, subnets, network security groups, and the DRG the peering rides on.
 * Subnets carry an empty security list so that only the NSG rules below admit traffic.
 */
export class Network extends pulumi.ComponentResource {
    readonly vcn: oci.core.Vcn;
    readonly drg: oci.core.Drg;
    readonly drgAttachment: oci.core.DrgAttachment;
    readonly controlPlaneSubnet: oci.core.Subnet;
    readonly workerSubnet: oci.core.Subnet;
    readonly bastionSubnet?: oci.core.Subnet;
    readonly nsgs: Record<NsgName, oci.core.NetworkSecurityGroup>;
    readonly subnetCidrs: ReturnType<typeof siteSubnets>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:network:Network", name, {}, opts);
        const child = { parent: this };
        const compartmentId = args.compartmentId;
        this.subnetCidrs = siteSubnets(args.vcnCidr);

        this.vcn = new oci.core.Vcn(`${name}-vcn`, {
            compartmentId,
            cidrBlocks: [args.vcnCidr],
            dnsLabel: args.dnsLabel,
            displayName: `${name}-vcn`,
        }, child);
        const vcnId = this.vcn.id;

        const internet = new oci.core.InternetGateway(`${name}-igw`, { compartmentId, vcnId, enabled: true, displayName: `${name}-igw` }, child);
        const nat = new oci.core.NatGateway(`${name}-nat`, { compartmentId, vcnId, displayName: `${name}-nat` }, child);
        const services = oci.core.getServicesOutput({}, child).services.apply((all) => {
            const network = all.find((s) => /All .* Services In Oracle Services Network/i.test(s.name));
            if (!network) {
                throw new Error("OCI reports no 'All Services In Oracle Services Network' service in this region");
            }
            return network;
        });
        const serviceGateway = new oci.core.ServiceGateway(`${name}-sgw`, {
            compartmentId,
            vcnId,
            services: [{ serviceId: services.id }],
            displayName: `${name}-sgw`,
        }, child);

        this.drg = new oci.core.Drg(`${name}-drg`, { compartmentId, displayName: `${name}-drg` }, child);
        this.drgAttachment = new oci.core.DrgAttachment(`${name}-drg-attachment`, {
            drgId: this.drg.id,
            displayName: `${name}-drg-attachment`,
            networkDetails: { id: vcnId, type: "VCN" },
        }, child);

        const peerRoute = args.peerVcnCidr
            ? [{ destination: args.peerVcnCidr, destinationType: "CIDR_BLOCK", networkEntityId: this.drg.id, description: "peer site through the DRG" }]
            : [];
        const privateRoutes = new oci.core.RouteTable(`${name}-private-rt`, {
            compartmentId,
            vcnId,
            displayName: `${name}-private-rt`,
            routeRules: [
                { destination: "0.0.0.0/0", destinationType: "CIDR_BLOCK", networkEntityId: nat.id, description: "outbound through NAT" },
                { destination: services.cidrBlock, destinationType: "SERVICE_CIDR_BLOCK", networkEntityId: serviceGateway.id, description: "Oracle services (Object Storage)" },
                ...peerRoute,
            ],
        }, { parent: this, dependsOn: [this.drgAttachment] });
        const publicRoutes = new oci.core.RouteTable(`${name}-public-rt`, {
            compartmentId,
            vcnId,
            displayName: `${name}-public-rt`,
            routeRules: [
                { destination: "0.0.0.0/0", destinationType: "CIDR_BLOCK", networkEntityId: internet.id, description: "internet" },
                ...peerRoute,
            ],
        }, { parent: this, dependsOn: [this.drgAttachment] });

        const nsgOnly = new oci.core.SecurityList(`${name}-nsg-only`, {
            compartmentId,
            vcnId,
            displayName: `${name}-nsg-only`,
            egressSecurityRules: [{ destination: "0.0.0.0/0", protocol: "all", description: "egress is governed by NSGs" }],
        }, child);

        const makeSubnet = (role: string, cidr: string, isPublic: boolean, dnsLabel: string) =>
            new oci.core.Subnet(`${name}-${role}`, {
                compartmentId,
                vcnId,
                cidrBlock: cidr,
                dnsLabel,
                displayName: `${name}-${role}`,
                prohibitPublicIpOnVnic: !isPublic,
                routeTableId: isPublic ? publicRoutes.id : privateRoutes.id,
                securityListIds: [nsgOnly.id],
            }, child);
        this.controlPlaneSubnet = makeSubnet("control-plane", this.subnetCidrs.controlPlane, false, "cp");
        this.workerSubnet = makeSubnet("workers", this.subnetCidrs.workers, false, "workers");
        if (args.bastion) {
            this.bastionSubnet = makeSubnet("bastion", this.subnetCidrs.bastion, true, "bastion");
        }

        const makeNsg = (group: NsgName) =>
            new oci.core.NetworkSecurityGroup(`${name}-${group}-nsg`, { compartmentId, vcnId, displayName: `${name}-${group}` }, child);
        this.nsgs = { controlPlane: makeNsg("controlPlane"), workers: makeNsg("workers"), bastion: makeNsg("bastion"), apiFrontEnd: makeNsg("apiFrontEnd") };
        this.createRules(name, ingressRules(args));
        this.createIcmpRules(name, args.vcnCidr, args.peerVcnCidr);

        this.registerOutputs({
            vcnId,
            drgId: this.drg.id,
            controlPlaneSubnetId: this.controlPlaneSubnet.id,
            workerSubnetId: this.workerSubnet.id,
        });
    }

    private createRules(name: string, rules: IngressRule[]): void {
        for (const rule of rules) {
            const portRange = rule.ports ? { destinationPortRange: { min: rule.ports[0], max: rule.ports[1] } } : undefined;
            const source = "cidr" in rule.source
                ? { source: rule.source.cidr, sourceType: "CIDR_BLOCK" }
                : { source: this.nsgs[rule.source.nsg].id, sourceType: "NETWORK_SECURITY_GROUP" };
            new oci.core.NetworkSecurityGroupSecurityRule(`${name}-${ruleKey(rule)}`, {
                networkSecurityGroupId: this.nsgs[rule.nsg].id,
                direction: "INGRESS",
                protocol: rule.protocol,
                description: rule.description,
                ...source,
                tcpOptions: rule.protocol === "6" ? portRange : undefined,
                udpOptions: rule.protocol === "17" ? portRange : undefined,
            }, { parent: this });
        }
        for (const group of Object.keys(this.nsgs) as NsgName[]) {
            new oci.core.NetworkSecurityGroupSecurityRule(`${name}-${group}-out`, {
                networkSecurityGroupId: this.nsgs[group].id,
                direction: "EGRESS",
                protocol: "all",
                destination: "0.0.0.0/0",
                destinationType: "CIDR_BLOCK",
                description: "all egress",
            }, { parent: this });
        }
    }

    private createIcmpRules(name: string, vcnCidr: string, peerVcnCidr?: string): void {
        for (const group of Object.keys(this.nsgs) as NsgName[]) {
            for (const rule of icmpRules(vcnCidr, peerVcnCidr)) {
                new oci.core.NetworkSecurityGroupSecurityRule(`${name}-${group}-${rule.key}`, {
                    networkSecurityGroupId: this.nsgs[group].id,
                    direction: "INGRESS",
                    protocol: "1",
                    description: rule.description,
                    source: rule.source,
                    sourceType: "CIDR_BLOCK",
                    icmpOptions: { type: rule.type, code: rule.code },
                }, { parent: this });
            }
        }
    }
}
