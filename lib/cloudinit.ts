// Rendering of kubeadm configuration and cloud-init user data. Pure: secrets are passed in as
// plain strings by the caller inside an Output.apply, so the result stays a secret there.

import * as yaml from "js-yaml";
import { shellQuote } from "./shell";
import { ClusterSpec, MirroredSpec } from "./spec";

export type BootstrapRole = "init" | "join-control-plane" | "join-worker";

export interface SiteHost {
    name: string;
    ip: string;
}

/**
 * What a platform adds to every node's bootstrap. Equal for all sites of one platform except
 * `siteCidr`; nothing here reaches kubeadm's ClusterConfiguration, so sites stay mirrored.
 */
export interface NodePlatformSettings {
    /** The site's node network: the image's host firewall is opened for it (F04). */
    siteCidr: string;
    /** An apt repository for containerd and OS packages, signed with the Kubernetes repository's key; the image's own archive when absent. */
    osPackageRepo?: string;
    /** host:port of a registry that speaks plain HTTP (the lab's). */
    plainHttpRegistry?: string;
    /** containerd's restrict_oom_score_adj, where the node may not lower OOM scores (a nested container). */
    restrictOomScoreAdj?: boolean;
    /** Fields for kubeadm's KubeletConfiguration and KubeProxyConfiguration (cluster-wide, through kubeadm init). */
    kubelet?: Record<string, unknown>;
    kubeProxy?: Record<string, unknown>;
    /** kubeadm preflight checks this platform cannot pass (the lab's cgroup v1 host: SystemVerification). */
    ignorePreflightErrors?: string[];
    /** Names the platform's own services need (/etc/hosts lines). */
    extraHosts?: SiteHost[];
}

export interface NodeBootstrap {
    host: SiteHost;
    role: BootstrapRole;
    /** Every node of this site, so short host names resolve the same way on both sites. */
    siteHosts: SiteHost[];
    /** The address the API alias points at: the site's API front end, else its first control-plane node. */
    apiAddress: string;
    /**
     * Join credentials baked into the user data. Absent where Pulumi joins the nodes over SSH with
     * credentials minted at join time (F10): then no user data carries a secret.
     */
    bootstrapToken?: string;
    certificateKey?: string;
}

/** What a node joins with, minted on a live control-plane node minutes before the join. */
export interface JoinCredentials {
    token: string;
    /** "sha256:<hex>" of the cluster CA's public key: the joining node trusts only that CA. */
    caCertHash: string;
    /** Control-plane joins: decrypts the certificates `kubeadm init phase upload-certs` uploaded. */
    certificateKey?: string;
}

/**
 * The token `kubeadm init` makes when the user data brings none: nothing uses it (every join gets
 * a fresh one), so it lives only as long as a first boot may need to reach the CNI step.
 */
export const INIT_TOKEN_TTL = "1h0m0s";

/** kubeadm's config API: v1beta4 from Kubernetes 1.31 on, v1beta3 before. */
export function kubeadmApiVersion(kubernetesVersion: string): string {
    const [major, minor] = kubernetesVersion.split(".").map(Number);
    return major > 1 || minor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

/**
 * The one ClusterConfiguration both sites use. It contains no site-specific value (no address,
 * no token), which is what makes a snapshot of one site valid on the other.
 */
export function renderClusterConfiguration(spec: MirroredSpec): string {
    const { topology, cluster } = spec;
    return yaml.dump(
        {
            apiVersion: kubeadmApiVersion(cluster.kubernetesVersion),
            kind: "ClusterConfiguration",
            clusterName: topology.clusterName,
            kubernetesVersion: `v${cluster.kubernetesVersion}`,
            controlPlaneEndpoint: `${topology.apiAlias}:6443`,
            imageRepository: cluster.imageRepository,
            apiServer: { certSANs: [topology.apiAlias, ...topology.controlPlane] },
            networking: { podSubnet: cluster.podSubnet, serviceSubnet: cluster.serviceSubnet },
            etcd: { local: { dataDir: cluster.etcdDataDir, imageTag: `${cluster.etcdVersion}-0` } },
        },
        { lineWidth: -1, noRefs: true },
    );
}

/** kubeadm init's KubeletConfiguration and KubeProxyConfiguration: what every node's kubelet and kube-proxy get. */
function renderComponentConfigurations(platform: NodePlatformSettings): string[] {
    const documents: Record<string, unknown>[] = [
        { apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd", ...(platform.kubelet ?? {}) },
    ];
    if (platform.kubeProxy) {
        documents.push({ apiVersion: "kubeproxy.config.k8s.io/v1alpha1", kind: "KubeProxyConfiguration", ...platform.kubeProxy });
    }
    return documents.map((d) => yaml.dump(d, { lineWidth: -1 }));
}

function renderNodeConfiguration(spec: MirroredSpec, node: NodeBootstrap, platform: NodePlatformSettings): string {
    const apiVersion = kubeadmApiVersion(spec.cluster.kubernetesVersion);
    const nodeRegistration = {
        name: node.host.name,
        criSocket: "unix:///run/containerd/containerd.sock",
        ...(platform.ignorePreflightErrors?.length ? { ignorePreflightErrors: platform.ignorePreflightErrors } : {}),
    };
    if (node.role === "init") {
        const withCredentials = node.bootstrapToken !== undefined;
        return yaml.dump(
            {
                apiVersion,
                kind: "InitConfiguration",
                bootstrapTokens: withCredentials
                    ? [{ token: node.bootstrapToken, ttl: "24h0m0s", groups: ["system:bootstrappers:kubeadm:default-node-token"] }]
                    : [{ ttl: INIT_TOKEN_TTL, groups: ["system:bootstrappers:kubeadm:default-node-token"] }],
                ...(node.certificateKey !== undefined ? { certificateKey: node.certificateKey } : {}),
                localAPIEndpoint: { advertiseAddress: node.host.ip, bindPort: 6443 },
                nodeRegistration,
            },
            { lineWidth: -1 },
        );
    }
    return renderJoinDocument(spec, node.host, node.role, platform, {
        bootstrapToken: {
            apiServerEndpoint: `${spec.topology.apiAlias}:6443`,
            token: node.bootstrapToken,
            // The CA does not exist before cp1's kubeadm init; the token and the private VCN stand in for the CA pin.
            unsafeSkipCAVerification: true,
        },
    }, node.certificateKey);
}

function renderJoinDocument(
    spec: MirroredSpec,
    host: SiteHost,
    role: BootstrapRole,
    platform: NodePlatformSettings,
    discovery: Record<string, unknown>,
    certificateKey?: string,
): string {
    const apiVersion = kubeadmApiVersion(spec.cluster.kubernetesVersion);
    const nodeRegistration = {
        name: host.name,
        criSocket: "unix:///run/containerd/containerd.sock",
        ...(platform.ignorePreflightErrors?.length ? { ignorePreflightErrors: platform.ignorePreflightErrors } : {}),
    };
    const join: Record<string, unknown> = {
        apiVersion,
        kind: "JoinConfiguration",
        discovery,
        nodeRegistration,
    };
    if (role !== "join-worker") {
        join.controlPlane = {
            certificateKey,
            localAPIEndpoint: { advertiseAddress: host.ip, bindPort: 6443 },
        };
    }
    return yaml.dump(join, { lineWidth: -1 });
}

/**
 * The JoinConfiguration Pulumi hands a node over SSH (`kube-bootstrap join` reads it on stdin): a
 * short-lived token, and the cluster CA pinned by the hash of its public key instead of trusted on
 * first use. `role` is how the node joins: a replaced first control-plane node joins as one too.
 */
export function renderJoinConfiguration(spec: MirroredSpec, host: SiteHost, role: BootstrapRole, platform: NodePlatformSettings, credentials: JoinCredentials): string {
    return renderJoinDocument(spec, host, role, platform, {
        bootstrapToken: {
            apiServerEndpoint: `${spec.topology.apiAlias}:6443`,
            token: credentials.token,
            caCertHashes: [credentials.caCertHash],
        },
    }, credentials.certificateKey);
}

/** /etc/hosts lines: every node of the site by short name, and the API alias on the local control plane. */
export function renderHostsEntries(siteHosts: SiteHost[], apiAlias: string, apiAddress: string, extraHosts: SiteHost[] = []): string {
    const lines = [...siteHosts, ...extraHosts].map((h) => `${h.ip} ${h.name}`);
    lines.push(`${apiAddress} ${apiAlias}`);
    return `${lines.join("\n")}\n`;
}

function renderBootstrapEnv(cluster: ClusterSpec, apiAlias: string, role: BootstrapRole, platform: NodePlatformSettings): string {
    const settings: Record<string, string> = {
        NODE_ROLE: role,
        KUBERNETES_VERSION: cluster.kubernetesVersion,
        KUBERNETES_PACKAGE_REPO: cluster.kubernetesPackageRepo,
        CNI_MANIFEST_URL: cluster.cniManifestUrl,
        API_ALIAS: apiAlias,
        SITE_CIDR: platform.siteCidr,
        POD_SUBNET: cluster.podSubnet,
        OS_PACKAGE_REPO: platform.osPackageRepo ?? "",
        PLAIN_HTTP_REGISTRY: platform.plainHttpRegistry ?? "",
        CONTAINERD_RESTRICT_OOM_SCORE_ADJ: String(platform.restrictOomScoreAdj ?? false),
    };
    return Object.entries(settings)
        .map(([k, v]) => `${k}=${shellQuote(v)}`)
        .join("\n")
        .concat("\n");
}

/** The complete #cloud-config document for one node. `bootstrapScript` is node/kube-bootstrap.sh. */
export function renderCloudInit(spec: MirroredSpec, node: NodeBootstrap, platform: NodePlatformSettings, bootstrapScript: string): string {
    // Without join credentials a joining node's first boot only prepares it: Pulumi joins it later.
    const joinsAtBoot = node.role === "init" || node.bootstrapToken !== undefined;
    const documents = [renderClusterConfiguration(spec), ...(joinsAtBoot ? [renderNodeConfiguration(spec, node, platform)] : [])];
    if (node.role === "init") documents.push(...renderComponentConfigurations(platform));
    const kubeadmConfig = documents.join("---\n");
    const document = {
        hostname: node.host.name,
        preserve_hostname: false,
        // cloud-init would otherwise rewrite /etc/hosts from its template on a later boot where
        // the image enables it, and the site's host names and the API alias would be gone (F12).
        manage_etc_hosts: false,
        write_files: [
            { path: "/etc/hosts", append: true, content: renderHostsEntries(node.siteHosts, spec.topology.apiAlias, node.apiAddress, platform.extraHosts) },
            { path: "/etc/etcd-dr/bootstrap.env", permissions: "0600", content: renderBootstrapEnv(spec.cluster, spec.topology.apiAlias, node.role, platform) },
            { path: "/etc/etcd-dr/kubeadm.yaml", permissions: "0600", content: kubeadmConfig },
            { path: "/usr/local/sbin/kube-bootstrap", permissions: "0755", content: bootstrapScript },
        ],
        runcmd: [["/usr/local/sbin/kube-bootstrap"]],
    };
    return `#cloud-config\n${yaml.dump(document, { lineWidth: -1, noRefs: true })}`;
}

/** Splits the rendered kubeadm.yaml back out of a cloud-config document (tests and the plan use it). */
export function extractKubeadmConfig(cloudInit: string): string {
    const parsed = yaml.load(cloudInit.replace(/^#cloud-config\n/, "")) as { write_files: { path: string; content: string }[] };
    const file = parsed.write_files.find((f) => f.path === "/etc/etcd-dr/kubeadm.yaml");
    if (!file) {
        throw new Error("cloud-init document has no /etc/etcd-dr/kubeadm.yaml");
    }
    return file.content;
}
