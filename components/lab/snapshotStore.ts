import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { bucketName } from "../../lib/names";
import { lifecycleRules, parGeneration } from "../../lib/ociStore";
import { snapshotPrefix } from "../../lib/store";
import { labCommand } from "./cloud";

/** The active site's bucket that this (standby) site's bucket replicates from. */
export interface LabReplicationSource {
    bucket: pulumi.Input<string>;
    region: pulumi.Input<string>;
}

export interface LabSnapshotStoreArgs {
    clusterName: string;
    stack: string;
    /** The lab region of this site: lab-primary or lab-standby. */
    region: string;
    /** Write-only PAR for an active site's backups; read + list PAR for a replica's restores. */
    nodeAccess: ("backup-write" | "restore-read")[];
    prefix: string;
    retentionDays: number;
    parExpiresAt: string;
    /** Standby only: where snapshots come from (the standby owns the policy: it is built second). */
    replicateFrom?: LabReplicationSource;
    /** A promoted standby: its replica is made writable from its own region before any write. */
    promote: boolean;
    /** The checkout whose lab/store.sh is the store's API. */
    labRoot: string;
}

/**
 * The lab's Object Storage for one site, created through the emulator's admin API (lab/store.sh)
 * with the same shape and rules as components/oci/snapshotStore.ts: one bucket per site, a
 * prefix-scoped write-only PAR on the active site, a read + list PAR on the replica, the policy
 * that replicates into the standby's bucket, the age-based delete rule, and MakeBucketWritable on
 * promotion. The bucket and the policy outlive the stack, as on OCI (retained there): the lab's
 * teardown (lab/cloud.sh down) removes them with the store.
 */
export class LabSnapshotStore extends pulumi.ComponentResource {
    readonly bucket: string;
    readonly prefix: string;
    readonly writeUrl?: pulumi.Output<string>;
    readonly readUrl?: pulumi.Output<string>;
    readonly madeWritable?: command.local.Command;

    constructor(name: string, args: LabSnapshotStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:lab:SnapshotStore", name, {}, opts);
        this.bucket = bucketName(args.clusterName, args.stack);
        this.prefix = snapshotPrefix(args.prefix, args.clusterName);
        const store = labCommand("store.sh");
        const local = (suffix: string, create: pulumi.Input<string>, extra: Partial<command.local.CommandArgs>, options: pulumi.CustomResourceOptions = {}) =>
            new command.local.Command(`${name}-${suffix}`, {
                create,
                interpreter: ["/bin/bash", "-c"],
                dir: args.labRoot,
                addPreviousOutputInEnv: false,
                ...extra,
            }, { parent: this, ...options });

        const bucket = local("bucket", `${store} bucket-create ${args.region} ${this.bucket}`, { triggers: [args.region, this.bucket] });
        if (args.promote) {
            this.madeWritable = local("make-writable", `${store} make-writable ${args.region} ${this.bucket}`, { triggers: [args.region, this.bucket] }, { dependsOn: [bucket] });
        }
        const writable = this.madeWritable ? [this.madeWritable] : [];

        const rules = lifecycleRules({ active: args.nodeAccess.includes("backup-write"), replica: args.replicateFrom !== undefined, prefix: this.prefix, retentionDays: args.retentionDays, immutableDays: 0 });
        if (rules.length > 0) {
            // The REST API's form of the provider's rules: timeAmount is a number there.
            const items = JSON.stringify({ items: rules.map((r) => ({ ...r, timeAmount: Number(r.timeAmount), target: "objects" })) });
            local("retention", `${store} lifecycle-put ${args.region} ${this.bucket}`, { stdin: items, triggers: [items] }, { dependsOn: [bucket, ...writable] });
        }

        const par = (purpose: string, accessType: string, listing: string) => {
            const expires = args.parExpiresAt;
            const generation = parGeneration({ bucket: this.bucket, prefix: this.prefix, accessType, bucketListingAction: listing, timeExpires: expires });
            const parName = `${name}-${purpose}-until-${expires.slice(0, 10)}`;
            const request = local(`${purpose}-${generation}`,
                `${store} par-create ${args.region} ${this.bucket} ${parName} ${accessType} ${listing} ${this.prefix} ${expires}`,
                { delete: `${store} par-delete ${args.region} ${this.bucket} ${parName}`, logging: "stderr" },
                { dependsOn: [bucket, ...writable], additionalSecretOutputs: ["stdout"] });
            return pulumi.secret(request.stdout);
        };
        if (args.nodeAccess.includes("backup-write")) {
            this.writeUrl = par("backup-write", "AnyObjectWrite", "Deny");
        }
        if (args.nodeAccess.includes("restore-read")) {
            this.readUrl = par("restore-read", "AnyObjectRead", "ListObjects");
        }
        if (args.replicateFrom) {
            const source = args.replicateFrom;
            const policy = pulumi.interpolate`${store} replication-create ${source.region} ${source.bucket} ${args.clusterName}-to-${args.region} ${args.region} ${this.bucket}`;
            local("replication", policy, { triggers: [source.region, source.bucket, args.region, this.bucket] }, { dependsOn: [bucket] });
        }
        this.registerOutputs({ bucket: this.bucket, prefix: this.prefix });
    }
}
