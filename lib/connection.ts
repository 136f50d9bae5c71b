// How Pulumi reaches a node over SSH: directly, or through the site's bastion; and how a step that
// needs root runs when the login user is not root (OCI's and the lab's images log in as `ubuntu`).

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Host } from "./hosts";
import { shellQuote } from "./shell";

export interface NodeConnection extends Host {
    host: pulumi.Input<string>;
    port: number;
    user: string;
    privateKey: pulumi.Input<string>;
    proxy?: { host: pulumi.Input<string>; user: string; privateKey: pulumi.Input<string> };
    /**
     * What must be complete before any command runs on the node: the instance and its bootstrap.
     * A node that exists before the program runs (`existing`) has nothing here.
     */
    readyAfter?: pulumi.Resource[];
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

/**
 * A script that needs root, as the node's login user runs it: unchanged for root, else through
 * passwordless sudo (-n: fail at once rather than wait for a password no one will type). Standard
 * input passes through sudo, so files and secrets still travel that way.
 */
export function asRoot(node: Pick<NodeConnection, "user">, script: string): string {
    return node.user === "root" ? script : `sudo -n /bin/bash -c ${shellQuote(script)}`;
}

/** `dependsOn` for a command on `node`: its readiness plus whatever else the step waits for. */
export function afterReady(node: NodeConnection, ...others: pulumi.Resource[][]): pulumi.Resource[] {
    return [...(node.readyAfter ?? []), ...others.flat()];
}
