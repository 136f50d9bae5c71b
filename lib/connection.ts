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
    /**
     * The node's SSH host key, one public key "ssh-ed25519 AAAA..." (lib/hostKeys.ts), pinned in every
     * command's connection where the platform knows it; without it the provider accepts any key.
     */
    hostKey?: pulumi.Input<string>;
    proxy?: { host: pulumi.Input<string>; user: string; privateKey: pulumi.Input<string>; hostKey?: pulumi.Input<string> };
    /**
     * What must be complete before any command runs on the node: the instance and its bootstrap.
     * A node that exists before the program runs (`existing`) has nothing here.
     */
    readyAfter?: pulumi.Resource[];
}

/*
 * How long the command provider keeps dialing. pulumi-command (remote/connection.go, dialWithRetry,
 * with pulumi's retry.Until) makes dialErrorLimit + 1 attempts and waits 100 ms x 1.5^n before
 * attempt n + 2, at most 5 s; each attempt's TCP connect gives up after perDialTimeout seconds when
 * nothing answers. So with PER_DIAL_TIMEOUT 10 (dialBudgetSeconds below):
 *
 *   dialErrorLimit | refused (a node whose sshd is down) | silent (a node that does not answer)
 *   10 (default)   |  11 s                               |  2 min
 *   12 (before)    |  21 s                               |  2.5 min
 *   40 (NODE)      | 2.7 min                             |  9.5 min
 *   60 (BOOT)      | 4.4 min                             | 14.5 min
 *
 * A node restarting (a reboot, an sshd restart by its package upgrade) refuses for 1-2 minutes on
 * OCI and in the lab: NODE covers that with room. A new instance is silent until its network is up
 * and then boots its sshd late in cloud-init's first run: BOOT is for BootstrapCheck's first dial.
 * The price: a wrong key or host key also counts as a dial error, so it fails only after the whole
 * refused budget (2.7 min for NODE).
 */
export const PER_DIAL_TIMEOUT = 10;
export const NODE_DIAL_ERROR_LIMIT = 40;
export const BOOT_DIAL_ERROR_LIMIT = 60;

/** Seconds the provider spends before it reports a dial error, per the formula above. */
export function dialBudgetSeconds(dialErrorLimit: number, perDialTimeout: number, answer: "refused" | "silent"): number {
    let waits = 0;
    for (let n = 0; n < dialErrorLimit; n++) waits += Math.min(0.1 * 1.5 ** n, 5);
    return waits + (answer === "silent" ? (dialErrorLimit + 1) * perDialTimeout : 0);
}

export function connectionArgs(node: NodeConnection, dialErrorLimit = NODE_DIAL_ERROR_LIMIT): command.types.input.remote.ConnectionArgs {
    return {
        host: node.host,
        port: node.port,
        user: node.user,
        privateKey: node.privateKey,
        ...(node.hostKey !== undefined ? { hostKey: node.hostKey } : {}),
        dialErrorLimit,
        perDialTimeout: PER_DIAL_TIMEOUT,
        // The bastion has its own budget (remote/connection.go dials it first): it is up before the nodes are.
        proxy: node.proxy
            ? {
                host: node.proxy.host,
                user: node.proxy.user,
                privateKey: node.proxy.privateKey,
                ...(node.proxy.hostKey !== undefined ? { hostKey: node.proxy.hostKey } : {}),
                dialErrorLimit: NODE_DIAL_ERROR_LIMIT,
                perDialTimeout: PER_DIAL_TIMEOUT,
            }
            : undefined,
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
