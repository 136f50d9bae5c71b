import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { connectionArgs, NodeConnection } from "../lib/connection";
import { NodeToolkit } from "./nodeToolkit";

export interface BackupScheduleArgs {
    /** Every control-plane node of the active site: the timer runs on all, the leader backs up. */
    nodes: NodeConnection[];
    toolkit: NodeToolkit;
    onCalendar: string;
    randomizedDelaySec: number;
}

/**
 * The systemd timer that runs `etcd-dr backup` on every control-plane node of the active site.
 * Every member has it because the etcd leader changes; the toolkit acts on the leader only.
 */
export class BackupSchedule extends pulumi.ComponentResource {
    readonly schedule: string;
    readonly nodes: string[];
    readonly timers: command.remote.Command[];

    constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:dr:BackupSchedule", name, {}, opts);
        this.schedule = args.onCalendar;
        this.nodes = args.nodes.map((n) => n.name);
        this.timers = args.nodes.map((node) =>
            new command.remote.Command(`${name}-${node.name}-timer`, {
                connection: connectionArgs(node),
                create: "etcd-dr install-timer",
                delete: "etcd-dr remove-timer",
                // The schedule is in the settings; a new toolkit or new settings re-install the timer.
                triggers: [args.toolkit.toolkitDigest, args.toolkit.settingsDigest, args.onCalendar, args.randomizedDelaySec],
            }, { parent: this, deleteBeforeReplace: true, dependsOn: args.toolkit.ready[node.name] }),
        );
        this.registerOutputs({ schedule: this.schedule, nodes: this.nodes });
    }
}
