// The stack program: typed config in, one Site out, outputs for the other stack and for operators.

import * as pulumi from "@pulumi/pulumi";
import { PrimarySite, Site } from "../components/site";
import { loadConfig, parExpiryWarning, SiteConfig } from "./config";
import { cidrTextsOverlap } from "./cidr";
import { shortStackName } from "./names";
import { MirroredSpec, mirrorDifferences, specDigest, validateSpec } from "./spec";

/** Config problems end the program with one line each and no stack trace. */
export class ConfigProblems extends Error {
    constructor(readonly problems: string[]) {
        super(problems.join("\n"));
    }
}

function pulumiConfigSource() {
    return { get: (key: string) => pulumi.runtime.getConfig(key) };
}

interface PrimaryOutputs extends PrimarySite {
    role: string;
    clusterSpec: MirroredSpec;
    peerVcnCidr: string;
}

const PRIMARY_KEYS: (keyof PrimaryOutputs)[] = [
    "role", "region", "compartmentId", "vcnCidr", "peerVcnCidr", "rpcId", "bucketName", "bucketNamespace", "clusterSpec",
];

async function readPrimary(reference: pulumi.StackReference, name: string): Promise<PrimaryOutputs> {
    const values: Record<string, unknown> = {};
    const missing: string[] = [];
    for (const key of PRIMARY_KEYS) {
        const details = await reference.getOutputDetails(key);
        const value = details.value ?? details.secretValue;
        if (value === undefined || value === null) missing.push(key);
        values[key] = value;
    }
    if (missing.length === PRIMARY_KEYS.length) {
        throw new ConfigProblems([`the primary stack '${name}' has no outputs yet: run \`pulumi up --stack ${shortStackName(name)}\` first`]);
    }
    if (missing.length > 0) {
        throw new ConfigProblems([`the primary stack '${name}' lacks the outputs ${missing.join(", ")}: update it with this version of etcd-dr first`]);
    }
    return values as unknown as PrimaryOutputs;
}

/** Everything a standby must agree on with its primary, as one line per disagreement. */
export function standbyProblems(config: SiteConfig, primary: PrimaryOutputs, peerStack: string): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    if (primary.role !== "primary") {
        problems.push(`etcd-dr:peerStack '${peerStack}' has role '${primary.role}'; a standby must follow a primary stack`);
    }
    for (const difference of mirrorDifferences(primary.clusterSpec, config.mirrored)) {
        problems.push(`not mirrored: ${difference}; remove the key from this stack or make it equal`);
    }
    if (primary.peerVcnCidr !== config.vcnCidr) {
        problems.push(
            `the primary routes its peer at ${primary.peerVcnCidr} but this stack's vcnCidr is ${config.vcnCidr}; make them equal`,
        );
    }
    if (cidrTextsOverlap(config.vcnCidr, primary.vcnCidr)) {
        problems.push(`etcd-dr:vcnCidr ${config.vcnCidr} overlaps the primary's VCN ${primary.vcnCidr}; peered VCNs need disjoint ranges`);
    }
    if (primary.region === config.region) {
        problems.push(`the standby is in the primary's region ${config.region}; put it in another region (oci:region)`);
    }
    const checked = validateSpec(primary.clusterSpec, [config.vcnCidr, primary.vcnCidr]);
    problems.push(...checked.errors);
    return { problems, warnings: checked.warnings };
}

function report(warnings: string[]): void {
    for (const warning of warnings) {
        void pulumi.log.warn(warning);
    }
}

/** Runs the program for the current stack and returns its outputs. */
export async function runSite(now: Date = new Date()): Promise<Record<string, unknown>> {
    const stack = pulumi.getStack();
    const loaded = loadConfig(stack, pulumiConfigSource());
    report(loaded.warnings);
    if (!loaded.config) {
        throw new ConfigProblems(loaded.errors);
    }
    const config = loaded.config;

    let spec: MirroredSpec;
    let primary: PrimaryOutputs | undefined;
    if (config.role === "standby") {
        const peerStack = config.peerStack as string;
        const reference = new pulumi.StackReference(peerStack);
        primary = await readPrimary(reference, peerStack);
        const { problems, warnings } = standbyProblems(config, primary, peerStack);
        report(warnings);
        if (problems.length > 0) {
            throw new ConfigProblems(problems);
        }
        spec = primary.clusterSpec;
    } else {
        spec = config.mirrored as MirroredSpec;
    }
    const expiry = parExpiryWarning(config.snapshots.parExpiresAt, now);
    if (expiry) report([expiry]);

    const site = new Site(stack, { config, spec, primary });
    return {
        role: config.role,
        region: config.region,
        compartmentId: config.compartmentId,
        vcnCidr: config.vcnCidr,
        peerVcnCidr: site.peerVcnCidr,
        vcnId: site.network.vcn.id,
        drgId: site.network.drg.id,
        rpcId: site.peering.connection.id,
        bucketName: site.store.bucket.name,
        bucketNamespace: site.store.namespace,
        snapshotPrefix: site.store.prefix,
        parExpiresAt: config.snapshots.parExpiresAt,
        parUrls: { backupWrite: site.store.writeUrl, restoreRead: site.store.readUrl },
        ...(primary
            ? { replication: { fromRegion: primary.region, fromBucket: primary.bucketName, toRegion: config.region, toBucket: site.store.bucket.name } }
            : {}),
        nodes: site.nodeOutputs.map((n) => ({ name: n.name, role: n.role, privateIp: n.privateIp })),
        hostNames: site.hosts.map((h) => h.name),
        clusterSpec: spec,
        siteSpec: specDigest(spec),
    };
}

/** Entry for the Pulumi runtime: config problems become error lines and a clean RunError. */
export async function main(): Promise<Record<string, unknown>> {
    try {
        return await runSite();
    } catch (error) {
        if (error instanceof ConfigProblems) {
            for (const problem of error.problems) {
                await pulumi.log.error(problem);
            }
            throw new pulumi.RunError(`${error.problems.length} configuration problem(s) above; nothing was changed`);
        }
        throw error;
    }
}
