import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { labCommand } from "./cloud";

export interface LabPeeringArgs {
    labRoot: string;
}

/**
 * The routed link between the lab's two site networks: what the DRGs and the remote peering
 * connection are on OCI. Made by the standby (the side that connects, as its RPC does), removed
 * with it.
 */
export class LabPeering extends pulumi.ComponentResource {
    readonly link: command.local.Command;

    constructor(name: string, args: LabPeeringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:lab:Peering", name, {}, opts);
        this.link = new command.local.Command(`${name}-link`, {
            create: `${labCommand("cloud.sh")} peering up`,
            delete: `${labCommand("cloud.sh")} peering down`,
            dir: args.labRoot,
        }, { parent: this });
        this.registerOutputs({});
    }
}
