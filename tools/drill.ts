// The DR drill, offline, on the lab's local cloud with the real Pulumi engine:
//
//   engine -> Kubernetes supply -> lab/cloud.sh up -> pulumi up lab-primary (a kubeadm site built
//   from nothing, backup timers) -> pulumi up lab-standby (the same host names, the replica)
//   -> Kubernetes objects through the primary's API, raw keys into its etcd -> a *scheduled*
//      snapshot, replicated -> failover: restoreSnapshot=<id>, pulumi up -> verify the raw keys byte
//      for byte and the standby as a cluster (objects and UIDs, tokens, nodes, pods; k8sDataset.ts)
//   -> more data -> newer snapshot -> new id, pulumi up (the chain is replaced) -> verify
//   -> pulumi preview --refresh --run-program --expect-no-changes on both stacks (the program opens
//      the tunnel to each site's API that the refresh reads through)
//   -> one JSON summary line, last.
//
// `make drill` runs it; test/e2e runs the same steps with assertions. The lab stays up afterwards.
// ETCD_DR_DRILL_TOPOLOGY (default 3+1) sets each site's control-plane nodes and workers.

import { execFileSync } from "child_process";
import * as path from "path";
import { parseSnapshotId } from "../lib/snapshot";
import { dumpOf, expectedDump, loadDataSet, makeDataSet, membership } from "./dataset";
import { KubeVerified, makeKubeDataSet, verifyKubeStandby, writeKubeDataSet } from "./k8sDataset";
import { LabAccess, waitFor } from "./lab";
import { checkRestoredRange, PodRangeSkew, skewPodRange } from "./podRanges";
import { checkSite, SiteChecked } from "./siteCheck";
import { hostNames, labClusterConfig, labFromStacks, LabTopology, parseTopology, readSupply, STACKS, writeLabStacks } from "./labStacks";
import { engineEnv, Pulumi, ROOT } from "./pulumiCli";

export { engineEnv, Pulumi, ROOT } from "./pulumiCli";
export { STACKS } from "./labStacks";

export interface DrillOptions {
    keys: number;
    bigValues: number;
    topology: LabTopology;
    log: (line: string) => void;
}

export interface DrillSummary {
    drill: "passed";
    snapshots: { first: string; second: string };
    keysVerified: { first: number; second: number };
    rpoSeconds: { first: number; second: number };
    rtoSeconds: { first: number; second: number };
    restorePhaseSeconds: { first: Record<string, number>; second: Record<string, number> };
    chainReplaced: number;
    /** What each failover's standby cluster proved: the primary's objects, tokens, nodes, workloads. */
    kubernetes: { first: KubeVerified; second: KubeVerified };
    /** Each site as built, before any DR step: nodes Ready, kube-system running, the OCI image's behaviour. */
    sites: { primary: SiteChecked; standby: SiteChecked };
    /** The standby's worker made to run another pod range than the primary's node of that name. */
    podRangeSkew: PodRangeSkew | null;
    topology: string;
    setupSeconds: { engine: number; supply: number; cloud: number; primary: number; standby: number };
    driftPreview: "no changes";
    totalSeconds: number;
}

/** The newest snapshot in the replica at or past a revision, as the standby's toolkit lists it. */
export async function waitForSnapshot(lab: LabAccess, revision: number, timeoutMs: number): Promise<string> {
    return waitFor(`a scheduled snapshot at revision >= ${revision} in the replica`, timeoutMs, () => {
        const run = lab.ssh("standby", lab.controlPlane("standby")[0].name, "etcd-dr list --json");
        if (run.status !== 0) return undefined;
        const found = (JSON.parse(run.stdout) as { id: string; revision: number }[]).find((s) => s.revision >= revision);
        return found?.id;
    });
}


function seconds(since: number): number {
    return Math.round((Date.now() - since) / 100) / 10;
}

// ---------------------------------------------------------------------------------------------
// the drill

export interface Failover {
    rtoSeconds: number;
    rpoSeconds: number;
    phaseSeconds: Record<string, number>;
    upOutput: string;
}

/** Sets the id and runs the standby's `pulumi up`: `--skip-preview`, the runbook's command, unless `preview`. */
export function failover(pulumi: Pulumi, lab: LabAccess, snapshotId: string, options: { preview?: boolean } = {}): Failover {
    pulumi.ok(["config", "set", "--stack", STACKS.standby, "restoreSnapshot", snapshotId]);
    const started = Date.now();
    const upOutput = pulumi.ok(["up", "--stack", STACKS.standby, "--yes", ...(options.preview ? [] : ["--skip-preview"])]);
    const rtoSeconds = seconds(started);
    const created = parseSnapshotId(snapshotId)?.createdAt.getTime() ?? started;
    const restore = pulumi.outputs(STACKS.standby).restore as { snapshotId: string; restoredRevision: number; phaseSeconds: Record<string, number> };
    if (restore?.snapshotId !== snapshotId) {
        throw new Error(`the standby's restore output names ${restore?.snapshotId}, not ${snapshotId}`);
    }
    const status = restoreStatus(lab);
    if (status.snapshotId !== snapshotId || status.revision !== String(restore.restoredRevision)) {
        throw new Error(`kube-system/etcd-dr-status on the standby says ${JSON.stringify(status)}; the restore was ${snapshotId} at revision ${restore.restoredRevision}`);
    }
    return { rtoSeconds, rpoSeconds: Math.round((started - created) / 1000), phaseSeconds: restore.phaseSeconds, upOutput };
}

/** What the program recorded through the standby's API after its restore (ClusterApi). */
export function restoreStatus(lab: LabAccess): Record<string, string> {
    const configMap = JSON.parse(lab.kubectl("standby", "-n kube-system get configmap etcd-dr-status -o json")) as { data?: Record<string, string> };
    return configMap.data ?? {};
}

/** The program's kubeadm-config parity check, as the standby's stack output reports it. */
export function kubeadmParity(pulumi: Pulumi): string[] {
    const parity = pulumi.outputs(STACKS.standby).kubeadmParity;
    if (!Array.isArray(parity)) {
        throw new Error("the standby has no kubeadmParity output: the program did not read both sites' kubeadm-config through the Kubernetes API");
    }
    return parity as string[];
}

export function verifyStandby(lab: LabAccess, expected: { sha256: string; keys: number }, controlPlane: string[]): void {
    const actual = dumpOf(lab, "standby");
    if (actual.sha256 !== expected.sha256 || actual.keys !== expected.keys) {
        throw new Error(`the standby's /registry/ differs from the data written: ${actual.keys} keys (sha256 ${actual.sha256}), expected ${expected.keys} (${expected.sha256})`);
    }
    const members = membership(lab, "standby");
    const wrong = members.filter((m) => m.peerUrl !== `https://${m.name}:2380`);
    if (members.map((m) => m.name).join(",") !== [...controlPlane].sort().join(",") || wrong.length > 0) {
        throw new Error(`the standby's members are ${JSON.stringify(members)}; expected ${controlPlane.join(",")} with host-name peer URLs`);
    }
}

/** Lines of `pulumi up` that show a restore step ended with one of `outcomes` (e.g. `+-` ... replaced). */
export function restoreSteps(upOutput: string, outcomes: ("replaced" | "created" | "updated")[] = ["replaced"]): string[] {
    const pattern = new RegExp(`^\\s*(\\+-|\\+|~)\\s+command:remote:Command\\s+lab-standby-restore-\\S+\\s+(${outcomes.join("|")})\\b`);
    return upOutput.split("\n").filter((l) => pattern.test(l));
}

export async function runDrill(options: DrillOptions): Promise<DrillSummary> {
    const log = options.log;
    const begin = Date.now();

    let t = Date.now();
    log("building or reusing the offline Pulumi engine");
    const pulumi = new Pulumi(engineEnv());
    const engineSeconds = seconds(t);

    t = Date.now();
    log("building or reusing the Kubernetes supply (packages and images of the lab's clusters)");
    const supply = readSupply();
    const supplySeconds = seconds(t);

    t = Date.now();
    log("a fresh local cloud: site networks, package repository, registry, object storage");
    const cloud = path.join(ROOT, "lab", "cloud.sh");
    execFileSync(cloud, ["down"], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync(cloud, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
    const cloudSeconds = seconds(t);

    const names = hostNames(options.topology);
    const topology = `${options.topology.controlPlane}+${options.topology.workers}`;
    writeLabStacks(pulumi, { topology: options.topology, supply, clusterName: "drill" });
    t = Date.now();
    log(`pulumi up lab-primary: a ${topology} kubeadm site (${[...names.controlPlane, ...names.workers].join(" ")}) from nothing, backup timers`);
    pulumi.ok(["up", "--stack", STACKS.primary, "--yes", "--skip-preview"]);
    const primarySeconds = seconds(t);
    log(`lab-primary built in ${primarySeconds}s`);
    t = Date.now();
    log("pulumi up lab-standby: the same host names on the other network, the replica, the peering");
    pulumi.ok(["up", "--stack", STACKS.standby, "--yes", "--skip-preview"]);
    const standbySeconds = seconds(t);
    log(`lab-standby built in ${standbySeconds}s`);
    const parity = kubeadmParity(pulumi);
    if (parity.length > 0) throw new Error(`the sites' kubeadm ClusterConfiguration differs: ${parity.join("; ")}`);
    log("the program read both sites' kubeadm-config through the Kubernetes API: equal");
    const lab = new LabAccess(labFromStacks(pulumi));
    // Sites built the same way usually give each host name the same pod range; the drill makes
    // the case where they do not certain (a join retried, nodes registering in another order).
    const skewed = names.workers.at(-1);
    let podRangeSkew: PodRangeSkew | null = null;
    if (skewed) {
        log(`standby: ${skewed} registers again under another pod range than the primary's ${skewed}, as when a site's nodes register in another order`);
        podRangeSkew = await skewPodRange(lab, "standby", skewed, "primary");
        log(`standby: ${skewed} runs ${podRangeSkew.after} (was ${podRangeSkew.before}); the primary's ${skewed} has ${podRangeSkew.other}, which each failover must give it`);
    }
    const sites = { primary: await checkSite(lab, "primary"), standby: await checkSite(lab, "standby") };
    for (const site of ["primary", "standby"] as const) {
        log(`${site}: nodes ${sites[site].nodesReady.join(" ")} Ready, ${sites[site].kubeSystemPods} kube-system pods Running; `
            + `root SSH refused and the image's REJECT rules in place on all ${sites[site].imageFirewall}`);
    }
    const image = `${labClusterConfig(supply).imageRepository}/busybox:${supply.busyboxTag}`;

    log("writing Kubernetes objects to the primary's API: namespace drill-g1, Secrets, ConfigMaps, a ServiceAccount and its tokens, RBAC, a CRD and its resources, a Deployment and a DaemonSet");
    const kubeSets = [makeKubeDataSet(1, image)];
    const kubeWritten = [await writeKubeDataSet(lab, kubeSets[0])];
    log(`writing data set 1 to the primary: ${options.keys} keys under /registry/ and ${options.bigValues} values of 150+ KiB`);
    const first = makeDataSet(1, options.keys, options.bigValues);
    const firstRevision = loadDataSet(lab, first);
    const expectedFirst = expectedDump(first);
    log(`primary at revision ${firstRevision}; waiting for the backup timer to commit a snapshot and the replica to receive it`);
    const firstId = await waitForSnapshot(lab, firstRevision, 180_000);
    log(`failing over to ${firstId}`);
    const one = failover(pulumi, lab, firstId);
    verifyStandby(lab, expectedFirst, names.controlPlane);
    log(`standby restored from ${firstId}: ${expectedFirst.keys} keys verified in ${one.rtoSeconds}s; kube-system/etcd-dr-status records it`);
    const kubeFirst = await verifyKubeStandby(lab, kubeSets, kubeWritten);
    if (podRangeSkew) await checkRestoredRange(lab, "standby", podRangeSkew);
    log(`standby cluster: ${kubeFirst.objectsVerified} objects with the primary's UIDs, ${kubeFirst.tokensAccepted} primary tokens accepted, `
        + `nodes ${kubeFirst.nodesReady.join(" ")} Ready, ${kubeFirst.podsRunning} drill pods Running`);

    kubeSets.push(makeKubeDataSet(2, image));
    kubeWritten.push(await writeKubeDataSet(lab, kubeSets[1]));

    const second = makeDataSet(2, Math.ceil(options.keys / 3), Math.max(1, Math.floor(options.bigValues / 2)));
    const secondRevision = loadDataSet(lab, second);
    const expectedSecond = expectedDump(first, second);
    log(`more data on the primary (revision ${secondRevision}); waiting for a newer scheduled snapshot`);
    const secondId = await waitForSnapshot(lab, secondRevision, 180_000);
    log(`failing over again, to ${secondId}: the restore chain is replaced`);
    const two = failover(pulumi, lab, secondId);
    const replaced = restoreSteps(two.upOutput);
    const chainLength = names.controlPlane.length * 4 + 1 + names.controlPlane.length + names.workers.length + 1;
    if (replaced.length < chainLength) {
        throw new Error(`pulumi up did not replace the restore chain (${replaced.length} steps replaced):\n${two.upOutput}`);
    }
    verifyStandby(lab, expectedSecond, names.controlPlane);
    log(`standby restored from ${secondId}: ${expectedSecond.keys} keys verified; ${replaced.length} restore steps replaced`);
    const kubeSecond = await verifyKubeStandby(lab, kubeSets, kubeWritten);
    if (podRangeSkew) await checkRestoredRange(lab, "standby", podRangeSkew);
    log(`standby cluster: ${kubeSecond.objectsVerified} objects, ${kubeSecond.tokensAccepted} tokens, ${kubeSecond.podsRunning} drill pods Running`);

    log("pulumi preview --refresh --run-program --expect-no-changes on both stacks");
    for (const stack of [STACKS.primary, STACKS.standby]) {
        pulumi.ok(["preview", "--stack", stack, "--refresh", "--run-program", "--expect-no-changes"]);
    }

    return {
        drill: "passed",
        snapshots: { first: firstId, second: secondId },
        keysVerified: { first: expectedFirst.keys, second: expectedSecond.keys },
        rpoSeconds: { first: one.rpoSeconds, second: two.rpoSeconds },
        rtoSeconds: { first: one.rtoSeconds, second: two.rtoSeconds },
        restorePhaseSeconds: { first: one.phaseSeconds, second: two.phaseSeconds },
        chainReplaced: replaced.length,
        kubernetes: { first: kubeFirst, second: kubeSecond },
        sites,
        podRangeSkew,
        topology,
        setupSeconds: { engine: engineSeconds, supply: supplySeconds, cloud: cloudSeconds, primary: primarySeconds, standby: standbySeconds },
        driftPreview: "no changes",
        totalSeconds: seconds(begin),
    };
}

async function main(): Promise<void> {
    const keys = Number(process.env.ETCD_DR_DRILL_KEYS ?? 3000);
    const topology = parseTopology(process.env.ETCD_DR_DRILL_TOPOLOGY ?? "3+1");
    const summary = await runDrill({ keys, bigValues: 6, topology, log: (line) => process.stdout.write(`drill: ${line}\n`) });
    process.stdout.write("drill: done. Both sites are still up: `pulumi stack output nodes --stack lab-standby` names them, "
        + "`ssh -i /var/lib/etcd-dr-lab/keys/id_ed25519 ubuntu@<address>` reaches them; tear everything down with `make drill-down`.\n");
    process.stdout.write(`${JSON.stringify(summary)}\n`);
}

if (require.main === module) {
    main().catch((error: Error) => {
        process.stderr.write(`drill: FAILED: ${error.message}\n`);
        process.exit(1);
    });
}
