import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { PlannedHost } from "../../lib/layout";
import { LabSiteName, labCommand } from "./cloud";

export interface LabInstancesArgs {
    site: LabSiteName;
    hosts: PlannedHost[];
    /** The site's gateway (the lab host on the site's bridge). */
    gateway: string;
    sshPublicKey: string;
    /** The #cloud-config document per host name (secret): what cloud-init on the instance reads. */
    cloudConfig: Record<string, pulumi.Input<string>>;
    /** The checkout whose lab/ tools make the instances. */
    labRoot: string;
}

/** Creates one instance and waits for its sshd; prints the instance's SSH host keys (known_hosts lines). */
export function createInstanceScript(site: LabSiteName, host: PlannedHost, gateway: string): string {
    return [
        "set -Eeuo pipefail",
        'key="$(mktemp)"',
        'trap \'rm -f "$key"\' EXIT',
        'printf \'%s\\n\' "$ETCD_DR_SSH_PUBLIC_KEY" >"$key"',
        // The user data comes on stdin: a secret never written to the Pulumi host's disk or argv.
        `${labCommand("instance.sh")} create --site ${site} --name ${host.name} --address ${host.ip}/24 --gateway ${gateway} --user-data - --ssh-key "$key" >/dev/null`,
        `${labCommand("instance.sh")} wait-ssh --site ${site} --name ${host.name}`,
    ].join("\n");
}

/**
 * The site's compute instances in the lab's local cloud, one per host name of the topology, at its
 * planned address: what oci.core.Instance is on OCI. Like there, the user data is read once at first
 * boot, so a change of it does not touch a running instance; a new name or address replaces it.
 */
export class LabInstances extends pulumi.ComponentResource {
    readonly instances: Record<string, command.local.Command>;
    /** Each instance's SSH host keys as known_hosts lines, read from its disk when it was created. */
    readonly hostKeys: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: LabInstancesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:lab:Instances", name, {}, opts);
        this.instances = {};
        this.hostKeys = {};
        for (const host of args.hosts) {
            const instance = new command.local.Command(`${name}-${host.name}`, {
                create: createInstanceScript(args.site, host, args.gateway),
                delete: `${labCommand("instance.sh")} delete --site ${args.site} --name ${host.name}`,
                interpreter: ["/bin/bash", "-c"],
                dir: args.labRoot,
                environment: { ETCD_DR_SSH_PUBLIC_KEY: args.sshPublicKey },
                stdin: args.cloudConfig[host.name],
                triggers: [args.site, host.name, host.ip],
            }, {
                parent: this,
                ignoreChanges: ["stdin"],
                // Same name and fixed address as the instance it replaces, as on OCI: the old one goes first.
                deleteBeforeReplace: true,
            });
            this.instances[host.name] = instance;
            this.hostKeys[host.name] = instance.stdout;
        }
        this.registerOutputs({ hosts: args.hosts.map((h) => h.name) });
    }
}
