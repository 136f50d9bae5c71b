// Builds one OciSite in this process under Pulumi mocks and records, for every resource, what the
// engine would get: its inputs, the provider it goes through, and its resource options. The plan
// tool cannot show providers per resource or options such as ignoreChanges; these tests need both.

import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { OciIamSettings, OciNetworkSettings, OciSite, PrimarySite } from "../../components/oci/site";
import { SiteMocks } from "../../tools/mocks";
import { sampleSpec } from "./spec.test";

export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    /** Name of the explicit provider the resource goes through; undefined for the default one. */
    provider?: string;
    dependsOn: string[];
    ignoreChanges: string[];
    protect: boolean;
    retainOnDelete: boolean;
}

class RecordingMocks extends SiteMocks {
    readonly providers = new Map<string, string>();

    newResource(args: pulumi.runtime.MockResourceArgs) {
        if (args.provider) {
            // "urn:pulumi:<stack>::<project>::pulumi:providers:oci::<name>::<id>"
            const parts = args.provider.split("::");
            this.providers.set(`${args.type}::${args.name}`, parts[parts.length - 2]);
        }
        return super.newResource(args);
    }
}

export const COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaasite";

export interface SiteCase {
    role: "primary" | "standby";
    iam?: Partial<OciIamSettings>;
    kmsKeyId?: string;
    immutableDays?: number;
    /** `oci:*` stack config, e.g. credentials; keys listed in `secrets` are secret. */
    config?: Record<string, string>;
    secrets?: string[];
    shape?: string;
    parExpiresAt?: string;
    /** A standby promoted by a failover: its replica becomes the active bucket. */
    promote?: boolean;
}

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

const PRIMARY: PrimarySite = {
    region: "us-ashburn-1",
    compartmentId: COMPARTMENT,
    vcnCidr: "10.10.0.0/16",
    rpcId: "ocid1.remotepeeringconnection.oc1.iad.primary",
    bucketName: "payments-etcd-snapshots-primary",
    bucketNamespace: "mocknamespace",
};

/** Builds the site and waits until every resource is registered. */
export async function buildSite(site: SiteCase): Promise<Recorded[]> {
    const mocks = new RecordingMocks({ region: site.role === "primary" ? "us-ashburn-1" : "us-phoenix-1" });
    const saved = { config: process.env.PULUMI_CONFIG, secrets: process.env.PULUMI_CONFIG_SECRET_KEYS };
    await pulumi.runtime.setMocks(mocks, "etcd-dr", site.role, false);
    pulumi.runtime.setAllConfig(site.config ?? {}, site.secrets ?? []);
    try {
        const names = new Map<pulumi.Resource, string>();
        const options = new Map<string, Omit<Recorded, "type" | "name" | "inputs" | "provider">>();
        const resources: pulumi.Resource[] = [];
        const capture: pulumi.ResourceTransformation = (args) => {
            names.set(args.resource, args.name);
            resources.push(args.resource);
            const dependsOn = ([] as unknown[]).concat(args.opts.dependsOn ?? []);
            options.set(`${args.type}::${args.name}`, {
                dependsOn: dependsOn.map((d) => (pulumi.Resource.isInstance(d) ? names.get(d) ?? "?" : "?")),
                ignoreChanges: args.opts.ignoreChanges ?? [],
                protect: args.opts.protect === true,
                retainOnDelete: args.opts.retainOnDelete === true,
            });
            return undefined;
        };
        const spec = sampleSpec();
        if (site.shape) spec.topology.nodeSize = { ...spec.topology.nodeSize, shape: site.shape };
        const primary = site.role === "primary";
        const network: OciNetworkSettings = {
            compartmentId: COMPARTMENT,
            vcnCidr: primary ? "10.10.0.0/16" : "10.20.0.0/16",
            peerVcnCidr: primary ? "10.20.0.0/16" : undefined,
            operatorCidr: "192.0.2.0/28",
            bastion: true,
            allowFromPeer: [22, 6443],
            nodeImageId: "ocid1.image.oc1.iad.aaaa",
            sshPublicKey: "ssh-ed25519 AAAAC3Nza test",
        };
        new OciSite(site.role, {
            stack: site.role,
            region: primary ? "us-ashburn-1" : "us-phoenix-1",
            role: site.role,
            network,
            iam: { policyCompartmentId: COMPARTMENT, ...site.iam },
            store: {
                nodeAccess: primary ? ["backup-write"] : site.promote ? ["backup-write", "restore-read"] : ["restore-read"],
                promote: site.promote ? { environment: { OCI_CLI_PROFILE: "DR" } } : undefined,
                prefix: "etcd",
                retentionDays: 14,
                immutableDays: site.immutableDays ?? 14,
                parExpiresAt: site.parExpiresAt ?? "2027-06-30T00:00:00Z",
                kmsKeyId: site.kmsKeyId,
            },
            spec,
            primary: primary ? undefined : PRIMARY,
        }, { transformations: [capture] });
        // Registration is asynchronous; a URN exists once the mock has seen the resource.
        let seen = 0;
        while (seen < resources.length) {
            const batch = resources.slice(seen);
            seen = resources.length;
            await Promise.all(batch.map((r) => promiseOf(r.urn)));
        }
        return mocks.registrations
            .filter((r) => r.type !== "pulumi:pulumi:Stack")
            .map((r) => ({
                type: r.type,
                name: r.name,
                inputs: r.inputs,
                provider: mocks.providers.get(`${r.type}::${r.name}`),
                ...(options.get(`${r.type}::${r.name}`) ?? { dependsOn: [], ignoreChanges: [], protect: false, retainOnDelete: false }),
            }));
    } finally {
        restoreEnv("PULUMI_CONFIG", saved.config);
        restoreEnv("PULUMI_CONFIG_SECRET_KEYS", saved.secrets);
    }
}

function restoreEnv(key: string, value: string | undefined): void {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
}

export const named = (resources: Recorded[], name: string): Recorded => {
    const found = resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    return found;
};

export const typed = (resources: Recorded[], suffix: string): Recorded[] => resources.filter((r) => r.type.endsWith(suffix));

const OCI_SDK = path.dirname(require.resolve("@pulumi/oci/package.json"));

/**
 * Whether the provider's own type definitions give this resource type a `freeformTags` input:
 * "oci:Core/vcn:Vcn" is declared by `VcnArgs` in core/vcn.d.ts.
 */
export function acceptsFreeformTags(type: string): boolean {
    const match = /^oci:([A-Za-z]+)\/([A-Za-z0-9]+):([A-Za-z0-9]+)$/.exec(type);
    if (!match) return false;
    const file = path.join(OCI_SDK, match[1].toLowerCase(), `${match[2]}.d.ts`);
    const text = fs.readFileSync(file, "utf8");
    const start = text.indexOf(`export interface ${match[3]}Args {`);
    if (start < 0) throw new Error(`${file} declares no ${match[3]}Args`);
    const body = text.slice(start, text.indexOf("\n}", start));
    return /\n\s+freeformTags\?:/.test(body);
}
