// The drill's two stacks on the `lab` platform: Pulumi.lab-primary.yaml and Pulumi.lab-standby.yaml.
// Both sites are built from nothing by `pulumi up` in the lab's local cloud (lab/cloud.sh), as
// kubeadm clusters of the Kubernetes supply (supply/build.sh), with the same host names.

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as os from "os";
import * as path from "path";
import { LAB_SERVICE_ADDRESS } from "../components/lab/cloud";
import { Lab, LabNode, labKey } from "./lab";
import { Pulumi, ROOT } from "./pulumiCli";

export const STACKS = { primary: "lab-primary", standby: "lab-standby" } as const;

/** What supply/build.sh made, as its supply.json says. */
export interface Supply {
    kubernetesVersion: string;
    etcdVersion: string;
    registryPath: string;
    images: string[];
    busyboxTag: string;
}

/** Builds the Kubernetes supply or finds it cached (seconds when cached); its cache directory. */
export function supplyDir(): string {
    return execFileSync(path.join(ROOT, "supply", "build.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** The supply's description (supply.json). */
export function readSupply(): Supply {
    return JSON.parse(fs.readFileSync(path.join(supplyDir(), "supply.json"), "utf8")) as Supply;
}

/** etcd-dr:cluster for a lab site: the supply's versions, from the lab's repository and registry. */
export function labClusterConfig(supply: Supply): Record<string, string> {
    return {
        kubernetesVersion: supply.kubernetesVersion.replace(/^v/, ""),
        etcdVersion: supply.etcdVersion.replace(/^v/, ""),
        cni: "flannel",
        kubernetesPackageRepo: `http://${LAB_SERVICE_ADDRESS}:8080/core:/stable:`,
        cniManifestUrl: `http://${LAB_SERVICE_ADDRESS}:8080/cni/kube-flannel.yml`,
        imageRepository: `${LAB_SERVICE_ADDRESS}:5000/${supply.registryPath}`,
    };
}

export interface LabTopology {
    controlPlane: number;
    workers: number;
}

/** "3+1" is three control-plane nodes and one worker; 1, 3 or 5 control-plane nodes (etcd quorum). */
export function parseTopology(text: string): LabTopology {
    const match = /^([135])\+(\d)$/.exec(text.trim());
    if (!match) {
        throw new Error(`topology '${text}' is not <control-plane>+<workers> with 1, 3 or 5 control-plane nodes and 0-9 workers, e.g. 3+1`);
    }
    return { controlPlane: Number(match[1]), workers: Number(match[2]) };
}

export function hostNames(topology: LabTopology): { controlPlane: string[]; workers: string[] } {
    const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    return { controlPlane: names("cp", topology.controlPlane), workers: names("w", topology.workers) };
}

export interface LabStacksOptions {
    topology: LabTopology;
    supply: Supply;
    clusterName: string;
}

/**
 * Lock files of `stack` (diy backend) left by a `pulumi` process of this host that is gone: a drill
 * killed halfway (a session's end, a reboot) would otherwise refuse every later drill. A live
 * process's lock is kept.
 */
export function staleLocks(pulumi: Pulumi, stack: string): string[] {
    const backend = pulumi.env.PULUMI_BACKEND_URL ?? "";
    if (!backend.startsWith("file://")) return [];
    const dir = path.join(backend.slice("file://".length).replace(/\?.*$/, ""), ".pulumi", "locks", "organization", "etcd-dr", stack);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).map((f) => path.join(dir, f)).filter((file) => {
        const lock = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: number; hostname?: string };
        return lock.hostname === os.hostname() && typeof lock.pid === "number" && !processAlive(lock.pid);
    });
}

function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** The stacks' config files, then fresh stacks (a previous drill's state describes instances that are gone). */
export function writeLabStacks(pulumi: Pulumi, options: LabStacksOptions): void {
    const key = labKey();
    const expires = new Date(Date.now() + 365 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
    const common = {
        "etcd-dr:platform": "lab",
        "etcd-dr:sshPublicKey": key.publicKey,
        "etcd-dr:snapshots": { prefix: "etcd", parExpiresAt: expires },
        // A snapshot every 15 s on the active site (the standby's once promoted), so the drill's RPO
        // is measured in seconds, not minutes.
        "etcd-dr:backup": { onCalendar: "*:*:0/15", randomizedDelaySec: 1 },
    };
    const files: Record<string, Record<string, unknown>> = {
        [STACKS.primary]: {
            ...common,
            "etcd-dr:role": "primary",
            "etcd-dr:topology": { clusterName: options.clusterName, ...hostNames(options.topology) },
            "etcd-dr:cluster": labClusterConfig(options.supply),
        },
        [STACKS.standby]: {
            ...common,
            "etcd-dr:role": "standby",
            "etcd-dr:peerStack": STACKS.primary,
        },
    };
    for (const [stack, config] of Object.entries(files)) {
        const header = "# Generated by the drill (tools/labStacks.ts): a site of the lab's local cloud.\n";
        fs.writeFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), header + yaml.dump({ config }));
        if (pulumi.run(["stack", "select", stack]).status === 0) {
            if (staleLocks(pulumi, stack).length > 0) pulumi.ok(["cancel", "--stack", stack, "--yes"]);
            pulumi.ok(["stack", "rm", stack, "--force", "--yes", "--preserve-config"]);
        }
        pulumi.ok(["stack", "init", stack]);
        pulumi.ok(["config", "set", "--stack", stack, "--secret", "sshPrivateKey"], fs.readFileSync(key.privateKeyFile, "utf8"));
    }
}

/** The two sites as the stacks built them (their `nodes` outputs). */
export function labFromStacks(pulumi: Pulumi): Lab {
    const nodes = (stack: string) => pulumi.outputs(stack).nodes as LabNode[];
    return {
        sshKey: labKey().privateKeyFile,
        user: "ubuntu",
        sites: { primary: { nodes: nodes(STACKS.primary) }, standby: { nodes: nodes(STACKS.standby) } },
    };
}
