// The one typed config loader. It reads every key, reports every problem as one line, and never
// throws: the caller decides how to stop (pulumi.RunError in the program, exit 1 in the plan tool).

// Types and plain constants only: loading config never loads a platform's SDK or components.
import { LAB_SITES } from "../components/lab/cloud";
import type { LabSiteSettings } from "../components/lab/site";
import type { OciSiteSettings } from "../components/oci/site";
import { cidrTextsOverlap, parseCidr } from "../lib/cidr";
import { controlPlaneOf, Host, isHostRole, workersOf } from "../lib/hosts";
import { ed25519HostKey } from "../lib/hostKeys";
import { isDnsLabel } from "../lib/names";
import { isOciRegion, isRfc3339, looksLikeTime, ocidType, regionMismatch } from "../lib/ociConfig";
import { COMPRESSIONS, Compression, parseSnapshotId } from "../lib/snapshot";
import {
    ClusterSpec,
    DEFAULT_CLUSTER,
    DEFAULT_TOPOLOGY,
    MirroredSpec,
    NodeSize,
    PartialMirroredSpec,
    Topology,
    validateSpec,
} from "../lib/spec";

export const PROJECT = "etcd-dr";
export const ROLES = ["primary", "standby"] as const;
export type Role = (typeof ROLES)[number];
export const PLATFORMS = ["oci", "existing", "lab"] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * Whether the program uses the site's Kubernetes API unless told otherwise: on the sites it builds
 * (oci, and the lab that stands in for it) it reaches the API through its SSH tunnel; `existing`
 * hosts may run anything, so there it is asked for.
 */
const KUBERNETES_API_BY_DEFAULT: Record<Platform, boolean> = { oci: true, lab: true, existing: false };

/** Raw config as Pulumi stores it: full keys ("etcd-dr:role", "oci:region") to strings; objects are JSON. */
export interface ConfigSource {
    get(key: string): string | undefined;
}

export interface SnapshotSettings {
    /** Object-name prefix: snapshots live under "<prefix>/<clusterName>/<id>/". */
    prefix: string;
    retentionDays: number;
    /** RFC 3339 expiry of the pre-authenticated requests the nodes use (optional on `existing`). */
    parExpiresAt: string;
    kmsKeyId?: string;
}

export interface BackupSettings {
    /** systemd OnCalendar expression of the backup timer. */
    onCalendar: string;
    randomizedDelaySec: number;
    compression: Compression;
}

/** A node of the `existing` platform. */
export interface ExistingNode extends Host {
    address: string;
    user?: string;
    port?: number;
    /** The node's Ed25519 host key ("ssh-ed25519 AAAA...", or its known_hosts line), pinned by every command. */
    hostKey?: string;
}

/** Settings only the `oci` platform has: exactly what an OCI site takes. */
export type OciSettings = OciSiteSettings;

export interface SiteConfig {
    stack: string;
    role: Role;
    platform: Platform;
    region: string;
    peerStack?: string;
    oci?: OciSettings;
    lab?: LabSiteSettings;
    existingNodes?: ExistingNode[];
    /** Store URLs given by config (`existing`); the `oci` platform creates its own. Secrets. */
    storeUrls: { write?: string; read?: string };
    sshUser: string;
    sshPrivateKey: string;
    snapshots: SnapshotSettings;
    backup: BackupSettings;
    kubernetesApi: boolean;
    restoreSnapshot?: string;
    /**
     * Standby only, with a restore: this site becomes the active one. Its store takes the backups
     * (made writable where the platform replicates into it) and its control plane gets the timers.
     */
    promote: boolean;
    /**
     * Primary only, secret: the snapshot key to keep instead of generating one. A fail-back carries
     * the old primary's key here, so the snapshots already in the bucket stay readable.
     */
    encryptionKey?: string;
    /** The primary's complete spec, or what a standby's own config sets (compared later). */
    mirrored: PartialMirroredSpec;
}

export interface LoadResult {
    config?: SiteConfig;
    errors: string[];
    warnings: string[];
}

const OCID = /^ocid1\.(compartment|tenancy)\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9]+$/;

class Reader {
    readonly errors: string[] = [];
    readonly warnings: string[] = [];
    constructor(private readonly source: ConfigSource) {}

    raw(key: string): string | undefined {
        const value = this.source.get(qualified(key));
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

    json<T>(key: string, shape: "object" | "array", hint: string): T | undefined {
        const value = this.raw(key);
        if (value === undefined) return undefined;
        try {
            const parsed: unknown = JSON.parse(value);
            if (shape === "array" ? Array.isArray(parsed) : parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
                return parsed as T;
            }
        } catch {
            // reported below
        }
        this.errors.push(`${qualified(key)} must be ${hint}`);
        return undefined;
    }

    object<T>(key: string): Partial<T> | undefined {
        return this.json<Partial<T>>(key, "object", "an object (a YAML map in Pulumi.<stack>.yaml)");
    }

    ports(key: string, fallback: number[]): number[] {
        const value = this.json<unknown[]>(key, "array", "a list of TCP ports such as [22, 6443]");
        if (value === undefined) return fallback;
        if (value.every((p) => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536)) return value as number[];
        this.errors.push(`${qualified(key)} must be a list of TCP ports such as [22, 6443]`);
        return fallback;
    }

    cidr(key: string, value: string): void {
        if (!parseCidr(value)) {
            this.errors.push(`${qualified(key)} '${value}' is not an IPv4 network in CIDR form such as 10.0.0.0/16`);
        }
    }
}

function qualified(key: string): string {
    return key.includes(":") ? key : `${PROJECT}:${key}`;
}

/** Loads and validates one stack's config. `stack` is the short stack name. */
export function loadConfig(stack: string, source: ConfigSource): LoadResult {
    const read = new Reader(source);

    const roleText = read.required("role", "set it to primary or standby with `pulumi config set role primary`");
    const role = roleText as Role;
    if (roleText && !(ROLES as readonly string[]).includes(roleText)) {
        read.errors.push(`etcd-dr:role '${roleText}' is unknown; use primary or standby`);
    }
    const platform = read.string("platform", "oci") as Platform;
    if (!(PLATFORMS as readonly string[]).includes(platform)) {
        read.errors.push(`etcd-dr:platform '${platform}' is unknown; use ${PLATFORMS.join(" or ")}`);
    }

    const peerStack = read.string("peerStack");
    if (role === "standby" && !peerStack) {
        read.errors.push(
            "etcd-dr:peerStack is not set: a standby must name the primary stack, e.g. `pulumi config set peerStack org/etcd-dr/primary`",
        );
    }

    let region = read.string("oci:region") ?? "";
    let oci: OciSettings | undefined;
    let lab: LabSiteSettings | undefined;
    let existingNodes: ExistingNode[] | undefined;
    const promote = loadPromote(read, role);
    const storeUrls = { write: read.string("storeWriteUrl"), read: read.string("storeReadUrl") };
    if (platform === "oci") {
        region = read.required("oci:region", "set the site's OCI region with `pulumi config set oci:region us-ashburn-1`");
        if (region && !isOciRegion(region)) {
            read.errors.push(`oci:region '${region}' is not an OCI region identifier such as us-ashburn-1`);
        }
        oci = loadOci(read, role);
    } else if (platform === "existing") {
        existingNodes = loadExistingNodes(read);
        loadExistingStore(read, role, promote, storeUrls);
    } else if (platform === "lab") {
        lab = loadLab(read, role);
        region = `lab-${lab.site}`;
    }

    // OCI's Ubuntu images and the lab's log in as `ubuntu` (root login is refused there).
    const sshUser = read.string("sshUser", platform === "existing" ? "root" : "ubuntu") as string;
    const sshPrivateKey = read.required(
        "sshPrivateKey",
        "Pulumi reaches the nodes over SSH; run `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
    );

    const snapshots = loadSnapshots(read, platform);
    const backup = loadBackup(read);
    const kubernetesApi = read.boolean("kubernetesApi", KUBERNETES_API_BY_DEFAULT[platform]);
    const restoreSnapshot = loadRestoreSnapshot(read, role);
    const encryptionKey = read.string("encryptionKey");
    if (encryptionKey !== undefined && role === "standby") {
        read.errors.push("etcd-dr:encryptionKey is set on a standby: a standby decrypts with its primary's key; remove it with `pulumi config rm encryptionKey`");
    } else if (encryptionKey !== undefined && encryptionKey.length < 32) {
        read.errors.push("etcd-dr:encryptionKey is shorter than 32 characters: give the whole key, e.g. the old primary's `pulumi stack output --show-secrets encryptionKey`");
    }
    if (promote && role === "standby" && !restoreSnapshot) {
        read.errors.push(
            "etcd-dr:promote is set without etcd-dr:restoreSnapshot: a standby becomes the active site with the data it restored; set the snapshot to fail over to",
        );
    }
    const mirrored = loadMirrored(read, role, stack, existingNodes);

    const errors = [...read.errors];
    const warnings = [...read.warnings];
    if (role === "primary" && errors.length === 0) {
        const spec = mirrored as MirroredSpec;
        const vcns = oci ? [oci.vcnCidr, oci.peerVcnCidr ?? ""].filter(Boolean) : [];
        const checked = validateSpec(spec, vcns, platform !== "existing");
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
            peerStack,
            oci,
            lab,
            existingNodes,
            storeUrls,
            sshUser,
            sshPrivateKey,
            snapshots,
            backup,
            kubernetesApi,
            restoreSnapshot,
            promote,
            encryptionKey,
            mirrored,
        },
    };
}

function loadOci(read: Reader, role: Role): OciSettings {
    const compartmentId = read.required(
        "compartmentId",
        "set the OCID of the compartment that holds this site with `pulumi config set compartmentId ocid1.compartment...`",
    );
    if (compartmentId && !OCID.test(compartmentId)) {
        read.errors.push(`etcd-dr:compartmentId '${compartmentId}' is not a compartment or tenancy OCID`);
    }
    const vcnCidr = read.required("vcnCidr", "set this site's VCN range, e.g. `pulumi config set vcnCidr 10.10.0.0/16`");
    if (vcnCidr) read.cidr("vcnCidr", vcnCidr);
    const vcnParsed = parseCidr(vcnCidr);
    if (vcnParsed && (vcnParsed.prefix < 16 || vcnParsed.prefix > 24)) {
        read.errors.push(`etcd-dr:vcnCidr ${vcnCidr} must be between /16 and /24 (OCI limits; the site carves it into quarters)`);
    }
    let peerVcnCidr = read.string("peerVcnCidr");
    if (role === "standby" && peerVcnCidr) {
        read.warnings.push("etcd-dr:peerVcnCidr is ignored on a standby: the primary's vcnCidr output is used");
        peerVcnCidr = undefined;
    } else if (role === "primary") {
        if (!peerVcnCidr) {
            read.errors.push(
                "etcd-dr:peerVcnCidr is not set: the primary routes the standby's VCN through the DRG; set it to the standby's vcnCidr",
            );
        } else {
            read.cidr("peerVcnCidr", peerVcnCidr);
        }
    }
    if (peerVcnCidr && vcnCidr && cidrTextsOverlap(vcnCidr, peerVcnCidr)) {
        read.errors.push(`etcd-dr:vcnCidr ${vcnCidr} overlaps etcd-dr:peerVcnCidr ${peerVcnCidr}; peered VCNs need disjoint ranges`);
    }
    const operatorCidr = read.string("operatorCidr");
    if (operatorCidr) read.cidr("operatorCidr", operatorCidr);
    const bastion = read.boolean("bastion", false);
    // Nodes have private addresses only: Pulumi's SSH needs the bastion, or a route into the VCN.
    const privateAccess = read.boolean("privateAccess", false);
    if (!privateAccess && !bastion) {
        read.errors.push(
            "etcd-dr:bastion is false and the nodes have no public addresses, so Pulumi cannot reach them: set bastion true, or privateAccess true when Pulumi runs inside the VCN or over VPN/FastConnect",
        );
    } else if (!privateAccess && !operatorCidr) {
        read.errors.push(
            "etcd-dr:operatorCidr is not set, and the bastion admits SSH only from it: set it to the range Pulumi and operators connect from, or set privateAccess true",
        );
    }
    const region = read.string("oci:region") ?? "";
    const nodeImageId = read.required("nodeImageId", "set the OCID of the node image for this region (images are regional)");
    if (nodeImageId && ocidType(nodeImageId) !== "image") {
        read.errors.push(`etcd-dr:nodeImageId '${nodeImageId}' is not an image OCID (ocid1.image....)`);
    } else if (nodeImageId) {
        const wrongRegion = regionMismatch("etcd-dr:nodeImageId", nodeImageId, region);
        if (wrongRegion) read.errors.push(wrongRegion);
    }
    const sshPublicKey = readSshPublicKey(read, "set the public key that may log in to the nodes");
    const allowFromPeer = read.ports("allowFromPeer", [22, 6443]);

    const homeRegion = read.string("homeRegion");
    if (homeRegion && !isOciRegion(homeRegion)) {
        read.errors.push(`etcd-dr:homeRegion '${homeRegion}' is not an OCI region identifier such as us-ashburn-1`);
    }
    const policyCompartmentId = read.string("policyCompartmentId") ?? compartmentId;
    if (policyCompartmentId !== compartmentId && !OCID.test(policyCompartmentId)) {
        read.errors.push(`etcd-dr:policyCompartmentId '${policyCompartmentId}' is not a compartment or tenancy OCID`);
    }
    const tenancyId = read.string("oci:tenancyOcid");

    // The snapshot keys OCI itself checks; the generic ones are read by loadSnapshots. Quietly
    // parsed here: a malformed object is reported there, once.
    let store: { parExpiresAt?: unknown; kmsKeyId?: unknown; immutableDays?: unknown } = {};
    try {
        const parsed: unknown = JSON.parse(read.raw("snapshots") ?? "{}");
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) store = parsed;
    } catch {
        // reported by loadSnapshots
    }
    if (typeof store.parExpiresAt === "string" && looksLikeTime(store.parExpiresAt) && !isRfc3339(store.parExpiresAt)) {
        read.errors.push(
            `etcd-dr:snapshots.parExpiresAt '${store.parExpiresAt}' has no time zone; OCI takes RFC 3339 with Z or an offset, e.g. 2027-06-30T00:00:00Z`,
        );
    }
    if (typeof store.kmsKeyId === "string" && store.kmsKeyId) {
        if (ocidType(store.kmsKeyId) !== "key") {
            read.errors.push(`etcd-dr:snapshots.kmsKeyId '${store.kmsKeyId}' is not a Vault key OCID (ocid1.key....)`);
        } else {
            const wrongRegion = regionMismatch("etcd-dr:snapshots.kmsKeyId", store.kmsKeyId, region);
            if (wrongRegion) read.errors.push(wrongRegion);
        }
    }
    let immutableDays: number | undefined;
    if (store.immutableDays !== undefined) {
        if (Number.isInteger(store.immutableDays) && (store.immutableDays as number) >= 0) {
            immutableDays = store.immutableDays as number;
        } else {
            read.errors.push("etcd-dr:snapshots.immutableDays must be a whole number of days (0 turns the retention rule off)");
        }
    }

    return {
        compartmentId,
        vcnCidr,
        peerVcnCidr,
        operatorCidr,
        bastion,
        privateAccess,
        allowFromPeer,
        nodeImageId,
        sshPublicKey,
        immutableDays,
        iam: { homeRegion, tenancyId, policyCompartmentId },
    };
}

/** The key the platform's instances accept, as one OpenSSH public key line. */
function readSshPublicKey(read: Reader, hint: string): string {
    const key = read.required("sshPublicKey", hint);
    if (key && !/^(ssh-(ed25519|rsa)|ecdsa-sha2-\S+) \S+/.test(key)) {
        read.errors.push("etcd-dr:sshPublicKey is not an OpenSSH public key line (ssh-ed25519 AAAA...)");
    }
    return key;
}

function loadLab(read: Reader, role: Role): LabSiteSettings {
    const site = read.string("labSite", role === "standby" ? "standby" : "primary") as LabSiteSettings["site"];
    if (!(LAB_SITES as readonly string[]).includes(site)) {
        read.errors.push(`etcd-dr:labSite '${site}' is not one of the lab's networks; use primary or standby`);
    }
    const sshPublicKey = readSshPublicKey(read, "set the public key the lab's instances accept (the pair of sshPrivateKey)");
    return { site, sshPublicKey };
}

function loadExistingNodes(read: Reader): ExistingNode[] {
    const raw = read.json<Partial<ExistingNode>[]>("nodes", "array", "a list of nodes: {name, address, role, user?, port?, hostKey?}");
    if (raw === undefined) {
        if (read.raw("nodes") === undefined) {
            read.errors.push("etcd-dr:nodes is not set: the existing platform needs every node's host name, SSH address and role");
        }
        return [];
    }
    const nodes: ExistingNode[] = [];
    raw.forEach((node, i) => {
        const where = `etcd-dr:nodes[${i}]`;
        if (!node || typeof node.name !== "string" || typeof node.address !== "string" || !node.address) {
            read.errors.push(`${where} needs a name and an address`);
            return;
        }
        if (!isHostRole(node.role)) {
            read.errors.push(`${where} (${node.name}) has role '${String(node.role)}'; use control-plane or worker`);
            return;
        }
        if (node.port !== undefined && !(Number.isInteger(node.port) && node.port > 0 && node.port < 65536)) {
            read.errors.push(`${where} (${node.name}) has port '${String(node.port)}', which is not a TCP port`);
            return;
        }
        let hostKey: string | undefined;
        if (node.hostKey !== undefined) {
            try {
                hostKey = ed25519HostKey(String(node.hostKey), `${where} (${node.name}) hostKey`);
            } catch (error) {
                read.errors.push(`${(error as Error).message}: give the node's Ed25519 key as \`ssh-keyscan -t ed25519 ${node.address}\` prints it`);
                return;
            }
        }
        nodes.push({ name: node.name, address: node.address, role: node.role, user: node.user, port: node.port, ...(hostKey ? { hostKey } : {}) });
    });
    return nodes;
}

function loadExistingStore(read: Reader, role: Role, promote: boolean, urls: { write?: string; read?: string }): void {
    const needed: [string, string | undefined][] = role === "primary" ? [["storeWriteUrl", urls.write]] : [["storeReadUrl", urls.read]];
    // A promoted standby backs up too: into its own store, which the operator made writable.
    if (role === "standby" && promote) needed.push(["storeWriteUrl", urls.write]);
    for (const [key, value] of needed) {
        if (!value) {
            read.errors.push(
                `etcd-dr:${key} is not set: give the snapshot store's pre-authenticated request URL (ending in /o/) with \`pulumi config set --secret ${key} <url>\``,
            );
        }
    }
    for (const [key, value] of [["storeWriteUrl", urls.write], ["storeReadUrl", urls.read]] as const) {
        if (value && value !== "[secret]" && !/^https?:\/\/\S+\/o\/$/.test(value)) {
            read.errors.push(`etcd-dr:${key} must be a pre-authenticated request URL ending in /o/`);
        }
    }
}

function loadSnapshots(read: Reader, platform: Platform): SnapshotSettings {
    const given = read.object<SnapshotSettings>("snapshots") ?? {};
    const settings: SnapshotSettings = {
        prefix: given.prefix ?? "etcd",
        retentionDays: given.retentionDays ?? 14,
        parExpiresAt: given.parExpiresAt ?? "",
        kmsKeyId: given.kmsKeyId,
    };
    if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(settings.prefix)) {
        read.errors.push(`etcd-dr:snapshots.prefix '${settings.prefix}' may hold only letters, digits, '.', '_', '-' and '/'`);
    } else if (settings.prefix.split("/").some((segment) => segment === "." || segment === "..")) {
        // Stores and curl resolve dot segments: the objects would land outside the prefix the PARs are scoped to.
        read.errors.push(`etcd-dr:snapshots.prefix '${settings.prefix}' has a '.' or '..' segment; name the folders plainly`);
    }
    if (!Number.isInteger(settings.retentionDays) || settings.retentionDays < 1) {
        read.errors.push("etcd-dr:snapshots.retentionDays must be a whole number of days, at least 1");
    }
    if (!settings.parExpiresAt) {
        // Platforms that create the store create its pre-authenticated requests.
        if (platform === "oci" || platform === "lab") {
            read.errors.push(
                "etcd-dr:snapshots.parExpiresAt is not set: give the RFC 3339 time the nodes' pre-authenticated requests expire",
            );
        }
    } else if (Number.isNaN(Date.parse(settings.parExpiresAt)) || !/^\d{4}-\d{2}-\d{2}T/.test(settings.parExpiresAt)) {
        read.errors.push(`etcd-dr:snapshots.parExpiresAt '${settings.parExpiresAt}' is not an RFC 3339 time such as 2027-06-30T00:00:00Z`);
    }
    return settings;
}

function loadBackup(read: Reader): BackupSettings {
    const given = read.object<BackupSettings>("backup") ?? {};
    const settings: BackupSettings = {
        onCalendar: given.onCalendar ?? "*:0/15",
        randomizedDelaySec: given.randomizedDelaySec ?? 60,
        compression: given.compression ?? "zstd",
    };
    // The schedule lands in a systemd unit and a shell settings file: keep it to OnCalendar's own alphabet.
    if (!/^[A-Za-z0-9*:/,.~ -]+$/.test(settings.onCalendar)) {
        read.errors.push(`etcd-dr:backup.onCalendar '${settings.onCalendar}' is not a systemd OnCalendar expression such as *:0/15`);
    }
    if (!Number.isInteger(settings.randomizedDelaySec) || settings.randomizedDelaySec < 0) {
        read.errors.push("etcd-dr:backup.randomizedDelaySec must be a whole number of seconds");
    }
    if (!(COMPRESSIONS as readonly string[]).includes(settings.compression)) {
        read.errors.push(`etcd-dr:backup.compression '${settings.compression}' is not gzip, zstd or none`);
    }
    return settings;
}

function loadRestoreSnapshot(read: Reader, role: Role): string | undefined {
    const id = read.string("restoreSnapshot");
    if (id === undefined) return undefined;
    if (role === "primary") {
        read.errors.push(
            "etcd-dr:restoreSnapshot is set on a primary stack: restores run on the standby only; remove it with `pulumi config rm restoreSnapshot`",
        );
    }
    if (!parseSnapshotId(id)) {
        read.errors.push(
            `etcd-dr:restoreSnapshot '${id}' is not a snapshot id (YYYYMMDDTHHMMSSZ-r<revision>); \`npm run snapshots -- <stack>\` lists them`,
        );
    }
    return id;
}

function loadPromote(read: Reader, role: Role): boolean {
    const promote = read.boolean("promote", false);
    if (promote && role === "primary") {
        read.errors.push("etcd-dr:promote is set on a primary stack: the primary is the active site already; remove it with `pulumi config rm promote`");
    }
    return promote;
}

function loadMirrored(read: Reader, role: Role, stack: string, existingNodes?: ExistingNode[]): PartialMirroredSpec {
    const topology = read.object<Topology>("topology") ?? {};
    const cluster = read.object<ClusterSpec>("cluster") ?? {};
    if (existingNodes && existingNodes.length > 0) {
        checkNodesMatchTopology(read, existingNodes, topology);
    }
    if (role !== "primary") {
        return { topology, cluster };
    }
    // Only the primary fills defaults: a standby that leaves a key out takes the primary's value.
    const fromNodes = existingNodes
        ? {
              controlPlane: controlPlaneOf(existingNodes).map((n) => n.name),
              workers: workersOf(existingNodes).map((n) => n.name),
          }
        : {};
    const nodeSize: NodeSize = { ...DEFAULT_TOPOLOGY.nodeSize, ...(topology.nodeSize ?? {}) };
    return {
        topology: { ...DEFAULT_TOPOLOGY, clusterName: stackCluster(stack), ...fromNodes, ...topology, nodeSize },
        cluster: { ...DEFAULT_CLUSTER, ...cluster },
    };
}

/** On `existing`, the node list and the topology must name the same hosts in the same roles. */
function checkNodesMatchTopology(read: Reader, nodes: ExistingNode[], topology: Partial<Topology>): void {
    for (const node of nodes) {
        if (!isDnsLabel(node.name)) {
            read.errors.push(`etcd-dr:nodes host name '${node.name}' is not a valid DNS label`);
        }
    }
    for (const [role, key] of [["control-plane", "controlPlane"], ["worker", "workers"]] as const) {
        const listed = nodes.filter((n) => n.role === role).map((n) => n.name);
        const declared = topology[key];
        if (declared && listed.join(",") !== declared.join(",")) {
            read.errors.push(`etcd-dr:nodes lists ${role} hosts ${listed.join(",") || "none"} but topology.${key} is ${declared.join(",")}`);
        }
    }
}

function stackCluster(stack: string): string {
    return `k8s-${stack}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
}
