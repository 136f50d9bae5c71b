// The one typed config loader. It reads every key, reports every problem as one line, and never
// throws: the caller decides how to stop (pulumi.RunError in the program, exit 1 in the plan tool).

import { cidrTextsOverlap, parseCidr } from "./cidr";
import {
    ClusterSpec,
    DEFAULT_CLUSTER,
    DEFAULT_TOPOLOGY,
    MirroredSpec,
    NodeSize,
    PartialMirroredSpec,
    Topology,
    validateSpec,
} from "./spec";

export const PROJECT = "etcd-dr";
export const ROLES = ["primary", "standby"] as const;
export type Role = (typeof ROLES)[number];
export const PLATFORMS = ["oci"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Raw config as Pulumi stores it: full keys ("etcd-dr:role", "oci:region") to strings; objects are JSON. */
export interface ConfigSource {
    get(key: string): string | undefined;
}

export interface SnapshotSettings {
    /** Object-name prefix: snapshots live under "<prefix>/<clusterName>/<id>/". */
    prefix: string;
    retentionDays: number;
    /** RFC 3339 expiry of the pre-authenticated requests the nodes use. */
    parExpiresAt: string;
    kmsKeyId?: string;
}

export interface SiteConfig {
    stack: string;
    role: Role;
    platform: Platform;
    region: string;
    compartmentId: string;
    vcnCidr: string;
    /** The other site's VCN; the primary sets it, the standby learns it from the primary. */
    peerVcnCidr?: string;
    peerStack?: string;
    operatorCidr?: string;
    bastion: boolean;
    /** TCP ports the other site's VCN may reach on this site's nodes. */
    allowFromPeer: number[];
    nodeImageId: string;
    sshPublicKey: string;
    snapshots: SnapshotSettings;
    /** The primary's complete spec, or what a standby's own config sets (compared later). */
    mirrored: PartialMirroredSpec;
}

export interface LoadResult {
    config?: SiteConfig;
    errors: string[];
    warnings: string[];
}

const OCID = /^ocid1\.(compartment|tenancy)\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9]+$/;
const REGION = /^[a-z]{2,}-[a-z]+-\d+$/;

class Reader {
    readonly errors: string[] = [];
    constructor(private readonly source: ConfigSource) {}

    raw(key: string): string | undefined {
        const value = this.source.get(key.includes(":") ? key : `${PROJECT}:${key}`);
        return value === undefined || value.trim() === "" ? undefined : value;
    }

    string(key: string, fallback?: string): string | undefined {
        return this.raw(key) ?? fallback;
    }

    required(key: string, hint: string): string {
        const value = this.raw(key);
        if (value === undefined) {
            this.errors.push(`${qualified(key)} is not set: ${hint}`);
            return "";
        }
        return value;
    }

    boolean(key: string, fallback: boolean): boolean {
        const value = this.raw(key);
        if (value === undefined) return fallback;
        if (value === "true" || value === "false") return value === "true";
        this.errors.push(`${qualified(key)} must be true or false, not '${value}'`);
        return fallback;
    }

    object<T>(key: string): Partial<T> | undefined {
        const value = this.raw(key);
        if (value === undefined) return undefined;
        try {
            const parsed: unknown = JSON.parse(value);
            if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
                return parsed as Partial<T>;
            }
        } catch {
            // reported below
        }
        this.errors.push(`${qualified(key)} must be an object (a YAML map in Pulumi.<stack>.yaml)`);
        return undefined;
    }

    ports(key: string, fallback: number[]): number[] {
        const value = this.raw(key);
        if (value === undefined) return fallback;
        try {
            const parsed: unknown = JSON.parse(value);
            if (Array.isArray(parsed) && parsed.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) {
                return parsed as number[];
            }
        } catch {
            // reported below
        }
        this.errors.push(`${qualified(key)} must be a list of TCP ports such as [22, 6443]`);
        return fallback;
    }
}

function qualified(key: string): string {
    return key.includes(":") ? key : `${PROJECT}:${key}`;
}

function cidrError(key: string, value: string): string | undefined {
    return parseCidr(value) ? undefined : `${qualified(key)} '${value}' is not an IPv4 network in CIDR form such as 10.0.0.0/16`;
}

/** Loads and validates one stack's config. `stack` is the short stack name. */
export function loadConfig(stack: string, source: ConfigSource): LoadResult {
    const read = new Reader(source);
    const warnings: string[] = [];

    const roleText = read.required("role", "set it to primary or standby with `pulumi config set role primary`");
    const role = roleText as Role;
    if (roleText && !(ROLES as readonly string[]).includes(roleText)) {
        read.errors.push(`etcd-dr:role '${roleText}' is unknown; use primary or standby`);
    }
    const platform = read.string("platform", "oci") as Platform;
    if (!(PLATFORMS as readonly string[]).includes(platform)) {
        read.errors.push(`etcd-dr:platform '${platform}' is unknown; use ${PLATFORMS.join(" or ")}`);
    }
    const region = read.required("oci:region", "set the site's OCI region with `pulumi config set oci:region us-ashburn-1`");
    if (region && !REGION.test(region)) {
        read.errors.push(`oci:region '${region}' is not an OCI region identifier such as us-ashburn-1`);
    }
    const compartmentId = read.required(
        "compartmentId",
        "set the OCID of the compartment that holds this site with `pulumi config set compartmentId ocid1.compartment...`",
    );
    if (compartmentId && !OCID.test(compartmentId)) {
        read.errors.push(`etcd-dr:compartmentId '${compartmentId}' is not a compartment or tenancy OCID`);
    }

    const vcnCidr = read.required("vcnCidr", "set this site's VCN range, e.g. `pulumi config set vcnCidr 10.10.0.0/16`");
    const vcnError = vcnCidr ? cidrError("vcnCidr", vcnCidr) : undefined;
    if (vcnError) read.errors.push(vcnError);
    const vcnParsed = parseCidr(vcnCidr);
    if (vcnParsed && (vcnParsed.prefix < 16 || vcnParsed.prefix > 24)) {
        read.errors.push(`etcd-dr:vcnCidr ${vcnCidr} must be between /16 and /24 (OCI limits; the site carves it into quarters)`);
    }

    const peerStack = read.string("peerStack");
    let peerVcnCidr = read.string("peerVcnCidr");
    if (role === "standby") {
        if (!peerStack) {
            read.errors.push(
                "etcd-dr:peerStack is not set: a standby must name the primary stack, e.g. `pulumi config set peerStack org/etcd-dr/primary`",
            );
        }
        if (peerVcnCidr) {
            warnings.push("etcd-dr:peerVcnCidr is ignored on a standby: the primary's vcnCidr output is used");
            peerVcnCidr = undefined;
        }
    } else if (role === "primary") {
        if (!peerVcnCidr) {
            read.errors.push(
                "etcd-dr:peerVcnCidr is not set: the primary routes the standby's VCN through the DRG; set it to the standby's vcnCidr",
            );
        } else {
            const peerError = cidrError("peerVcnCidr", peerVcnCidr);
            if (peerError) read.errors.push(peerError);
        }
    }
    if (peerVcnCidr && vcnCidr && cidrTextsOverlap(vcnCidr, peerVcnCidr)) {
        read.errors.push(`etcd-dr:vcnCidr ${vcnCidr} overlaps etcd-dr:peerVcnCidr ${peerVcnCidr}; peered VCNs need disjoint ranges`);
    }

    const operatorCidr = read.string("operatorCidr");
    if (operatorCidr) {
        const operatorError = cidrError("operatorCidr", operatorCidr);
        if (operatorError) read.errors.push(operatorError);
    }
    const bastion = read.boolean("bastion", false);
    if (!bastion && !operatorCidr) {
        warnings.push("neither etcd-dr:bastion nor etcd-dr:operatorCidr is set: nothing outside the VCNs can reach the nodes over SSH");
    }

    const nodeImageId = read.required("nodeImageId", "set the OCID of the node image for this region (images are regional)");
    const sshPublicKey = read.required("sshPublicKey", "set the public key that may log in to the nodes");
    if (sshPublicKey && !/^(ssh-(ed25519|rsa)|ecdsa-sha2-\S+) \S+/.test(sshPublicKey)) {
        read.errors.push("etcd-dr:sshPublicKey is not an OpenSSH public key line (ssh-ed25519 AAAA...)");
    }

    const snapshots = loadSnapshots(read);
    const mirrored = loadMirrored(read, role, stack);
    const allowFromPeer = read.ports("allowFromPeer", [22, 6443]);

    const errors = [...read.errors];
    if (role === "primary" && errors.length === 0) {
        const spec = mirrored as MirroredSpec;
        const checked = validateSpec(spec, [vcnCidr, peerVcnCidr ?? ""].filter(Boolean));
        errors.push(...checked.errors);
        warnings.push(...checked.warnings);
    }
    if (errors.length > 0) {
        return { errors, warnings };
    }
    return {
        errors,
        warnings,
        config: {
            stack,
            role,
            platform,
            region,
            compartmentId,
            vcnCidr,
            peerVcnCidr,
            peerStack,
            operatorCidr,
            bastion,
            allowFromPeer,
            nodeImageId,
            sshPublicKey,
            snapshots,
            mirrored,
        },
    };
}

function loadSnapshots(read: Reader): SnapshotSettings {
    const given = read.object<SnapshotSettings>("snapshots") ?? {};
    const settings: SnapshotSettings = {
        prefix: given.prefix ?? "etcd",
        retentionDays: given.retentionDays ?? 14,
        parExpiresAt: given.parExpiresAt ?? "",
        kmsKeyId: given.kmsKeyId,
    };
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(settings.prefix)) {
        read.errors.push(`etcd-dr:snapshots.prefix '${settings.prefix}' may hold only letters, digits, '.', '_', '-' and '/'`);
    }
    if (!Number.isInteger(settings.retentionDays) || settings.retentionDays < 1) {
        read.errors.push("etcd-dr:snapshots.retentionDays must be a whole number of days, at least 1");
    }
    if (!settings.parExpiresAt) {
        read.errors.push(
            "etcd-dr:snapshots.parExpiresAt is not set: give the RFC 3339 time the nodes' pre-authenticated requests expire",
        );
    } else if (Number.isNaN(Date.parse(settings.parExpiresAt)) || !/^\d{4}-\d{2}-\d{2}T/.test(settings.parExpiresAt)) {
        read.errors.push(`etcd-dr:snapshots.parExpiresAt '${settings.parExpiresAt}' is not an RFC 3339 time such as 2027-06-30T00:00:00Z`);
    }
    return settings;
}

function loadMirrored(read: Reader, role: Role, stack: string): PartialMirroredSpec {
    const topology = read.object<Topology>("topology") ?? {};
    const cluster = read.object<ClusterSpec>("cluster") ?? {};
    if (role !== "primary") {
        return { topology, cluster };
    }
    // Only the primary fills defaults: a standby that leaves a key out takes the primary's value.
    const nodeSize: NodeSize = { ...DEFAULT_TOPOLOGY.nodeSize, ...(topology.nodeSize ?? {}) };
    return {
        topology: { ...DEFAULT_TOPOLOGY, clusterName: stackCluster(stack), ...topology, nodeSize },
        cluster: { ...DEFAULT_CLUSTER, ...cluster },
    };
}

function stackCluster(stack: string): string {
    return `k8s-${stack}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
}

/** Days until a PAR expires, for the 30-day warning; negative when already expired. */
export function daysUntil(isoTime: string, now: Date): number {
    return (Date.parse(isoTime) - now.getTime()) / 86_400_000;
}

export const PAR_WARNING_DAYS = 30;

export function parExpiryWarning(isoTime: string, now: Date): string | undefined {
    const days = daysUntil(isoTime, now);
    if (days < 0) {
        return `etcd-dr:snapshots.parExpiresAt ${isoTime} is in the past: backups and restores will be refused; set a later time`;
    }
    if (days < PAR_WARNING_DAYS) {
        return `the snapshot store's pre-authenticated requests expire in ${Math.floor(days)} days (${isoTime}); raise etcd-dr:snapshots.parExpiresAt and run pulumi up`;
    }
    return undefined;
}
