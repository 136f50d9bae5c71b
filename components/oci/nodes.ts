import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { HostRole } from "../../lib/hosts";
import { PlannedHost } from "../../lib/layout";
import { shapeConfigFor } from "../../lib/ociCompute";
import { NodeSize } from "../../lib/spec";

export interface NodesArgs {
    compartmentId: pulumi.Input<string>;
    hosts: PlannedHost[];
    nodeSize: NodeSize;
    imageId: string;
    sshPublicKey: string;
    controlPlaneSubnetId: pulumi.Input<string>;
    workerSubnetId: pulumi.Input<string>;
    controlPlaneNsgId: pulumi.Input<string>;
    workerNsgId: pulumi.Input<string>;
    /** base64 cloud-init per host name. */
    userData: Record<string, pulumi.Input<string>>;
    bastion?: { subnetId: pulumi.Input<string>; nsgId: pulumi.Input<string> };
}

export interface NodeOutput {
    name: string;
    role: HostRole;
    privateIp: pulumi.Output<string>;
}

const FAULT_DOMAINS = ["FAULT-DOMAIN-1", "FAULT-DOMAIN-2", "FAULT-DOMAIN-3"];

/**
 * One compute instance per host name of the topology. The hostnameLabel is the host name itself:
 * the playbook's restore depends on both sites answering to the same short names.
 */
export class Nodes extends pulumi.ComponentResource {
    readonly instances: Record<string, oci.core.Instance>;
    readonly nodes: NodeOutput[];
    readonly bastion?: oci.core.Instance;

    constructor(name: string, args: NodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:compute:Nodes", name, {}, opts);
        const ads = oci.identity.getAvailabilityDomainsOutput({ compartmentId: args.compartmentId }, { parent: this });
        this.instances = {};
        args.hosts.forEach((host, index) => {
            const isControlPlane = host.role === "control-plane";
            this.instances[host.name] = new oci.core.Instance(`${name}-${host.name}`, {
                compartmentId: args.compartmentId,
                // Spread members over availability domains where the region has several, else over fault domains.
                availabilityDomain: ads.availabilityDomains.apply((list) => list[index % list.length].name),
                faultDomain: FAULT_DOMAINS[index % FAULT_DOMAINS.length],
                displayName: host.name,
                shape: args.nodeSize.shape,
                shapeConfig: shapeConfigFor(args.nodeSize.shape, args.nodeSize.ocpus, args.nodeSize.memoryGbs),
                sourceDetails: { sourceType: "image", sourceId: args.imageId, bootVolumeSizeInGbs: String(args.nodeSize.bootVolumeGbs) },
                createVnicDetails: {
                    subnetId: isControlPlane ? args.controlPlaneSubnetId : args.workerSubnetId,
                    hostnameLabel: host.name,
                    privateIp: host.ip,
                    assignPublicIp: "false",
                    nsgIds: [isControlPlane ? args.controlPlaneNsgId : args.workerNsgId],
                },
                metadata: { ssh_authorized_keys: args.sshPublicKey, user_data: args.userData[host.name] },
                // IMDS v1 answers any process on the host (and any pod) without the v2 header (F10).
                instanceOptions: { areLegacyImdsEndpointsDisabled: true },
            }, {
                parent: this,
                // cloud-init runs once, at first boot, and a newer image is rolled out by the operator:
                // neither may silently recreate a live etcd member.
                ignoreChanges: ["sourceDetails.sourceId", "metadata.user_data"],
                // A replacement keeps the host's fixed private address, which two VNICs cannot hold:
                // the old instance goes first (its etcd member is removed when the new one joins, F16).
                deleteBeforeReplace: true,
            });
        });
        this.nodes = args.hosts.map((host) => ({ name: host.name, role: host.role, privateIp: this.instances[host.name].privateIp }));

        if (args.bastion) {
            this.bastion = new oci.core.Instance(`${name}-bastion`, {
                compartmentId: args.compartmentId,
                availabilityDomain: ads.availabilityDomains.apply((list) => list[0].name),
                displayName: "bastion",
                shape: args.nodeSize.shape,
                shapeConfig: shapeConfigFor(args.nodeSize.shape, 1, 8),
                sourceDetails: { sourceType: "image", sourceId: args.imageId },
                createVnicDetails: { subnetId: args.bastion.subnetId, hostnameLabel: "bastion", assignPublicIp: "true", nsgIds: [args.bastion.nsgId] },
                metadata: { ssh_authorized_keys: args.sshPublicKey },
                instanceOptions: { areLegacyImdsEndpointsDisabled: true },
            }, { parent: this });
        }

        this.registerOutputs({ nodes: this.nodes });
    }
}
