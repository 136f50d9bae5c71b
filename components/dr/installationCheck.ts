import * as pulumi from "@pulumi/pulumi";
import { afterReady, NodeConnection } from "../../lib/connection";
import { BackupSchedule } from "./backupSchedule";
import { InstalledState } from "./installedState";
import { NodeToolkit } from "./nodeToolkit";

export interface InstallationCheckArgs {
    nodes: NodeConnection[];
    /** The toolkit text as this checkout has it, to put back when it was changed by hand. */
    toolkitText: string;
    /** What installed the toolkit; the check reads each node back after it. */
    toolkit: NodeToolkit;
    /** The backup timers, where this site takes backups (the active site); none elsewhere. */
    backup?: BackupSchedule;
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
                toolkit: args.toolkitText,
                toolkitSha256: args.toolkit.toolkitDigest,
                timer: args.backup ? "enabled active" : "absent",
            }, {
                parent: this,
                dependsOn: afterReady(node, args.toolkit.installedOn(node.name), args.backup?.timerOn(node.name) ?? []),
            }),
        );
        this.registerOutputs({ nodes: args.nodes.map((n) => n.name) });
    }
}
