// The `existing` platform: the nodes already run kubeadm (on-premises, pre-built instances). The
// config lists each node's host name and SSH address, and the snapshot store is given by URL.

import { NodeConnection } from "../../lib/connection";
import { controlPlaneOf, workersOf } from "../../lib/hosts";
import { SiteConfig } from "../config";
import { PrimaryView } from "../contract";
import { BuiltSite, configuredStore, PlatformAdapter, SiteContext } from "./platform";

export const existingPlatform: PlatformAdapter = {
    bootstrapsNodes: false,

    siteRanges(): string[] {
        return [];
    },

    peerProblems(config: SiteConfig, primary: PrimaryView): string[] {
        const problems: string[] = [];
        const topology = primary.clusterSpec.topology;
        for (const [role, names] of [["control-plane", topology.controlPlane], ["worker", topology.workers]] as const) {
            const mine = (config.existingNodes ?? []).filter((n) => n.role === role).map((n) => n.name);
            if (mine.join(",") !== names.join(",")) {
                problems.push(`etcd-dr:nodes lists ${role} hosts ${mine.join(",") || "none"} but the primary's are ${names.join(",")}; both sites need the same host names`);
            }
        }
        return problems;
    },

    build({ config, privateKey }: SiteContext): BuiltSite {
        const listed = config.existingNodes ?? [];
        const nodes: NodeConnection[] = listed.map((n) => ({
            name: n.name,
            role: n.role,
            host: n.address,
            port: n.port ?? 22,
            user: n.user ?? config.sshUser,
            privateKey,
            hostKey: n.hostKey,
        }));
        return {
            controlPlane: controlPlaneOf(nodes),
            workers: workersOf(nodes),
            ...configuredStore(config),
            apiEndpoint: nodes.find((n) => n.role === "control-plane")?.host ?? "",
            nodes: listed.map((n) => ({ name: n.name, role: n.role, address: n.address })),
            outputs: {},
        };
    },
};
