import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as fs from "fs";
import * as path from "path";
import { BootstrapRole, JoinCredentials, NodePlatformSettings, renderCloudInit, renderJoinConfiguration } from "../../lib/cloudinit";
import { PlannedHost } from "../../lib/layout";
import { MirroredSpec } from "../../lib/spec";

export interface ClusterBootstrapArgs {
    spec: MirroredSpec;
    hosts: PlannedHost[];
    /** What the platform adds to every node's bootstrap (its network, mirrors, quirks). */
    platform: NodePlatformSettings;
    /** Where the API alias points on every node: the site's API front end; the first control-plane node when absent. */
    apiAddress?: string;
    /**
     * No join credentials in any user data (F10): the first boot of a joining node only prepares it,
     * and a ClusterJoin joins it over SSH with credentials minted at that moment. Otherwise a token
     * and certificate key from @pulumi/random ride in the user data of every node.
     */
    joinOverSsh?: boolean;
}

const BOOTSTRAP_SCRIPT = path.join(__dirname, "..", "..", "node", "kube-bootstrap.sh");

function bootstrapRole(host: PlannedHost, index: number): BootstrapRole {
    if (host.role === "worker") return "join-worker";
    return index === 0 ? "init" : "join-control-plane";
}

/**
 * The kubeadm bootstrap of one site, the same on every platform that creates its nodes: the
 * cloud-init user data of every node, rendered from the one shared ClusterConfiguration, and how
 * each node joins. With `joinOverSsh` the user data holds no secret; without it, a join token and
 * a certificate key from @pulumi/random (secrets) are in every node's user data.
 */
export class ClusterBootstrap extends pulumi.ComponentResource {
    readonly bootstrapToken?: pulumi.Output<string>;
    readonly certificateKey?: pulumi.Output<string>;
    /** The #cloud-config document per host name; secret when it carries join credentials. */
    readonly cloudConfig: Record<string, pulumi.Output<string>>;
    /** The same, base64-encoded, as OCI's instance metadata takes it. */
    readonly userData: Record<string, pulumi.Output<string>>;
    /** How each host bootstraps at first boot. */
    readonly roles: Record<string, BootstrapRole>;
    private readonly args: ClusterBootstrapArgs;

    constructor(name: string, args: ClusterBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:cluster:ClusterBootstrap", name, {}, opts);
        this.args = args;
        const child = { parent: this };

        let credentials: pulumi.Output<{ bootstrapToken?: string; certificateKey?: string }> = pulumi.output({});
        if (!args.joinOverSsh) {
            // kubeadm token format: [a-z0-9]{6}.[a-z0-9]{16}
            const tokenId = new random.RandomString(`${name}-token-id`, { length: 6, special: false, upper: false }, child);
            const tokenSecret = new random.RandomPassword(`${name}-token-secret`, { length: 16, special: false, upper: false }, child);
            const certKey = new random.RandomId(`${name}-certificate-key`, { byteLength: 32 }, {
                parent: this,
                additionalSecretOutputs: ["hex", "b64Std", "b64Url", "dec"],
            });
            this.bootstrapToken = pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`);
            this.certificateKey = pulumi.secret(certKey.hex);
            credentials = pulumi.all([this.bootstrapToken, this.certificateKey]).apply(([bootstrapToken, certificateKey]) => ({ bootstrapToken, certificateKey }));
        }

        const script = fs.readFileSync(BOOTSTRAP_SCRIPT, "utf8");
        const apiAddress = args.apiAddress ?? args.hosts.find((h) => h.role === "control-plane")?.ip ?? "";
        const siteHosts = args.hosts.map(({ name: hostName, ip }) => ({ name: hostName, ip }));
        this.cloudConfig = {};
        this.userData = {};
        this.roles = {};
        args.hosts.forEach((host, index) => {
            const role = bootstrapRole(host, index);
            this.roles[host.name] = role;
            const rendered = credentials.apply((given) =>
                renderCloudInit(args.spec, { host: { name: host.name, ip: host.ip }, role, siteHosts, apiAddress, ...given }, args.platform, script),
            );
            const keep = args.joinOverSsh ? (text: pulumi.Output<string>) => text : (text: pulumi.Output<string>) => pulumi.secret(text);
            this.cloudConfig[host.name] = keep(rendered);
            this.userData[host.name] = keep(rendered.apply((text) => Buffer.from(text).toString("base64")));
        });

        this.registerOutputs({ bootstrapToken: this.bootstrapToken, certificateKey: this.certificateKey });
    }

    /**
     * The JoinConfiguration for `hostName` with freshly minted credentials. The first control-plane
     * node joins as a control-plane node too: it does when it was replaced in a running cluster.
     */
    joinConfiguration(hostName: string, credentials: JoinCredentials): string {
        const host = this.args.hosts.find((h) => h.name === hostName);
        if (!host) throw new Error(`${hostName} is no host of this site`);
        const role: BootstrapRole = host.role === "worker" ? "join-worker" : "join-control-plane";
        return renderJoinConfiguration(this.args.spec, { name: host.name, ip: host.ip }, role, this.args.platform, credentials);
    }
}
