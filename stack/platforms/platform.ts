// A platform is where a site's nodes and snapshot store come from. Each one is an adapter with
// this shape; the stack program and the components never ask which platform they run on.

import * as pulumi from "@pulumi/pulumi";
import { NodeConnection } from "../../lib/connection";
import { MirroredSpec } from "../../lib/spec";
import { SiteConfig } from "../config";
import { Exported, PrimaryView, SiteNodeOutput, SiteOutputs } from "../contract";

export interface SiteContext {
    config: SiteConfig;
    spec: MirroredSpec;
    /** Standby only: the primary, as its stack outputs describe it. */
    primary?: PrimaryView;
    /** Secret: the key Pulumi logs in to every node with. */
    privateKey: pulumi.Output<string>;
}

/** A site's nodes and store, whichever platform made them. */
export interface BuiltSite {
    controlPlane: NodeConnection[];
    workers: NodeConnection[];
    /** Write-only store URL for backups; secret. Present on the active site (`isActiveSite`). */
    writeUrl?: pulumi.Output<string>;
    /** Read + list store URL of the replica (standby, promoted or not); secret. */
    readUrl?: pulumi.Output<string>;
    /**
     * A promoted standby: what turned its replica into a store that takes writes (on OCI the
     * MakeBucketWritable call). The backup timers wait for it.
     */
    storeWritable?: pulumi.Resource[];
    /** Where Pulumi reaches the Kubernetes API server. */
    apiEndpoint: pulumi.Input<string>;
    nodes: Exported<SiteNodeOutput[]>;
    /** The platform's own part of the stack outputs. */
    outputs: Partial<{ [K in "oci" | "lab"]: Exported<SiteOutputs[K]> }>;
}

export interface PlatformAdapter {
    /** The VCN ranges the cluster's pod and service subnets must not overlap. */
    siteRanges(config: SiteConfig, primary?: PrimaryView): string[];
    /** True where the program bootstraps kubeadm itself (the spec must say how). */
    bootstrapsNodes: boolean;
    /** Standby only: what must agree with the primary beyond the mirrored spec; one line each. */
    peerProblems(config: SiteConfig, primary: PrimaryView): string[];
    /**
     * The site, as its config says. A standby with `promote` is the active site: the adapter makes
     * its replica take writes in the standby's own region, without a call to the primary's (which
     * may be the one that failed), and returns `writeUrl` and `storeWritable` for it.
     */
    build(context: SiteContext): BuiltSite;
}

/** The site whose nodes take the backups: the primary, or a standby promoted by a failover. */
export function isActiveSite(config: Pick<SiteConfig, "role" | "promote">): boolean {
    return config.role === "primary" || config.promote;
}

/**
 * What a site's nodes may do with its snapshot store: the active site writes backups, a standby
 * reads and lists its replica during a restore, and a promoted standby does both.
 */
export function storeAccess(config: Pick<SiteConfig, "role" | "promote">): ("backup-write" | "restore-read")[] {
    return [...(isActiveSite(config) ? ["backup-write" as const] : []), ...(config.role === "standby" ? ["restore-read" as const] : [])];
}

/** The store URLs a stack's config gives (platforms that do not create a store); secrets. */
export function configuredStore(config: SiteConfig): Pick<BuiltSite, "writeUrl" | "readUrl"> {
    const secret = (url?: string) => (url ? pulumi.secret(url) : undefined);
    return { writeUrl: secret(config.storeUrls.write), readUrl: secret(config.storeUrls.read) };
}
