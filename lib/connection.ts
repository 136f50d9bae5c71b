// How Pulumi reaches a node over SSH: directly, or through the site's bastion.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Host } from "./hosts";

export interface NodeConnection extends Host {
    host: pulumi.Input<string>;
    port: number;
    user: string;
    privateKey: pulumi.Input<string>;
    proxy?: { host: pulumi.Input<string>; user: string; privateKey: pulumi.Input<string> };
}

export function connectionArgs(node: NodeConnection): command.types.input.remote.ConnectionArgs {
    return {
        host: node.host,
        port: node.port,
        user: node.user,
        privateKey: node.privateKey,
        // Nodes may still be booting or restarting their sshd; keep trying for about two minutes.
        dialErrorLimit: 12,
        perDialTimeout: 10,
        proxy: node.proxy ? { host: node.proxy.host, user: node.proxy.user, privateKey: node.proxy.privateKey } : undefined,
    };
}
