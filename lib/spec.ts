// The mirrored part of a site: defined once (by the primary) and identical on both sites.
// The playbook's restore only works when host names, versions and subnets match exactly.

import { createHash } from "crypto";
import { cidrTextsOverlap, parseCidr } from "./cidr";
import { isDnsLabel, isOciDnsLabel } from "./names";

export const CNIS = ["calico", "flannel", "cilium"] as const;
export type Cni = (typeof CNIS)[number];

export interface NodeSize {
    shape: string;
    ocpus: number;
    memoryGbs: number;
    bootVolumeGbs: number;
}

export interface Topology {
    clusterName: string;
    controlPlane: string[];
    workers: string[];
    apiAlias: string;
    vcnDnsLabel: string;
    nodeSize: NodeSize;
}

export interface ClusterSpec {
    kubernetesVersion: string;
    cni: Cni;
    cniManifestUrl: string;
    kubernetesPackageRepo: string;
    /** Where kubeadm pulls the control-plane images from (kubeadm's imageRepository). */
    imageRepository: string;
    podSubnet: string;
    serviceSubnet: string;
    etcdDataDir: string;
    etcdVersion: string;
    containerRuntime: "containerd";
}

export interface MirroredSpec {
    topology: Topology;
    cluster: ClusterSpec;
}

/** What a stack's own config says about the mirrored spec; a standby usually says nothing. */
export interface PartialMirroredSpec {
    topology: Partial<Topology>;
    cluster: Partial<ClusterSpec>;
}

export const DEFAULT_TOPOLOGY: Omit<Topology, "clusterName"> = {
    controlPlane: ["cp1", "cp2", "cp3"],
    workers: ["w1", "w2", "w3"],
    apiAlias: "k8s-api",
    vcnDnsLabel: "k8sdr",
    nodeSize: { shape: "VM.Standard.E5.Flex", ocpus: 2, memoryGbs: 16, bootVolumeGbs: 100 },
};

export const DEFAULT_CLUSTER: Omit<ClusterSpec, "cniManifestUrl" | "kubernetesPackageRepo"> = {
    kubernetesVersion: "1.35.8",
    cni: "calico",
    podSubnet: "10.244.0.0/16",
    serviceSubnet: "10.96.0.0/12",
    etcdDataDir: "/var/lib/etcd",
    etcdVersion: "3.6.6",
    imageRepository: "registry.k8s.io",
    containerRuntime: "containerd",
};

const SEMVER = /^\d+\.\d+\.\d+$/;

/**
 * Problems with a complete spec, one line each. `vcnCidrs` are the site networks pods must not overlap;
 * `bootstrapsNodes` is true where the program installs Kubernetes itself and so needs its package URLs.
 */
export function validateSpec(spec: MirroredSpec, vcnCidrs: string[], bootstrapsNodes = true): { errors: string[]; warnings: string[] } {
    const errors = [...validateTopology(spec.topology), ...validateCluster(spec.cluster, vcnCidrs, bootstrapsNodes)];
    const warnings: string[] = [];
    const members = spec.topology.controlPlane.length;
    if (members > 0 && members % 2 === 0) {
        warnings.push(
            `topology.controlPlane has ${members} nodes: an even etcd membership tolerates no more failures than ` +
                `${members - 1}; use an odd number`,
        );
    }
    return { errors, warnings };
}

function validateTopology(t: Topology): string[] {
    const errors: string[] = [];
    if (!isDnsLabel(t.clusterName)) {
        errors.push(`topology.clusterName '${t.clusterName}' is not a DNS label (lower-case letters, digits, '-')`);
    }
    if (t.controlPlane.length === 0) {
        errors.push("topology.controlPlane is empty: list at least one control-plane host name");
    }
    const seen = new Set<string>();
    for (const host of [...t.controlPlane, ...t.workers]) {
        if (!isDnsLabel(host)) {
            errors.push(
                `host name '${host}' is not a valid DNS label (lower-case letters, digits and '-', starting with a letter, at most 63)`,
            );
        }
        if (seen.has(host)) {
            errors.push(`host name '${host}' is listed more than once in topology; every node needs its own name`);
        }
        seen.add(host);
    }
    if (!isDnsLabel(t.apiAlias)) {
        errors.push(`topology.apiAlias '${t.apiAlias}' is not a valid DNS label`);
    } else if (seen.has(t.apiAlias)) {
        errors.push(`topology.apiAlias '${t.apiAlias}' is also a node host name; pick a name of its own`);
    }
    if (!isOciDnsLabel(t.vcnDnsLabel)) {
        errors.push(`topology.vcnDnsLabel '${t.vcnDnsLabel}' must be 1-15 lower-case letters or digits, starting with a letter`);
    }
    const size = t.nodeSize;
    if (!(size.ocpus > 0) || !(size.memoryGbs > 0) || !(size.bootVolumeGbs >= 50)) {
        errors.push("topology.nodeSize needs ocpus > 0, memoryGbs > 0 and bootVolumeGbs >= 50");
    }
    return errors;
}

function validateCluster(c: ClusterSpec, vcnCidrs: string[], bootstrapsNodes: boolean): string[] {
    const errors: string[] = [];
    if (!SEMVER.test(c.kubernetesVersion)) {
        errors.push(`cluster.kubernetesVersion '${c.kubernetesVersion}' must be a full version such as 1.31.4`);
    }
    if (!SEMVER.test(c.etcdVersion)) {
        errors.push(`cluster.etcdVersion '${c.etcdVersion}' must be a full version such as 3.5.15`);
    }
    if (!(CNIS as readonly string[]).includes(c.cni)) {
        errors.push(`cluster.cni '${c.cni}' is not supported; use one of ${CNIS.join(", ")}`);
    }
    if (!c.etcdDataDir.startsWith("/")) {
        errors.push(`cluster.etcdDataDir '${c.etcdDataDir}' must be an absolute path`);
    }
    for (const [key, value] of [["podSubnet", c.podSubnet], ["serviceSubnet", c.serviceSubnet]] as const) {
        if (!parseCidr(value)) {
            errors.push(`cluster.${key} '${value}' is not an IPv4 network in CIDR form such as 10.244.0.0/16`);
            continue;
        }
        for (const vcn of vcnCidrs) {
            if (cidrTextsOverlap(value, vcn)) {
                errors.push(`cluster.${key} ${value} overlaps the VCN CIDR ${vcn}; pick a range outside both VCNs`);
            }
        }
    }
    if (cidrTextsOverlap(c.podSubnet, c.serviceSubnet)) {
        errors.push(`cluster.podSubnet ${c.podSubnet} overlaps cluster.serviceSubnet ${c.serviceSubnet}`);
    }
    for (const [key, value] of [["cniManifestUrl", c.cniManifestUrl], ["kubernetesPackageRepo", c.kubernetesPackageRepo]] as const) {
        // http is for a lab's own mirror: apt checks the repository's signature either way.
        if (bootstrapsNodes && !/^https?:\/\/\S+$/.test(value ?? "")) {
            errors.push(`cluster.${key} must be an https URL; set it in the primary stack's cluster config`);
        }
    }
    if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(c.imageRepository ?? "")) {
        errors.push(`cluster.imageRepository '${c.imageRepository}' is not a registry path such as registry.k8s.io`);
    }
    return errors;
}

/**
 * Differences between the primary's spec and what the standby's own config sets.
 * Only keys the standby sets are compared: leaving them out means "take the primary's".
 */
export function mirrorDifferences(primary: MirroredSpec, own: PartialMirroredSpec): string[] {
    const differences: string[] = [];
    for (const section of ["topology", "cluster"] as const) {
        const mine = own[section] as Record<string, unknown>;
        const theirs = primary[section] as unknown as Record<string, unknown>;
        for (const key of Object.keys(mine).sort()) {
            if (canonicalJson(mine[key]) !== canonicalJson(theirs[key])) {
                differences.push(
                    `${section}.${key}: primary has ${canonicalJson(theirs[key])}, this stack sets ${canonicalJson(mine[key])}`,
                );
            }
        }
    }
    return differences;
}

/** JSON with sorted object keys, so equal specs always serialize (and hash) the same. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonicalJson).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.keys(value as object)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
        return `{${entries.join(",")}}`;
    }
    return JSON.stringify(value) ?? "null";
}

/** The digest both stacks export; equal digests mean the sites are mirrored. */
export function specDigest(spec: MirroredSpec): string {
    return createHash("sha256").update(canonicalJson(spec)).digest("hex");
}
