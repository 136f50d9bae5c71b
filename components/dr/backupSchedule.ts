import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { sha256 } from "../../lib/toolkit";
import { NodeToolkit } from "./nodeToolkit";

export interface BackupScheduleArgs {
    /** Every control-plane node of the active site: the timer runs on all, the leader backs up. */
    nodes: NodeConnection[];
    /** The toolkit on those nodes; its settings carry the schedule (OnCalendar, delay). */
    toolkit: NodeToolkit;
}

/**
 * The systemd timer that runs `etcd-dr backup` on every control-plane node of the active site.
 * Every member has it because the etcd leader changes; the toolkit acts on the leader only.
 *
 * A new toolkit or new settings replace the install create-before-delete: the new timer is
 * installed over the old one (units written atomically, the timer restarted), then the old
 * resource's delete runs, which removes the timer only while the install it made still owns it
 * (`--owner`, node/lib/timer.sh). Deleting first left a node without backups whenever the new
 * install then failed (review #29); destroying the schedule removes the timer.
 */
export class BackupSchedule extends pulumi.ComponentResource {
    readonly nodes: string[];
    private readonly timers: Record<string, command.remote.Command>;

    constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:dr:BackupSchedule", name, {}, opts);
        this.nodes = args.nodes.map((n) => n.name);
        this.timers = {};
        // One token per install, from what triggers it: a replacement's new install and the old one's
        // delete name different owners. Derived from the settings' digest, so a secret too.
        const owner = pulumi.all([args.toolkit.toolkitDigest, args.toolkit.settingsDigest])
            .apply(([toolkit, settings]) => sha256(`backup-timer\n${toolkit}\n${settings}`));
        for (const node of args.nodes) {
            this.timers[node.name] = new command.remote.Command(`${name}-${node.name}-timer`, {
                connection: connectionArgs(node),
                create: owner.apply((o) => asRoot(node, `etcd-dr install-timer --owner ${o}`)),
                delete: owner.apply((o) => asRoot(node, `etcd-dr remove-timer --owner ${o}`)),
                // Upstream sends the last stdout to the delete (and to a re-run) as an SSH env request, which a
                // stock sshd refuses with a warning on every such run; nothing here reads it.
                addPreviousOutputInEnv: false,
                // The schedule is in the settings: a new toolkit or new settings re-install the timer.
                triggers: [args.toolkit.toolkitDigest, args.toolkit.settingsDigest],
            }, { parent: this, dependsOn: afterReady(node, args.toolkit.installedOn(node.name)) });
        }
        this.registerOutputs({ nodes: this.nodes });
    }

    /** The timer install on `node`, for whatever must come after it. */
    timerOn(node: string): pulumi.Resource[] {
        const timer = this.timers[node];
        return timer ? [timer] : [];
    }
}
