import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as fs from "fs";
import * as path from "path";
import { BootstrapRole, NodePlatformSettings, renderCloudInit } from "../../lib/cloudinit";
import { PlannedHost } from "../../lib/layout";
import { MirroredSpec } from "../../lib/spec";

export interface ClusterBootstrapArgs {
    spec: MirroredSpec;
    hosts: PlannedHost[];
    /** What the platform adds to every node's bootstrap (its network, mirrors, quirks). */
    platform: NodePlatformSettings;
    /** Where the API alias points on every node: the site's API front end; the first control-plane node when absent. */
    apiAddress?: string;
}

const BOOTSTRAP_SCRIPT = path.join(__dirname, "..", "..", "node", "kube-bootstrap.sh");

function bootstrapRole(host: PlannedHost, index: number): BootstrapRole {
    if (host.role === "worker") return "join-worker";
    return index === 0 ? "init" : "join-control-plane";
}

/**
 * The kubeadm bootstrap of one site, the same on every platform that creates its nodes: a join token and a certificate key from @pulumi/random (secrets),
 * and the cloud-init user data of every node, rendered from the one shared ClusterConfiguration.
 */
export class ClusterBootstrap extends pulumi.ComponentResource {
    readonly bootstrapToken: pulumi.Output<string>;
    readonly certificateKey: pulumi.Output<string>;
    /** The #cloud-config document per host name, secret because it carries the token and key. */
    readonly cloudConfig: Record<string, pulumi.Output<string>>;
    /** The same, base64-encoded, as OCI's instance metadata takes it. */
    readonly userData: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: ClusterBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:cluster:ClusterBootstrap", name, {}, opts);
        const child = { parent: this };

        // kubeadm token format: [a-z0-9]{6}.[a-z0-9]{16}
        const tokenId = new random.RandomString(`${name}-token-id`, { length: 6, special: false, upper: false }, child);
        const tokenSecret = new random.RandomPassword(`${name}-token-secret`, { length: 16, special: false, upper: false }, child);
        const certKey = new random.RandomId(`${name}-certificate-key`, { byteLength: 32 }, {
            parent: this,
            additionalSecretOutputs: ["hex", "b64Std", "b64Url", "dec"],
        });
        this.bootstrapToken = pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`);
        this.certificateKey = pulumi.secret(certKey.hex);

        const script = fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8");
        const apiAddress = args.apiAddress ?? args.hosts.find((h) => h.role === "control-plane")?.ip ?? "";
        const siteHosts = args.hosts.map(({ name: hostName, ip }) => ({ name: hostName, ip }));
        this.cloudConfig = {};
        this.userData = {};
        args.hosts.forEach((host, index) => {
            const rendered = pulumi
                .all([this.bootstrapToken, this.certificateKey])
                .apply(([bootstrapToken, certificateKey]) =>
                    renderCloudInit(args.spec, {
                        host: { name: host.name, ip: host.ip },
                        role: bootstrapRole(host, index),
                        siteHosts,
                        apiAddress,
                        bootstrapToken,
                        certificateKey,
                    }, args.platform, script),
                );
            this.cloudConfig[host.name] = pulumi.secret(rendered);
            this.userData[host.name] = pulumi.secret(rendered.apply((text) => Buffer.from(text).toString("base64")));
        });

        this.registerOutputs({ bootstrapToken: this.bootstrapToken, certificateKey: this.certificateKey });
    }
}
