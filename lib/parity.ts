// Compares the kubeadm ClusterConfiguration two sites actually run (kube-system/kubeadm-config).

import * as yaml from "js-yaml";

interface ClusterConfiguration {
    kubernetesVersion?: string;
    networking?: { podSubnet?: string; serviceSubnet?: string };
    etcd?: { local?: { imageRepository?: string; imageTag?: string; dataDir?: string } };
    controlPlaneEndpoint?: string;
}

const FIELDS: [string, (c: ClusterConfiguration) => string | undefined][] = [
    ["kubernetesVersion", (c) => c.kubernetesVersion],
    ["networking.podSubnet", (c) => c.networking?.podSubnet],
    ["networking.serviceSubnet", (c) => c.networking?.serviceSubnet],
    ["etcd image", (c) => [c.etcd?.local?.imageRepository, c.etcd?.local?.imageTag].filter(Boolean).join(":") || undefined],
    ["etcd.local.dataDir", (c) => c.etcd?.local?.dataDir],
    ["controlPlaneEndpoint", (c) => c.controlPlaneEndpoint],
];

/** One line per field that differs; the input is the ClusterConfiguration text of each site. */
export function kubeadmDifferences(primaryText: string, standbyText: string): string[] {
    const primary = (yaml.load(primaryText) ?? {}) as ClusterConfiguration;
    const standby = (yaml.load(standbyText) ?? {}) as ClusterConfiguration;
    return FIELDS.flatMap(([name, get]) => {
        const a = get(primary);
        const b = get(standby);
        return a === b ? [] : [`kubeadm-config ${name}: primary runs ${a ?? "(unset)"}, standby runs ${b ?? "(unset)"}`];
    });
}
