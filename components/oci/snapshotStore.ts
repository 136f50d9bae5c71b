import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { bucketName } from "../../lib/names";
import { lifecycleRules, PAR_IGNORED_INPUTS, parGeneration, retentionRules } from "../../lib/ociStore";
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
     * reads and lists its replica during a restore (read + list PAR).
     */
    nodeAccess: "backup-write" | "restore-read";
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
    /** Completes once Object Storage may act on this bucket (lifecycle, replication, Vault key). */
    grants: pulumi.Resource;
}

const PAR_SECRET_OUTPUTS = ["fullPath", "accessUri"];

/**
 * One private bucket per site. The active site's nodes write through a write-only, prefix-scoped
 * pre-authenticated request, and a retention rule keeps what they wrote from being overwritten or
 * deleted; old snapshots expire by lifecycle rule. The standby's bucket is the read-only replica,
 * read and listed through its own request during a restore.
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

    constructor(name: string, args: SnapshotStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:storage:SnapshotStore", name, {}, opts);
        const child = { parent: this };
        this.prefix = snapshotPrefix(args.prefix, args.clusterName);
        this.namespace = oci.objectstorage.getNamespaceOutput({ compartmentId: args.compartmentId }, child).namespace;

        const rules = {
            active: args.nodeAccess === "backup-write",
            replica: args.replicateFrom !== undefined,
            prefix: this.prefix,
            retentionDays: args.retentionDays,
            immutableDays: args.immutableDays,
        };
        const retention = retentionRules(rules);
        this.bucket = new oci.objectstorage.Bucket(`${name}-bucket`, {
            compartmentId: args.compartmentId,
            namespace: this.namespace,
            name: bucketName(args.clusterName, args.stack),
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
            // OCI refuses a bucket whose Vault key Object Storage may not use yet.
            dependsOn: args.kmsKeyId ? [args.grants] : [],
        });

        const lifecycle = lifecycleRules(rules);
        if (lifecycle.length > 0) {
            new oci.objectstorage.ObjectLifecyclePolicy(`${name}-retention`, {
                bucket: this.bucket.name,
                namespace: this.namespace,
                rules: lifecycle,
            }, { parent: this, dependsOn: [args.grants] });
        }

        if (args.nodeAccess === "backup-write") {
            this.writeUrl = this.par(name, args, "backup-write", "AnyObjectWrite", "Deny");
        } else {
            this.readUrl = this.par(name, args, "restore-read", "AnyObjectRead", "ListObjects");
        }

        if (args.replicateFrom) {
            this.replication = this.replicate(name, args, args.replicateFrom);
        }

        this.registerOutputs({ bucket: this.bucket.name, namespace: this.namespace, prefix: this.prefix });
    }

    private par(name: string, args: SnapshotStoreArgs, purpose: string, accessType: string, listing: string): pulumi.Output<string> {
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
        }, { parent: this, additionalSecretOutputs: PAR_SECRET_OUTPUTS, ignoreChanges: PAR_IGNORED_INPUTS });
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
        }, { parent: this, provider: sourceRegion, dependsOn: [args.grants, this.bucket] });
    }
}
