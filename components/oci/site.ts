import * as pulumi from "@pulumi/pulumi";
import { apiFrontEndAddress, planHosts, PlannedHost, siteSubnets } from "../../lib/layout";
import { serviceGrantStatements } from "../../lib/ociIam";
import { siteTags } from "../../lib/ociTags";
import { MirroredSpec } from "../../lib/spec";
import { ClusterBootstrap } from "../k8s/clusterBootstrap";
import { ApiFrontEnd } from "./apiFrontEnd";
import { Network } from "./network";
import { Nodes, NodeOutput } from "./nodes";
import { Peering } from "./peering";
import { homeRegion, regionProvider } from "./providers";
import { ServiceGrants } from "./serviceGrants";
import { SnapshotStore, SnapshotStoreArgs } from "./snapshotStore";
import { tagResources } from "./tagging";

/** What a standby needs from the primary's stack outputs. */
export interface PrimarySite {
    region: string;
    compartmentId: string;
    vcnCidr: string;
    rpcId: string;
    bucketName: string;
    bucketNamespace: string;
}

/** The OCI network a site lives in and who may reach it. */
export interface OciNetworkSettings {
    compartmentId: string;
    vcnCidr: string;
    /** The other site's VCN, routed through the DRG; the standby learns it from the primary. */
    peerVcnCidr?: string;
    operatorCidr?: string;
    bastion: boolean;
    /** TCP ports the other site's VCN may reach on this site's nodes. */
    allowFromPeer: number[];
    nodeImageId: string;
    sshPublicKey: string;
}

/** Where the site's IAM is written. */
export interface OciIamSettings {
    /** The tenancy's home region, the only one that accepts IAM writes; looked up when absent. */
    homeRegion?: string;
    /** The tenancy, when config names it (`oci:tenancyOcid`); otherwise found from the compartment. */
    tenancyId?: string;
    /** Where the site's Object Storage grants are attached: its compartment, or an ancestor of it. */
    policyCompartmentId: string;
}

/** Everything only the `oci` platform configures. */
export interface OciSiteSettings extends OciNetworkSettings {
    iam: OciIamSettings;
    /** Days a snapshot object stays immutable in the active site's bucket; the retention days when absent. */
    immutableDays?: number;
    /** Pulumi runs where it reaches the nodes' private addresses (VPN, FastConnect, a runner in the VCN). */
    privateAccess: boolean;
}

export interface OciSiteArgs {
    stack: string;
    region: string;
    role: "primary" | "standby";
    network: OciNetworkSettings;
    iam: OciIamSettings;
    /** Snapshot store settings; `nodeAccess` follows the site's role. */
    store: Pick<SnapshotStoreArgs, "nodeAccess" | "prefix" | "retentionDays" | "immutableDays" | "parExpiresAt" | "kmsKeyId" | "promote">;
    spec: MirroredSpec;
    /** Standby only: the primary's site, from its stack outputs. */
    primary?: PrimarySite;
}

/**
 * One complete OCI site: network and DRG, peering, snapshot store and its IAM grants, and the kubeadm
 * nodes. Every OCI resource in it carries the cluster, site and role tags.
 */
export class OciSite extends pulumi.ComponentResource {
    readonly network: Network;
    readonly grants: ServiceGrants;
    readonly peering: Peering;
    readonly store: SnapshotStore;
    readonly nodes: Nodes;
    readonly apiFrontEnd: ApiFrontEnd;
    /** The kubeadm bootstrap: user data without secrets; the nodes are joined over SSH. */
    readonly kubeadm: ClusterBootstrap;
    readonly hosts: PlannedHost[];
    readonly nodeOutputs: NodeOutput[];
    readonly peerVcnCidr: string;

    constructor(name: string, args: OciSiteArgs, opts?: pulumi.ComponentResourceOptions) {
        const tags = siteTags({ cluster: args.spec.topology.clusterName, site: args.stack, role: args.role });
        super("etcd-dr:site:Site", name, {}, pulumi.mergeOptions(opts, { transformations: [tagResources(tags)] }));
        const { network: config, spec, primary } = args;
        const child = { parent: this };
        const peerVcnCidr = config.peerVcnCidr ?? primary?.vcnCidr;
        if (!peerVcnCidr) {
            throw new Error("a site needs its peer's VCN CIDR (peerVcnCidr on the primary, the primary's outputs on the standby)");
        }
        this.peerVcnCidr = peerVcnCidr;

        this.network = new Network(`${name}-network`, {
            compartmentId: config.compartmentId,
            vcnCidr: config.vcnCidr,
            peerVcnCidr,
            dnsLabel: spec.topology.vcnDnsLabel,
            bastion: config.bastion,
            operatorCidr: config.operatorCidr,
            allowFromPeer: config.allowFromPeer,
            cni: spec.cluster.cni,
        }, child);

        this.peering = new Peering(`${name}-peering`, {
            compartmentId: config.compartmentId,
            drgId: this.network.drg.id,
            peer: primary ? { connectionId: primary.rpcId, region: primary.region } : undefined,
        }, { parent: this, dependsOn: [this.network.drgAttachment] });

        // The grants stay as they were on a promotion: IAM is written in the home region, which may
        // be the region that failed, and the replication grant does no harm once nothing replicates.
        const home = regionProvider(`${name}-home-region`, homeRegion({ ...args.iam, compartmentId: config.compartmentId }, child), child);
        this.grants = new ServiceGrants(`${name}-iam`, {
            clusterName: spec.topology.clusterName,
            stack: args.stack,
            compartmentId: args.iam.policyCompartmentId,
            statements: serviceGrantStatements({
                region: args.region,
                compartmentId: config.compartmentId,
                replicateFromRegion: primary?.region,
                kmsKeyId: args.store.kmsKeyId,
                policyCompartmentId: args.iam.policyCompartmentId,
            }),
            homeProvider: home,
            description: `etcd-dr ${spec.topology.clusterName}/${args.stack}: Object Storage may manage the etcd snapshot bucket in ${args.region}`,
        }, child);

        this.store = new SnapshotStore(`${name}-snapshots`, {
            compartmentId: config.compartmentId,
            clusterName: spec.topology.clusterName,
            stack: args.stack,
            region: args.region,
            ...args.store,
            // A promoted standby's bucket replicates from nothing: it is the active site's now.
            replicateFrom: primary && !args.store.promote
                ? { bucket: primary.bucketName, namespace: primary.bucketNamespace, region: primary.region, compartmentId: primary.compartmentId }
                : undefined,
            grants: this.grants.ready,
        }, child);

        const subnets = siteSubnets(config.vcnCidr);
        this.hosts = planHosts(spec.topology, subnets);
        this.apiFrontEnd = new ApiFrontEnd(`${name}-api`, {
            compartmentId: config.compartmentId,
            subnetId: this.network.controlPlaneSubnet.id,
            nsgId: this.network.nsgs.apiFrontEnd.id,
            address: apiFrontEndAddress(subnets),
            controlPlane: this.hosts.filter((h) => h.role === "control-plane"),
        }, child);
        // Instance metadata is readable by every process on a node (and through the API by whoever
        // may read the instance): it carries no join credentials (F10).
        const bootstrap = new ClusterBootstrap(`${name}-kubeadm`, {
            spec,
            hosts: this.hosts,
            platform: { siteCidr: config.vcnCidr },
            apiAddress: this.apiFrontEnd.address,
            joinOverSsh: true,
        }, child);
        this.kubeadm = bootstrap;

        this.nodes = new Nodes(`${name}-nodes`, {
            compartmentId: config.compartmentId,
            hosts: this.hosts,
            nodeSize: spec.topology.nodeSize,
            imageId: config.nodeImageId,
            sshPublicKey: config.sshPublicKey,
            controlPlaneSubnetId: this.network.controlPlaneSubnet.id,
            workerSubnetId: this.network.workerSubnet.id,
            controlPlaneNsgId: this.network.nsgs.controlPlane.id,
            workerNsgId: this.network.nsgs.workers.id,
            userData: bootstrap.userData,
            bastion: this.network.bastionSubnet
                ? { subnetId: this.network.bastionSubnet.id, nsgId: this.network.nsgs.bastion.id }
                : undefined,
        }, child);
        this.nodeOutputs = this.nodes.nodes;

        this.registerOutputs({
            vcnId: this.network.vcn.id,
            drgId: this.network.drg.id,
            rpcId: this.peering.connection.id,
            bucket: this.store.bucket.name,
            apiFrontEnd: this.apiFrontEnd.address,
        });
    }
}
