import * as pulumi from "@pulumi/pulumi";
import { NodePlatformSettings } from "../../lib/cloudinit";
import { planHosts, PlannedHost, siteSubnets } from "../../lib/layout";
import { MirroredSpec } from "../../lib/spec";
import { ClusterBootstrap } from "../k8s/clusterBootstrap";
import { LAB_SERVICE_ADDRESS, labGateway, labSiteCidr, LabSiteName } from "./cloud";
import { LabInstances } from "./instances";
import { LabPeering } from "./peering";

/** What a lab site is: which of the lab's two networks, and the key its instances accept. */
export interface LabSiteSettings {
    site: LabSiteName;
    sshPublicKey: string;
}

export interface LabSiteArgs {
    settings: LabSiteSettings;
    spec: MirroredSpec;
    /** The checkout whose lab/ tools run the local cloud. */
    labRoot: string;
    /** True on the standby: it makes the link between the two site networks. */
    peer: boolean;
}

/**
 * What the lab's instances need beyond an OCI instance, all of it because they are containers on a
 * shared cgroup v1 kernel (shared/notes/kubelet-in-nspawn.md) or because the lab's mirror speaks
 * plain HTTP: packages and images come from the lab's service address, as from pkgs.k8s.io and
 * registry.k8s.io on OCI.
 */
export function labNodePlatform(site: LabSiteName): NodePlatformSettings {
    return {
        siteCidr: labSiteCidr(site),
        osPackageRepo: `http://${LAB_SERVICE_ADDRESS}:8080/debian`,
        plainHttpRegistry: `${LAB_SERVICE_ADDRESS}:5000`,
        // runc in a container may not lower OOM scores below its own (W6).
        restrictOomScoreAdj: true,
        // The host is cgroup v1; Kubernetes 1.35 runs there only when told to, and kubeadm must skip its check.
        kubelet: { failCgroupV1: false },
        ignorePreflightErrors: ["SystemVerification"],
        // The conntrack table size is the host's, shared by every instance: kube-proxy leaves it alone.
        kubeProxy: { conntrack: { maxPerCore: 0 } },
    };
}

/** One lab site: instances at the planned addresses, bootstrapped by the same cloud-init as on OCI. */
export class LabSite extends pulumi.ComponentResource {
    readonly hosts: PlannedHost[];
    readonly instances: LabInstances;
    /** The kubeadm bootstrap: user data without secrets; the nodes are joined over SSH (ClusterJoin). */
    readonly kubeadm: ClusterBootstrap;
    readonly peering?: LabPeering;

    constructor(name: string, args: LabSiteArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:lab:Site", name, {}, opts);
        const child = { parent: this };
        const { site, sshPublicKey } = args.settings;
        this.hosts = planHosts(args.spec.topology, siteSubnets(labSiteCidr(site)));
        // As on OCI: the user data carries no join credentials; Pulumi joins the nodes over SSH, one
        // control-plane node at a time (etcd takes one learner at a time).
        const bootstrap = new ClusterBootstrap(`${name}-kubeadm`, { spec: args.spec, hosts: this.hosts, platform: labNodePlatform(site), joinOverSsh: true }, child);
        this.kubeadm = bootstrap;
        this.instances = new LabInstances(`${name}-instances`, {
            site,
            hosts: this.hosts,
            gateway: labGateway(site),
            sshPublicKey,
            cloudConfig: bootstrap.cloudConfig,
            labRoot: args.labRoot,
        }, child);
        if (args.peer) {
            this.peering = new LabPeering(`${name}-peering`, { labRoot: args.labRoot }, child);
        }
        this.registerOutputs({ hosts: this.hosts.map((h) => h.name) });
    }
}
