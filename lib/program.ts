// The stack program: typed config in; one site (OCI or existing hosts), the node toolkit, the
// backup timers or the restore out; outputs for the other stack and for operators.

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BackupSchedule } from "../components/backupSchedule";
import { ClusterApi } from "../components/clusterApi";
import { InstallationCheck } from "../components/installationCheck";
import { NodeToolkit } from "../components/nodeToolkit";
import { RestoreFromSnapshot } from "../components/restoreFromSnapshot";
import { PrimarySite, Site } from "../components/site";
import { cidrTextsOverlap } from "./cidr";
import { loadConfig, parExpiryWarning, SiteConfig } from "./config";
import { NodeConnection } from "./connection";
import { knownValue } from "./outputs";
import { httpFetch, runPrechecks } from "./prechecks";
import { shortStackName, snapshotPrefix } from "./names";
import { MirroredSpec, mirrorDifferences, specDigest, validateSpec } from "./spec";
import { readToolkit, ToolkitSettings } from "./toolkit";

/** Config problems end the program with one line each and no stack trace. */
export class ConfigProblems extends Error {
    constructor(readonly problems: string[]) {
        super(problems.join("\n"));
    }
}

/** Set by the offline plan: nothing outside this process can be reached. */
export const OFFLINE_ENV = "ETCD_DR_OFFLINE_PLAN";

function pulumiConfigSource() {
    return { get: (key: string) => pulumi.runtime.getConfig(key) };
}

function report(warnings: string[]): void {
    for (const warning of warnings) {
        void pulumi.log.warn(warning);
    }
}

// ---------------------------------------------------------------------------------------------
// the primary, as the standby sees it

interface PrimaryOutputs extends Partial<PrimarySite> {
    role: string;
    platform: string;
    clusterSpec: MirroredSpec;
    peerVcnCidr?: string;
    encryptionKey: string;
    adminKubeconfig?: string;
}

const ALWAYS = ["role", "platform", "clusterSpec", "encryptionKey"];
const OCI_ONLY = ["region", "compartmentId", "vcnCidr", "peerVcnCidr", "rpcId", "bucketName", "bucketNamespace"];

async function readPrimary(reference: pulumi.StackReference, name: string, platform: string): Promise<PrimaryOutputs> {
    const values: Record<string, unknown> = {};
    const wanted = [...ALWAYS, ...(platform === "oci" ? OCI_ONLY : []), "adminKubeconfig"];
    for (const key of wanted) {
        const details = await reference.getOutputDetails(key);
        values[key] = details.value ?? details.secretValue;
    }
    const missing = wanted.filter((k) => k !== "adminKubeconfig" && (values[k] === undefined || values[k] === null));
    if (missing.length === wanted.length - 1) {
        throw new ConfigProblems([`the primary stack '${name}' has no outputs yet: run \`pulumi up --stack ${shortStackName(name)}\` first`]);
    }
    if (missing.length > 0) {
        throw new ConfigProblems([`the primary stack '${name}' lacks the outputs ${missing.join(", ")}: update it with this version of etcd-dr first`]);
    }
    return values as unknown as PrimaryOutputs;
}

/** Everything a standby must agree on with its primary, as one line per disagreement. */
export function standbyProblems(config: SiteConfig, primary: PrimaryOutputs): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    if (primary.role !== "primary") {
        problems.push(`etcd-dr:peerStack '${config.peerStack}' has role '${primary.role}'; a standby must follow a primary stack`);
    }
    if (primary.platform !== config.platform) {
        problems.push(`the primary runs on platform '${primary.platform}' and this stack on '${config.platform}'; use the same platform on both`);
    }
    for (const difference of mirrorDifferences(primary.clusterSpec, config.mirrored)) {
        problems.push(`not mirrored: ${difference}; remove the key from this stack or make it equal`);
    }
    let vcns: string[] = [];
    if (config.oci && primary.vcnCidr) {
        vcns = [config.oci.vcnCidr, primary.vcnCidr];
        if (primary.peerVcnCidr !== config.oci.vcnCidr) {
            problems.push(`the primary routes its peer at ${primary.peerVcnCidr} but this stack's vcnCidr is ${config.oci.vcnCidr}; make them equal`);
        }
        if (cidrTextsOverlap(config.oci.vcnCidr, primary.vcnCidr)) {
            problems.push(`etcd-dr:vcnCidr ${config.oci.vcnCidr} overlaps the primary's VCN ${primary.vcnCidr}; peered VCNs need disjoint ranges`);
        }
        if (primary.region === config.region) {
            problems.push(`the standby is in the primary's region ${config.region}; put it in another region (oci:region)`);
        }
    }
    if (config.existingNodes) {
        const topology = primary.clusterSpec.topology;
        for (const [role, names] of [["control-plane", topology.controlPlane], ["worker", topology.workers]] as const) {
            const mine = config.existingNodes.filter((n) => n.role === role).map((n) => n.name);
            if (mine.join(",") !== names.join(",")) {
                problems.push(`etcd-dr:nodes lists ${role} hosts ${mine.join(",") || "none"} but the primary's are ${names.join(",")}; both sites need the same host names`);
            }
        }
    }
    const checked = validateSpec(primary.clusterSpec, vcns, config.platform === "oci");
    problems.push(...checked.errors);
    return { problems, warnings: checked.warnings };
}

// ---------------------------------------------------------------------------------------------
// the site's nodes and store, whichever platform

interface BuiltSite {
    controlPlane: NodeConnection[];
    workers: NodeConnection[];
    writeUrl?: pulumi.Output<string>;
    readUrl?: pulumi.Output<string>;
    apiEndpoint: pulumi.Input<string>;
    outputs: Record<string, unknown>;
}

function ociSite(config: SiteConfig, spec: MirroredSpec, primary: PrimaryOutputs | undefined, privateKey: pulumi.Output<string>): BuiltSite {
    const oci = config.oci as NonNullable<SiteConfig["oci"]>;
    const site = new Site(config.stack, {
        stack: config.stack,
        role: config.role,
        region: config.region,
        oci,
        snapshots: config.snapshots,
        spec,
        primary: primary as PrimarySite | undefined,
    });
    const bastion = site.nodes.bastion;
    const connect = (name: string, role: NodeConnection["role"], ip: string): NodeConnection => ({
        name,
        role,
        host: ip,
        port: 22,
        user: config.sshUser,
        privateKey,
        proxy: bastion ? { host: bastion.publicIp, user: config.sshUser, privateKey } : undefined,
    });
    const nodes = site.hosts.map((h) => connect(h.name, h.role, h.ip));
    return {
        controlPlane: nodes.filter((n) => n.role === "control-plane"),
        workers: nodes.filter((n) => n.role === "worker"),
        writeUrl: site.store.writeUrl,
        readUrl: site.store.readUrl,
        apiEndpoint: site.hosts[0].ip,
        outputs: {
            compartmentId: oci.compartmentId,
            vcnCidr: oci.vcnCidr,
            peerVcnCidr: site.peerVcnCidr,
            vcnId: site.network.vcn.id,
            drgId: site.network.drg.id,
            rpcId: site.peering.connection.id,
            bucketName: site.store.bucket.name,
            bucketNamespace: site.store.namespace,
            parUrls: { backupWrite: site.store.writeUrl, restoreRead: site.store.readUrl },
            nodes: site.nodeOutputs.map((n) => ({ name: n.name, role: n.role, privateIp: n.privateIp })),
            ...(bastion ? { bastionPublicIp: bastion.publicIp } : {}),
            ...(primary
                ? { replication: { fromRegion: primary.region, fromBucket: primary.bucketName, toRegion: config.region, toBucket: site.store.bucket.name } }
                : {}),
        },
    };
}

function existingSite(config: SiteConfig, privateKey: pulumi.Output<string>): BuiltSite {
    const nodes: NodeConnection[] = (config.existingNodes ?? []).map((n) => ({
        name: n.name,
        role: n.role,
        host: n.address,
        port: n.port ?? 22,
        user: n.user ?? config.sshUser,
        privateKey,
    }));
    const secretUrl = (url?: string) => (url ? pulumi.secret(url) : undefined);
    return {
        controlPlane: nodes.filter((n) => n.role === "control-plane"),
        workers: nodes.filter((n) => n.role === "worker"),
        writeUrl: secretUrl(config.storeUrls.write),
        readUrl: secretUrl(config.storeUrls.read),
        apiEndpoint: nodes.find((n) => n.role === "control-plane")?.host ?? "",
        outputs: { nodes: (config.existingNodes ?? []).map((n) => ({ name: n.name, role: n.role, address: n.address })) },
    };
}

// ---------------------------------------------------------------------------------------------
// the restore, after its prechecks

async function restore(
    config: SiteConfig,
    spec: MirroredSpec,
    site: BuiltSite,
    toolkit: NodeToolkit,
    now: Date,
): Promise<RestoreFromSnapshot> {
    const id = config.restoreSnapshot as string;
    const offline = process.env[OFFLINE_ENV] === "1";
    const checked = await runPrechecks({
        snapshotId: id,
        readUrl: offline ? undefined : await knownValue(site.readUrl),
        prefix: config.snapshots.prefix,
        cluster: spec.topology.clusterName,
        controlPlane: spec.topology.controlPlane,
        kubernetesVersion: spec.cluster.kubernetesVersion,
        etcdVersion: spec.cluster.etcdVersion,
        parExpiresAt: config.snapshots.parExpiresAt || undefined,
        now,
        offline,
        fetch: httpFetch,
    });
    for (const skipped of checked.skipped) {
        void pulumi.log.info(skipped);
    }
    if (checked.problems.length > 0) {
        throw new ConfigProblems(checked.problems.map((p) => `restore refused before touching any node: ${p}`));
    }
    return new RestoreFromSnapshot(`${config.stack}-restore`, {
        snapshotId: id,
        controlPlane: site.controlPlane,
        workers: site.workers,
        ready: toolkit.ready,
        reconcileWorkloads: config.kubernetesApi,
    });
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
        primary = await readPrimary(new pulumi.StackReference(peerStack), peerStack, config.platform);
        const { problems, warnings } = standbyProblems(config, primary);
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

    const privateKey = pulumi.secret(config.sshPrivateKey);
    const site = config.platform === "oci" ? ociSite(config, spec, primary, privateKey) : existingSite(config, privateKey);

    // Generated once by the primary; the standby decrypts with the same key, read as a secret.
    const encryptionKey = primary
        ? pulumi.secret(primary.encryptionKey)
        : new random.RandomPassword(`${stack}-snapshot-encryption-key`, { length: 48, special: false }).result;
    const settings: pulumi.Output<ToolkitSettings> = pulumi.all([site.writeUrl, site.readUrl]).apply(([writeUrl, readUrl]) => ({
        cluster: spec.topology.clusterName,
        prefix: config.snapshots.prefix,
        members: spec.topology.controlPlane,
        kubernetesVersion: spec.cluster.kubernetesVersion,
        writeUrl: config.role === "primary" ? writeUrl : undefined,
        readUrl,
        onCalendar: config.backup.onCalendar,
        randomizedDelaySec: config.backup.randomizedDelaySec,
        compression: config.backup.compression,
    }));
    const toolkitText = readToolkit();
    const toolkit = new NodeToolkit(`${stack}-toolkit`, {
        nodes: site.controlPlane,
        toolkit: toolkitText,
        settings: pulumi.secret(settings),
        encryptionKey,
    });

    const outputs: Record<string, unknown> = {
        role: config.role,
        platform: config.platform,
        region: config.region,
        ...site.outputs,
        hostNames: [...spec.topology.controlPlane, ...spec.topology.workers],
        clusterSpec: spec,
        siteSpec: specDigest(spec),
        parExpiresAt: config.snapshots.parExpiresAt,
        encryptionKey: pulumi.secret(encryptionKey),
        snapshotStore: {
            cluster: spec.topology.clusterName,
            prefix: snapshotPrefix(config.snapshots.prefix, spec.topology.clusterName),
            writeUrl: site.writeUrl,
            readUrl: site.readUrl,
        },
        toolkitDigest: toolkit.toolkitDigest,
    };

    const installed = Object.fromEntries(Object.entries(toolkit.ready).map(([node, resources]) => [node, [...resources]]));
    if (config.role === "primary") {
        const backup = new BackupSchedule(`${stack}-backup`, {
            nodes: site.controlPlane,
            toolkit,
            onCalendar: config.backup.onCalendar,
            randomizedDelaySec: config.backup.randomizedDelaySec,
        });
        outputs.backup = { schedule: backup.schedule, nodes: backup.nodes };
        site.controlPlane.forEach((node, i) => installed[node.name].push(backup.timers[i]));
    }
    new InstallationCheck(`${stack}-installed`, {
        nodes: site.controlPlane,
        toolkit: toolkitText,
        toolkitSha256: toolkit.toolkitDigest,
        backups: config.role === "primary",
        after: installed,
    });

    let restored: RestoreFromSnapshot | undefined;
    if (config.restoreSnapshot) {
        restored = await restore(config, spec, site, toolkit, now);
        outputs.restore = {
            snapshotId: restored.snapshotId,
            restoredRevision: restored.restoredRevision,
            startTime: restored.report.startTime,
            endTime: restored.report.endTime,
            durationSeconds: restored.report.durationSeconds,
            phaseSeconds: restored.report.phaseSeconds,
        };
    }

    if (config.kubernetesApi) {
        const api = new ClusterApi(`${stack}-kubernetes`, {
            controlPlane: site.controlPlane[0],
            endpoint: site.apiEndpoint,
            peerKubeconfig: primary?.adminKubeconfig ? pulumi.secret(primary.adminKubeconfig) : undefined,
            restored: restored
                ? { snapshotId: restored.snapshotId, revision: restored.restoredRevision, at: restored.report.endTime, after: restored }
                : undefined,
        });
        outputs.adminKubeconfig = api.kubeconfig;
        if (api.parity) outputs.kubeadmParity = api.parity;
    } else {
        void pulumi.log.info(
            "Kubernetes API checks skipped (etcd-dr:kubernetesApi is false): no kubeadm-config parity check, no kube-system/etcd-dr-status record",
        );
    }
    return outputs;
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
            throw new pulumi.RunError(`${error.problems.length} problem(s) above; nothing was changed`);
        }
        throw error;
    }
}
