// The `oci` platform: the program creates the network, peering, buckets and instances, and the
// instances bootstrap kubeadm from cloud-init.

import * as pulumi from "@pulumi/pulumi";
import { bootstrapAndJoin } from "../../components/k8s/clusterJoin";
import { OciSite } from "../../components/oci/site";
import { cidrTextsOverlap } from "../../lib/cidr";
import { NodeConnection } from "../../lib/connection";
import { controlPlaneOf, workersOf } from "../../lib/hosts";
import { ociCliEnvironment, providerSettingsFromConfig } from "../../lib/ociProvider";
import { SiteConfig } from "../config";
import { PrimaryView } from "../contract";
import { ConfigProblems } from "../problems";
import { BuiltSite, PlatformAdapter, SiteContext, storeAccess } from "./platform";

/**
 * The OCI CLI's environment for the promotion's MakeBucketWritable call: the stack's `oci:*`
 * credentials, the secret ones kept secret.
 */
function promotionEnvironment(): Record<string, pulumi.Input<string>> {
    const provider = providerSettingsFromConfig((key) => pulumi.runtime.getConfig(key));
    const { environment, secrets, problems } = ociCliEnvironment(provider);
    if (problems.length > 0) throw new ConfigProblems(problems);
    return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, secrets.includes(k) ? pulumi.secret(v) : v]));
}

function settings(config: SiteConfig): NonNullable<SiteConfig["oci"]> {
    if (!config.oci) throw new Error("the oci platform was chosen but its settings were not loaded");
    return config.oci;
}

export const ociPlatform: PlatformAdapter = {
    bootstrapsNodes: true,

    siteRanges(config: SiteConfig, primary?: PrimaryView): string[] {
        return [settings(config).vcnCidr, primary?.oci?.vcnCidr ?? settings(config).peerVcnCidr ?? ""].filter(Boolean);
    },

    peerProblems(config: SiteConfig, primary: PrimaryView): string[] {
        const mine = settings(config);
        const theirs = primary.oci;
        if (!theirs) {
            return ["the primary stack exports no OCI site (output `oci`): update it with this version of etcd-dr first"];
        }
        const problems: string[] = [];
        if (theirs.peerVcnCidr !== mine.vcnCidr) {
            problems.push(`the primary routes its peer at ${theirs.peerVcnCidr} but this stack's vcnCidr is ${mine.vcnCidr}; make them equal`);
        }
        if (cidrTextsOverlap(mine.vcnCidr, theirs.vcnCidr)) {
            problems.push(`etcd-dr:vcnCidr ${mine.vcnCidr} overlaps the primary's VCN ${theirs.vcnCidr}; peered VCNs need disjoint ranges`);
        }
        if (theirs.region === config.region) {
            problems.push(`the standby is in the primary's region ${config.region}; put it in another region (oci:region)`);
        }
        return problems;
    },

    build({ config, spec, primary, privateKey }: SiteContext): BuiltSite {
        const network = settings(config);
        const peer = primary?.oci;
        const site = new OciSite(config.stack, {
            stack: config.stack,
            region: config.region,
            role: config.role,
            network,
            iam: network.iam,
            store: {
                nodeAccess: storeAccess(config),
                promote: config.promote ? { environment: promotionEnvironment() } : undefined,
                prefix: config.snapshots.prefix,
                retentionDays: config.snapshots.retentionDays,
                // Locked as long as the lifecycle rule keeps them: no snapshot is ever overwritable.
                immutableDays: network.immutableDays ?? config.snapshots.retentionDays,
                parExpiresAt: config.snapshots.parExpiresAt,
                kmsKeyId: config.snapshots.kmsKeyId,
            },
            spec,
            primary: peer,
        });
        const bastion = site.nodes.bastion;
        const created: NodeConnection[] = site.hosts.map((h) => ({
            name: h.name,
            role: h.role,
            // The instance's own address, so that every command waits for the instance (F06).
            host: site.nodes.instances[h.name].privateIp,
            port: 22,
            user: config.sshUser,
            privateKey,
            proxy: bastion ? { host: bastion.publicIp, user: config.sshUser, privateKey } : undefined,
            readyAfter: [site.nodes.instances[h.name]],
        }));
        // Joins with credentials minted at join time; a replaced instance is joined again (F10, F16).
        const nodes = bootstrapAndJoin(config.stack, {
            created,
            bootstrap: site.kubeadm,
            hosts: site.hosts,
            instanceIds: Object.fromEntries(site.hosts.map((h) => [h.name, site.nodes.instances[h.name].id])),
        }, { parent: site });
        return {
            controlPlane: controlPlaneOf(nodes),
            workers: workersOf(nodes),
            writeUrl: site.store.writeUrl,
            readUrl: site.store.readUrl,
            storeWritable: site.store.madeWritable ? [site.store.madeWritable] : undefined,
            // The site's API front end: any control-plane node behind it may be down (F12, F30).
            apiEndpoint: site.apiFrontEnd.address,
            nodes: site.nodeOutputs.map((n) => ({ name: n.name, role: n.role, address: n.privateIp })),
            outputs: {
                oci: {
                    region: config.region,
                    compartmentId: network.compartmentId,
                    vcnCidr: network.vcnCidr,
                    peerVcnCidr: site.peerVcnCidr,
                    vcnId: site.network.vcn.id,
                    drgId: site.network.drg.id,
                    rpcId: site.peering.connection.id,
                    bucketName: site.store.bucket.name,
                    bucketNamespace: site.store.namespace,
                    ...(bastion ? { bastionPublicIp: bastion.publicIp } : {}),
                    ...(peer && !config.promote
                        ? { replication: { fromRegion: peer.region, fromBucket: peer.bucketName, toRegion: config.region, toBucket: site.store.bucket.name } }
                        : {}),
                },
            },
        };
    },
};
