// Stand-ins for the OCI API and the providers, used by the offline plan and the unit tests.
// They answer like the services would (ids, computed outputs) and record every registration.

import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { formatResult } from "../lib/nodeReport";

export interface Registration {
    type: string;
    name: string;
    custom: boolean;
    inputs: Record<string, unknown>;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

function isSecretWrapper(value: unknown): value is { value: unknown } {
    return value !== null && typeof value === "object" && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Replaces secret values with "[secret]" so a plan can be printed and shared. */
export function redactSecrets(value: unknown): unknown {
    if (isSecretWrapper(value)) return "[secret]";
    if (Array.isArray(value)) return value.map(redactSecrets);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.entries(value as Record<string, unknown>)
                .filter(([k]) => k !== "__defaults")
                // A dynamic provider's serialized code: long, and not configuration.
                .map(([k, v]) => [k, k === "__provider" ? "[dynamic provider code]" : v] as [string, unknown])
                .map(([k, v]) => [k, redactSecrets(v)]),
        );
    }
    return value;
}

/** Removes secret wrappers, keeping the values (what a real provider would see). */
export function unwrapSecrets(value: unknown): unknown {
    if (isSecretWrapper(value)) return unwrapSecrets(value.value);
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

function digest(text: string, length: number): string {
    return createHash("sha256").update(text).digest("hex").slice(0, length);
}

function computedOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomString:RandomString":
        case "random:index/randomPassword:RandomPassword":
            return { result: digest(name, Number(inputs.length ?? 16)) };
        case "random:index/randomId:RandomId":
            return { hex: digest(name, Number(inputs.byteLength ?? 8) * 2) };
        case "random:index/randomPet:RandomPet":
            return { id: `mock-${digest(name, 6)}` };
        case "oci:Core/instance:Instance": {
            const vnic = (inputs.createVnicDetails ?? {}) as Record<string, unknown>;
            // Public addresses come from the documentation range: nothing is ever sent there.
            return {
                privateIp: vnic.privateIp ?? "10.0.0.2",
                hostnameLabel: vnic.hostnameLabel,
                ...(vnic.assignPublicIp === "true" ? { publicIp: "203.0.113.10" } : {}),
            };
        }
        case "oci:ObjectStorage/preauthrequest:Preauthrequest":
            return {
                accessUri: `/p/${digest(name, 32)}/n/mocknamespace/b/${String(inputs.bucket)}/o/`,
                fullPath: `https://objectstorage.mock.invalid/p/${digest(name, 32)}/n/mocknamespace/b/${String(inputs.bucket)}/o/`,
                parId: `par-${digest(name, 8)}`,
            };
        case "command:remote:Command":
        case "command:local:Command":
            return { stdout: commandStdout(name, String(unwrapSecrets(inputs.create) ?? "")), stderr: "" };
        default:
            return {};
    }
}

const MOCK_KUBECONFIG = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster: {server: 'https://k8s-api:6443'}",
    "  name: mock",
    "",
].join("\n");

/**
 * A lab instance's host keys as `lab/instance.sh wait-ssh` prints them (known_hosts lines): an
 * Ed25519 key made from the instance's name, so each instance has its own and plans are stable.
 */
export function mockHostKeys(name: string, address: string): string {
    const type = Buffer.from("ssh-ed25519");
    const length = (n: number) => Buffer.from([0, 0, 0, n]);
    const blob = Buffer.concat([length(type.length), type, length(32), createHash("sha256").update(name).digest()]);
    return `${address} ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=\n${address} ssh-ed25519 ${blob.toString("base64")}`;
}

/** What the node would print: the toolkit's own result lines, so the program can read them back. */
function commandStdout(name: string, script: string): string {
    if (name.endsWith("admin-kubeconfig")) return MOCK_KUBECONFIG;
    const instance = /instance\.sh wait-ssh --site \S+ --name (\S+)/.exec(script);
    if (instance) return mockHostKeys(instance[1], /--address ([0-9.]+)\//.exec(script)?.[1] ?? "10.0.0.2");
    const lines: string[] = [];
    const verify = /etcd-dr restore verify (\S+)/.exec(script);
    const node = /"node":"([a-z0-9-]+)"/.exec(script)?.[1] ?? "node";
    if (verify) {
        lines.push(formatResult({ phase: "verify", node, revision: Number(verify[1].split("-r")[1]) }));
    }
    const timed = /\{"phase":"([a-z0-9-]+)","node":"([a-z0-9-]+)"/.exec(script);
    if (timed) lines.push(formatResult({ phase: timed[1], node: timed[2], start: 1700000000, end: 1700000001 }));
    return lines.join("\n");
}

export const MOCK_TENANCY = "ocid1.tenancy.oc1..mocktenancy";
export const MOCK_HOME_REGION = "us-ashburn-1";

export interface MockOptions {
    /** Outputs of stacks read through StackReference, by stack name. */
    stackOutputs?: Record<string, Record<string, unknown>>;
    region?: string;
}

export class SiteMocks implements pulumi.runtime.Mocks {
    readonly registrations: Registration[] = [];

    constructor(private readonly options: MockOptions = {}) {}

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
        this.registrations.push({ type: args.type, name: args.name, custom: args.custom ?? false, inputs: args.inputs });
        if (args.type === "pulumi:pulumi:StackReference") {
            const stackName = String(unwrapSecrets(args.inputs.name));
            const outputs = this.options.stackOutputs?.[stackName] ?? {};
            return { id: stackName, state: { name: stackName, outputs, secretOutputNames: [] } };
        }
        const state = { ...(unwrapSecrets(args.inputs) as Record<string, unknown>), ...computedOutputs(args.type, args.name, args.inputs) };
        return { id: args.custom ? `${args.name}-id` : undefined, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        const regionKey = (this.options.region ?? "us-ashburn-1").split("-")[1]?.toUpperCase() ?? "X";
        switch (args.token) {
            case "oci:Core/getServices:getServices":
                return {
                    services: [
                        { id: "ocid1.service.oc1.mock.objectstorage", name: `OCI ${regionKey} Object Storage`, cidrBlock: "oci-objectstorage", description: "" },
                        { id: "ocid1.service.oc1.mock.all", name: `All ${regionKey} Services In Oracle Services Network`, cidrBlock: "all-services", description: "" },
                    ],
                };
            case "oci:Identity/getAvailabilityDomains:getAvailabilityDomains":
                return { availabilityDomains: [1, 2, 3].map((n) => ({ name: `Mock:${regionKey}-AD-${n}`, id: `ad-${n}` })) };
            case "oci:ObjectStorage/getNamespace:getNamespace":
                return { namespace: "mocknamespace" };
            // The tenancy behind every compartment, and its home region, for the IAM provider.
            case "oci:Identity/getCompartment:getCompartment":
                return { id: String(args.inputs.id), compartmentId: MOCK_TENANCY, name: "mock" };
            case "oci:Identity/getRegionSubscriptions:getRegionSubscriptions":
                return {
                    tenancyId: String(args.inputs.tenancyId),
                    regionSubscriptions: [
                        { regionName: MOCK_HOME_REGION, regionKey: "IAD", isHomeRegion: true, state: "READY", tenancyId: String(args.inputs.tenancyId) },
                        { regionName: "us-phoenix-1", regionKey: "PHX", isHomeRegion: false, state: "READY", tenancyId: String(args.inputs.tenancyId) },
                    ],
                };
            default:
                return unwrapSecrets(args.inputs) as Record<string, unknown>;
        }
    }
}
