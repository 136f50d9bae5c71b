import * as pulumi from "@pulumi/pulumi";
import { NodeConnection } from "../lib/connection";
import { InstalledState } from "./installedState";

export interface InstallationCheckArgs {
    nodes: NodeConnection[];
    toolkit: string;
    toolkitSha256: string;
    /** True where the backup timer must be installed and running (the active site). */
    backups: boolean;
    /** Per node, the installs the check reads back after. */
    after: Record<string, pulumi.Resource[]>;
}

/**
 * Reads back, on every control-plane node, what etcd-dr installed there, so drift is visible to
 * `pulumi preview --refresh --expect-no-changes` and repaired by `pulumi up`. See the README's
 * "Drift" section for what this can and cannot see.
 */
export class InstallationCheck extends pulumi.ComponentResource {
    readonly states: InstalledState[];

    constructor(name: string, args: InstallationCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:dr:InstallationCheck", name, {}, opts);
        this.states = args.nodes.map((node) =>
            new InstalledState(`${name}-${node.name}`, {
                node,
                toolkit: args.toolkit,
                toolkitSha256: args.toolkitSha256,
                timer: args.backups ? "enabled active" : "absent",
            }, { parent: this, dependsOn: args.after[node.name] ?? [] }),
        );
        this.registerOutputs({ nodes: args.nodes.map((n) => n.name) });
    }
}
