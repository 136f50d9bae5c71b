import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";

export interface PeeringArgs {
    compartmentId: pulumi.Input<string>;
    drgId: pulumi.Input<string>;
    /** Set on the standby only: the primary's connection and region, from its stack outputs. */
    peer?: { connectionId: pulumi.Input<string>; region: pulumi.Input<string> };
}

/**
 * A RemotePeeringConnection on this site's DRG. OCI peers two connections from one side: the standby,
 * built second, connects its own to the primary's, so the primary's stack never needs the standby's ids.
 * Which side connected stays fixed after that: a role swap must not replace either connection.
 */
export class Peering extends pulumi.ComponentResource {
    readonly connection: oci.core.RemotePeeringConnection;

    constructor(name: string, args: PeeringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:peering:Peering", name, {}, opts);
        this.connection = new oci.core.RemotePeeringConnection(`${name}-rpc`, {
            compartmentId: args.compartmentId,
            drgId: args.drgId,
            displayName: `${name}-rpc`,
            peerId: args.peer?.connectionId,
            peerRegionName: args.peer?.region,
        }, {
            parent: this,
            // peerId is ForceNew and follows the role: after a role swap the old acceptor would get one
            // and the old requestor lose it, replacing both and dropping the peering mid fail-back.
            ignoreChanges: ["peerId", "peerRegionName"],
        });
        this.registerOutputs({ connectionId: this.connection.id });
    }
}
