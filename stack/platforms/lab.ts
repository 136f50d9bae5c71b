// The `lab` platform: the lab's local cloud (lab/cloud.sh) creates the instances, and they bootstrap
// kubeadm from cloud-init exactly as OCI's do; only the package mirror, image repository and the
// nested-container settings differ, and those are config and this adapter's node platform settings.

import * as path from "path";
import { labSiteCidr } from "../../components/lab/cloud";
import { LabSite } from "../../components/lab/site";
import { LabSnapshotStore } from "../../components/lab/snapshotStore";
import { bootstrapAndJoin } from "../../components/k8s/clusterJoin";
import { NodeConnection } from "../../lib/connection";
import { ed25519HostKey } from "../../lib/hostKeys";
import { controlPlaneOf, workersOf } from "../../lib/hosts";
import { SiteConfig } from "../config";
import { PrimaryView } from "../contract";
import { BuiltSite, PlatformAdapter, SiteContext, storeAccess } from "./platform";

/** The checkout this program runs from: its lab/ tools are the local cloud's API. */
const LAB_ROOT = path.resolve(__dirname, "..", "..");

function settings(config: SiteConfig): NonNullable<SiteConfig["lab"]> {
    if (!config.lab) throw new Error("the lab platform was chosen but its settings were not loaded");
    return config.lab;
}

export const labPlatform: PlatformAdapter = {
    bootstrapsNodes: true,

    siteRanges(config: SiteConfig, primary?: PrimaryView): string[] {
        return [labSiteCidr(settings(config).site), primary?.lab?.cidr ?? ""].filter(Boolean);
    },

    peerProblems(config: SiteConfig, primary: PrimaryView): string[] {
        if (!primary.lab) {
            return ["the primary stack exports no lab site (output `lab`): update it with this version of etcd-dr first"];
        }
        if (primary.lab.site === settings(config).site) {
            return [`the primary already lives on the lab's ${primary.lab.site} network; set etcd-dr:labSite to the other one`];
        }
        return [];
    },

    build({ config, spec, primary, privateKey }: SiteContext): BuiltSite {
        const lab = settings(config);
        const site = new LabSite(config.stack, { settings: lab, spec, labRoot: LAB_ROOT, peer: primary !== undefined });
        const created: NodeConnection[] = site.hosts.map((h) => ({
            name: h.name,
            role: h.role,
            host: h.ip,
            port: 22,
            user: config.sshUser,
            privateKey,
            // The instance's own key, read from its disk when it was created: pinned from the first dial on.
            hostKey: site.instances.hostKeys[h.name].apply((knownHosts) => ed25519HostKey(knownHosts, `${h.name}'s host keys`)),
            readyAfter: [site.instances.instances[h.name]],
        }));
        const store = new LabSnapshotStore(`${config.stack}-snapshots`, {
            clusterName: spec.topology.clusterName,
            stack: config.stack,
            region: config.region,
            nodeAccess: storeAccess(config),
            prefix: config.snapshots.prefix,
            retentionDays: config.snapshots.retentionDays,
            parExpiresAt: config.snapshots.parExpiresAt,
            // A promoted standby's bucket replicates from nothing: it is the active site's now.
            replicateFrom: primary?.lab && !config.promote ? { bucket: primary.lab.bucket, region: primary.lab.region } : undefined,
            promote: config.promote,
            labRoot: LAB_ROOT,
        }, { parent: site });
        // The same joins as on OCI; a replaced instance (a new id) is joined again.
        const nodes = bootstrapAndJoin(config.stack, {
            created,
            bootstrap: site.kubeadm,
            hosts: site.hosts,
            instanceIds: Object.fromEntries(site.hosts.map((h) => [h.name, site.instances.instances[h.name].id])),
        }, { parent: site });
        return {
            controlPlane: controlPlaneOf(nodes),
            workers: workersOf(nodes),
            writeUrl: store.writeUrl,
            readUrl: store.readUrl,
            storeWritable: store.madeWritable ? [store.madeWritable] : undefined,
            apiEndpoint: site.hosts[0].ip,
            nodes: site.hosts.map((h) => ({ name: h.name, role: h.role, address: h.ip })),
            outputs: {
                lab: { site: lab.site, cidr: labSiteCidr(lab.site), hostKeys: site.instances.hostKeys, bucket: store.bucket, region: config.region },
            },
        };
    },
};
