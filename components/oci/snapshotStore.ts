import * as command from "@pulumi/command";
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { bucketName } from "../../lib/names";
import { CLI_FALLBACK_VARIABLES } from "../../lib/ociProvider";
import {
    lifecycleRules,
    MAKE_WRITABLE_VARIABLES,
    makeBucketWritableScript,
    PAR_IGNORED_INPUTS,
    parGeneration,
    retentionRules,
} from "../../lib/ociStore";
import { snapshotPrefix } from "../../lib/store";
import { regionProvider } from "./providers";

/** The active site's bucket that this (standby) site's bucket replicates from. */
export interface ReplicationSource {
    bucket: pulumi.Input<string>;
    namespace: pulumi.Input<string>;
    region: pulumi.Input<string>;
    compartmentId: pulumi.Input<string>;
}

export interface SnapshotStoreArgs {
    compartmentId: pulumi.Input<string>;
    clusterName: string;
    stack: string;
    region: string;
    /**
     * What this site's nodes may do: the active site writes backups (write-only PAR), the standby
     * reads and lists its replica during a restore (read + list PAR), and a promoted standby does
     * both (it restored from the replica and now backs up into it).
     */
    nodeAccess: NodeAccess[];
    /** Object-name prefix; snapshots live under "<prefix>/<clusterName>/". */
    prefix: string;
    /** Snapshots older than this are deleted by a lifecycle rule. */
    retentionDays: number;
    /** Days a written object can be neither overwritten nor deleted on the active site (0: no rule). */
    immutableDays: number;
    /** RFC 3339 time the pre-authenticated requests expire. */
    parExpiresAt: string;
    /** Vault key that encrypts the bucket; Oracle-managed keys when absent. */
    kmsKeyId?: string;
    /** Standby only: where snapshots come from. The standby owns the policy because it is built second. */
    replicateFrom?: ReplicationSource;
    /**
     * A promoted standby: the replica becomes the active site's bucket. `environment` authenticates
     * the OCI CLI as the stack's provider (secret values stay secrets).
     */
    promote?: { environment: Record<string, pulumi.Input<string>> };
    /** Completes once Object Storage may act on this bucket (lifecycle, replication, Vault key). */
    grants: pulumi.Resource;
}

export type NodeAccess = "backup-write" | "restore-read";

const PAR_SECRET_OUTPUTS = ["fullPath", "accessUri"];

/**
 * One private bucket per site. The active site's nodes write through a write-only, prefix-scoped
 * pre-authenticated request, and a retention rule keeps what they wrote from being overwritten or
 * deleted; old snapshots expire by lifecycle rule. The standby's bucket is the read-only replica,
 * read and listed through its own request during a restore. Promoted, the standby's bucket is made
 * writable from its own region first, and then is the active site's bucket in every respect.
 */
export class SnapshotStore extends pulumi.ComponentResource {
    readonly bucket: oci.objectstorage.Bucket;
    readonly namespace: pulumi.Output<string>;
    readonly prefix: string;
    /** Write-only PAR URL for backups (active site), as a secret. */
    readonly writeUrl?: pulumi.Output<string>;
    /** Read + list PAR URL for restores (replica), as a secret. */
    readonly readUrl?: pulumi.Output<string>;
    readonly replication?: oci.objectstorage.ReplicationPolicy;
    /** A promoted standby: the call that made the replica writable; every write waits for it. */
    readonly madeWritable?: command.local.Command;

    constructor(name: string, args: SnapshotStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:storage:SnapshotStore", name, {}, opts);
        const child = { parent: this };
        this.prefix = snapshotPrefix(args.prefix, args.clusterName);
        this.namespace = oci.objectstorage.getNamespaceOutput({ compartmentId: args.compartmentId }, child).namespace;

        const bucket = bucketName(args.clusterName, args.stack);
        if (args.promote) {
            this.madeWritable = this.makeWritable(name, args, bucket, args.promote.environment);
        }
        const writable = this.madeWritable ? [this.madeWritable] : [];

        const rules = {
            active: args.nodeAccess.includes("backup-write"),
            replica: args.replicateFrom !== undefined,
            prefix: this.prefix,
            retentionDays: args.retentionDays,
            immutableDays: args.immutableDays,
        };
        const retention = retentionRules(rules);
        this.bucket = new oci.objectstorage.Bucket(`${name}-bucket`, {
            compartmentId: args.compartmentId,
            namespace: this.namespace,
            name: bucket,
            accessType: "NoPublicAccess",
            kmsKeyId: args.kmsKeyId,
            storageTier: "Standard",
            // Absent rather than empty: the provider wants at least one rule when the list is given.
            retentionRules: retention.length > 0 ? retention : undefined,
        }, {
            parent: this,
            // The DR asset: never replaced or deleted by a program change, and kept when the stack goes.
            protect: true,
            retainOnDelete: true,
            // OCI refuses a bucket whose Vault key Object Storage may not use yet, and retention
            // rules on a replica that is not writable yet.
            dependsOn: [...(args.kmsKeyId ? [args.grants] : []), ...writable],
        });

        const lifecycle = lifecycleRules(rules);
        if (lifecycle.length > 0) {
            new oci.objectstorage.ObjectLifecyclePolicy(`${name}-retention`, {
                bucket: this.bucket.name,
                namespace: this.namespace,
                rules: lifecycle,
            }, { parent: this, dependsOn: [args.grants, ...writable] });
        }

        if (args.nodeAccess.includes("backup-write")) {
            this.writeUrl = this.par(name, args, "backup-write", "AnyObjectWrite", "Deny", writable);
        }
        if (args.nodeAccess.includes("restore-read")) {
            this.readUrl = this.par(name, args, "restore-read", "AnyObjectRead", "ListObjects", []);
        }

        if (args.replicateFrom) {
            this.replication = this.replicate(name, args, args.replicateFrom);
        }

        this.registerOutputs({ bucket: this.bucket.name, namespace: this.namespace, prefix: this.prefix });
    }

    private par(name: string, args: SnapshotStoreArgs, purpose: string, accessType: string, listing: string, after: pulumi.Resource[]): pulumi.Output<string> {
        const expires = args.parExpiresAt;
        const generation = parGeneration({
            bucket: bucketName(args.clusterName, args.stack),
            prefix: this.prefix,
            accessType,
            bucketListingAction: listing,
            timeExpires: expires,
        });
        // The URN names the PAR's generation: a new expiry (a rotation) creates the next PAR, the
        // nodes' settings move to its URL, and only then is the old one deleted.
        const request = new oci.objectstorage.Preauthrequest(`${name}-${purpose}-${generation}`, {
            bucket: this.bucket.name,
            namespace: this.namespace,
            name: `${name}-${purpose}-until-${expires.slice(0, 10)}`,
            accessType,
            bucketListingAction: listing,
            objectName: this.prefix,
            timeExpires: expires,
        }, { parent: this, additionalSecretOutputs: PAR_SECRET_OUTPUTS, ignoreChanges: PAR_IGNORED_INPUTS, dependsOn: after });
        return pulumi.secret(request.fullPath);
    }

    private replicate(name: string, args: SnapshotStoreArgs, source: ReplicationSource): oci.objectstorage.ReplicationPolicy {
        // The policy belongs to the source bucket, so it is written through the source's region.
        const sourceRegion = regionProvider(`${name}-source-region`, source.region, { parent: this });
        return new oci.objectstorage.ReplicationPolicy(`${name}-replication`, {
            bucket: source.bucket,
            namespace: source.namespace,
            name: `${args.clusterName}-to-${args.region}`,
            destinationBucketName: this.bucket.name,
            destinationRegionName: args.region,
        }, {
            parent: this,
            provider: sourceRegion,
            dependsOn: [args.grants, this.bucket],
            // Leaving the program never calls the source's region: on a promotion that region may
            // be down, and MakeBucketWritable has removed the policy already. Recorded in the state
            // from the first `up`, so it holds when the failover comes.
            retainOnDelete: true,
        });
    }

    private makeWritable(name: string, args: SnapshotStoreArgs, bucket: string, environment: Record<string, pulumi.Input<string>>): command.local.Command {
        return new command.local.Command(`${name}-make-writable`, {
            create: makeBucketWritableScript(CLI_FALLBACK_VARIABLES),
            interpreter: ["/bin/bash", "-c"],
            environment: {
                ...environment,
                [MAKE_WRITABLE_VARIABLES.namespace]: this.namespace,
                [MAKE_WRITABLE_VARIABLES.bucket]: bucket,
                [MAKE_WRITABLE_VARIABLES.region]: args.region,
            },
            // Nothing to undo: replication into this bucket comes back with the role swap (fail-back).
            triggers: [bucket, args.region],
        }, { parent: this });
    }
}
