// The stack program: typed config in; one site from its platform adapter, the node toolkit, the
// backup timers or the restore out; the SiteOutputs contract for the other stack and for operators.

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BackupSchedule } from "../components/dr/backupSchedule";
import { InstallationCheck } from "../components/dr/installationCheck";
import { NodeToolkit } from "../components/dr/nodeToolkit";
import { RestoreFromSnapshot } from "../components/dr/restoreFromSnapshot";
import { ClusterApi } from "../components/k8s/clusterApi";
import { parExpiryWarning } from "../lib/par";
import { MirroredSpec, mirrorDifferences, specDigest, validateSpec } from "../lib/spec";
import { checkStateBackend, currentBackendUrl } from "../lib/stateBackend";
import { snapshotPrefix } from "../lib/store";
import { readToolkit, ToolkitSettings } from "../lib/toolkit";
import { loadConfig, SiteConfig } from "./config";
import { ExportedSiteOutputs, PrimaryView, readPrimary } from "./contract";
import { PLATFORM_ADAPTERS } from "./platforms";
import { isActiveSite } from "./platforms/platform";
import { ConfigProblems } from "./problems";
import { restoreSite } from "./restore";

export { ConfigProblems } from "./problems";

function pulumiConfigSource() {
    return { get: (key: string) => pulumi.runtime.getConfig(key) };
}

function report(warnings: string[]): void {
    for (const warning of warnings) {
        void pulumi.log.warn(warning);
    }
}

/** Everything a standby must agree on with its primary, as one line per disagreement. */
export function standbyProblems(config: SiteConfig, primary: PrimaryView): { problems: string[]; warnings: string[] } {
    const problems: string[] = [];
    if (primary.role !== "primary") {
        problems.push(`etcd-dr:peerStack '${config.peerStack}' has role '${primary.role}'; a standby must follow a primary stack`);
    }
    if (primary.platform !== config.platform) {
        problems.push(`the primary runs on platform '${primary.platform}' and this stack on '${config.platform}'; use the same platform on both`);
        return { problems, warnings: [] };
    }
    for (const difference of mirrorDifferences(primary.clusterSpec, config.mirrored)) {
        problems.push(`not mirrored: ${difference}; remove the key from this stack or make it equal`);
    }
    const platform = PLATFORM_ADAPTERS[config.platform];
    problems.push(...platform.peerProblems(config, primary));
    const checked = validateSpec(primary.clusterSpec, platform.siteRanges(config, primary), platform.bootstrapsNodes);
    problems.push(...checked.errors);
    return { problems, warnings: checked.warnings };
}

/** The mirrored spec this stack builds: its own on a primary, the primary's on a standby. */
async function mirroredSpec(config: SiteConfig): Promise<{ spec: MirroredSpec; primary?: PrimaryView }> {
    if (config.role !== "standby") {
        return { spec: config.mirrored as MirroredSpec };
    }
    const peerStack = config.peerStack as string;
    const primary = await readPrimary(new pulumi.StackReference(peerStack), peerStack);
    const { problems, warnings } = standbyProblems(config, primary);
    report(warnings);
    if (problems.length > 0) {
        throw new ConfigProblems(problems);
    }
    return { spec: primary.clusterSpec, primary };
}

/** Runs the program for the current stack and returns its outputs. */
export async function runSite(now: Date = new Date()): Promise<ExportedSiteOutputs> {
    const stack = pulumi.getStack();
    const loaded = loadConfig(stack, pulumiConfigSource());
    report(loaded.warnings);
    if (!loaded.config) {
        throw new ConfigProblems(loaded.errors);
    }
    const config = loaded.config;
    const { spec, primary } = await mirroredSpec(config);
    const backend = checkStateBackend(currentBackendUrl(), primary ? primary.region : config.region, primary ? config.region : undefined);
    report(backend.warnings);
    if (backend.errors.length > 0) throw new ConfigProblems(backend.errors);
    const expiry = parExpiryWarning(config.snapshots.parExpiresAt, now);
    if (expiry) report([expiry]);

    const privateKey = pulumi.secret(config.sshPrivateKey);
    const site = PLATFORM_ADAPTERS[config.platform].build({ config, spec, primary, privateKey });

    // Generated once by the primary (or carried over to a new primary by a fail-back, so the
    // bucket's snapshots stay readable); the standby decrypts with the same key, read as a secret.
    const encryptionKey = primary
        ? pulumi.secret(primary.encryptionKey)
        : config.encryptionKey
          ? pulumi.secret(config.encryptionKey)
          : new random.RandomPassword(`${stack}-snapshot-encryption-key`, { length: 48, special: false }).result;
    const settings: pulumi.Output<ToolkitSettings> = pulumi.all([site.writeUrl, site.readUrl]).apply(([writeUrl, readUrl]) => ({
        cluster: spec.topology.clusterName,
        prefix: config.snapshots.prefix,
        members: spec.topology.controlPlane,
        kubernetesVersion: spec.cluster.kubernetesVersion,
        writeUrl: isActiveSite(config) ? writeUrl : undefined,
        readUrl,
        onCalendar: config.backup.onCalendar,
        randomizedDelaySec: config.backup.randomizedDelaySec,
        compression: config.backup.compression,
    }));
    const toolkitText = readToolkit();
    const toolkit = new NodeToolkit(`${stack}-toolkit`, {
        nodes: site.controlPlane,
        workers: site.workers,
        toolkit: toolkitText,
        settings: pulumi.secret(settings),
        encryptionKey,
    });

    const outputs: ExportedSiteOutputs = {
        role: config.role,
        platform: config.platform,
        region: config.region,
        ...site.outputs,
        nodes: site.nodes,
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

    let restored: RestoreFromSnapshot | undefined;
    if (config.restoreSnapshot) {
        restored = await restoreSite(config, config.restoreSnapshot, spec, site, toolkit, now, encryptionKey);
        const manifestSha256 = restored.manifestSha256;
        outputs.restore = pulumi.all([restored.restoredRevision, restored.report]).apply(([restoredRevision, phases]) => ({
            snapshotId: config.restoreSnapshot as string,
            ...(manifestSha256 ? { manifestSha256 } : {}),
            restoredRevision,
            ...phases,
        }));
    }

    let backup: BackupSchedule | undefined;
    if (isActiveSite(config)) {
        // A promoted standby backs up what it restored, once its store takes writes: a timer that
        // fired before the restore would commit the standby's own old data as the newest snapshot.
        const after = [...(restored ? [restored] : []), ...(site.storeWritable ?? [])];
        const nodes = site.controlPlane.map((n) => ({ ...n, readyAfter: [...(n.readyAfter ?? []), ...after] }));
        backup = new BackupSchedule(`${stack}-backup`, { nodes, toolkit });
        outputs.backup = { schedule: config.backup.onCalendar, nodes: backup.nodes };
    }
    if (config.promote) {
        report([
            `etcd-dr:promote: ${stack} becomes the active site after restoring ${config.restoreSnapshot}: its store takes the backups and its control plane gets the timers; fail back later by swapping the roles (README, "Fail back")`,
        ]);
    }
    new InstallationCheck(`${stack}-installed`, { nodes: site.controlPlane, toolkitText, toolkit, backup });

    if (config.kubernetesApi) {
        const api = new ClusterApi(`${stack}-kubernetes`, {
            controlPlane: site.controlPlane[0],
            endpoint: site.apiEndpoint,
            apiAlias: spec.topology.apiAlias,
            // Parity is checked when the standby is built, never during a failover: the primary's
            // API may be gone with its region (and after the restore the kubeadm-config is its own).
            peerKubeconfig: primary?.adminKubeconfig && !config.restoreSnapshot ? pulumi.secret(primary.adminKubeconfig) : undefined,
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
export async function main(): Promise<ExportedSiteOutputs> {
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
