// How an OCI snapshot bucket keeps its snapshots, decided from the site's role. Object Storage has
// rules of its own here: a replication destination cannot carry retention rules (and a delete
// lifecycle rule on it does nothing), and a locked retention rule can never be removed again.

import { createHash } from "crypto";

export interface StoreRuleInputs {
    /** The site's nodes write backups into this bucket. */
    active: boolean;
    /** The bucket is a replication destination (read-only until made writable). */
    replica: boolean;
    /** Object-name prefix of this cluster's snapshots ("<prefix>/<cluster>/"). */
    prefix: string;
    retentionDays: number;
    /** Days a written object can be neither overwritten nor deleted; 0 for none. */
    immutableDays: number;
}

export interface LifecycleRule {
    name: string;
    action: "DELETE";
    isEnabled: boolean;
    timeAmount: string;
    timeUnit: "DAYS";
    objectNameFilter: { inclusionPrefixes: string[] };
}

export interface RetentionRule {
    displayName: string;
    duration: { timeAmount: string; timeUnit: "DAYS" };
}

/**
 * The age-based delete rule, on a bucket that is not a replication destination: a replica is
 * trimmed by the source's replicated deletes, and OCI ignores delete rules on it anyway.
 */
export function lifecycleRules(inputs: StoreRuleInputs): LifecycleRule[] {
    if (inputs.replica) return [];
    return [{
        name: "expire-old-snapshots",
        action: "DELETE",
        isEnabled: true,
        timeAmount: String(inputs.retentionDays),
        timeUnit: "DAYS",
        objectNameFilter: { inclusionPrefixes: [inputs.prefix] },
    }];
}

/**
 * A time-bound retention rule on the bucket the nodes write to: a committed snapshot (or its
 * manifest) can be neither overwritten nor deleted until it is `immutableDays` old, not even
 * through the nodes' write PAR. It is never locked: a role swap must be able to drop it (a
 * replication destination may not have one), and an operator may remove it deliberately.
 */
export function retentionRules(inputs: StoreRuleInputs): RetentionRule[] {
    if (!inputs.active || inputs.replica || inputs.immutableDays <= 0) return [];
    return [{ displayName: "committed-snapshots-immutable", duration: { timeAmount: String(inputs.immutableDays), timeUnit: "DAYS" } }];
}

/**
 * Inputs of a pre-authenticated request that Pulumi must not diff. The provider reads a PAR back
 * without `bucketListingAction` (terraform-provider-oci#2092) and the field forces a replacement,
 * so every refresh would rotate both PARs.
 */
export const PAR_IGNORED_INPUTS = ["bucketListingAction"];

/** Everything that defines a PAR; OCI cannot change any of it on an existing one. */
export interface ParDefinition {
    bucket: string;
    prefix: string;
    accessType: string;
    bucketListingAction: string;
    timeExpires: string;
}

/**
 * The part of a PAR's resource name that changes whenever its definition does. A changed PAR is
 * then a new resource, created from the program's inputs, and never a replacement of the old one:
 * a replacement would reuse the ignored `bucketListingAction` from the state, which a refresh may
 * have blanked, and the replica's PAR would lose its listing. Rotating is changing `timeExpires`.
 */
export function parGeneration(par: ParDefinition): string {
    const day = par.timeExpires.slice(0, 10).replace(/-/g, "");
    const digest = createHash("sha256")
        .update(JSON.stringify([par.bucket, par.prefix, par.accessType, par.bucketListingAction, par.timeExpires]))
        .digest("hex")
        .slice(0, 8);
    return `${day}-${digest}`;
}

/** What the make-writable command reads from its environment (never from its script text). */
export const MAKE_WRITABLE_VARIABLES = { namespace: "ETCD_DR_NAMESPACE", bucket: "ETCD_DR_BUCKET", region: "ETCD_DR_REGION" } as const;

/**
 * The promotion of a replica, as a bash script for where Pulumi runs. The provider has no resource
 * for Object Storage's MakeBucketWritable (POST /n/{ns}/b/{bucket}/actions/makeBucketWritable), so
 * the OCI CLI calls it, in the replica's own region: it ends the replication into the bucket and
 * removes the policy without a call to the source's region, which may be the one that failed. A
 * bucket that is no replication destination (any more) is left alone, so a second run changes
 * nothing. `fallbacks` maps the CLI's credential variables onto the provider's, read at run time.
 */
export function makeBucketWritableScript(fallbacks: [string, string[]][]): string {
    const { namespace, bucket, region } = MAKE_WRITABLE_VARIABLES;
    const mapped = fallbacks.map(([cli, provider]) => {
        const chain = provider.reduceRight((inner, name) => `\${${name}:-${inner}}`, "");
        return `if [[ -z "\${${cli}:-}" && -n "${chain}" ]]; then export ${cli}="${chain}"; fi`;
    });
    return [
        "set -Eeuo pipefail",
        "command -v oci >/dev/null || { echo \"etcd-dr: ERROR: promoting the replica needs the OCI CLI (oci) where pulumi runs: install it, or call MakeBucketWritable on bucket $" + bucket + " in $" + region + " yourself\" >&2; exit 1; }",
        ...mapped,
        `where=(--namespace-name "$${namespace}" --bucket-name "$${bucket}" --region "$${region}")`,
        // An empty list prints nothing: the bucket is nobody's replication destination.
        `sources="$(oci os replication list-replication-sources "\${where[@]}")"`,
        `if ! grep -q '"source-bucket-name"' <<<"$sources"; then`,
        `  echo "bucket $${bucket} in $${region} is writable (no replication into it)"`,
        "  exit 0",
        "fi",
        `oci os replication make-bucket-writable "\${where[@]}"`,
        `echo "bucket $${bucket} in $${region} made writable; replication into it ended"`,
    ].join("\n");
}
