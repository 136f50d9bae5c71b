import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { JOIN_TOKEN_TTL, mintJoinCredentialsScript, parseJoinCredentials } from "../../lib/kubeadmJoin";
import { PlannedHost } from "../../lib/layout";
import { BootstrapCheck } from "./bootstrapCheck";
import { ClusterBootstrap } from "./clusterBootstrap";

export interface ClusterJoinArgs {
    /** Every node of the site, prepared by its first boot (after its BootstrapCheck). */
    nodes: NodeConnection[];
    /** The site's bootstrap, built with `joinOverSsh`: it renders each JoinConfiguration. */
    bootstrap: ClusterBootstrap;
    /** Each node's fixed address, for its JoinConfiguration and its etcd member. */
    addresses: Record<string, string>;
    /**
     * What changes when a node is replaced (its instance id): the node is joined again, with new
     * credentials, and a control-plane node's dead etcd member is removed first.
     */
    generations: Record<string, pulumi.Input<string>>;
}

/**
 * The join on the node: its kube-bootstrap reads the JoinConfiguration on standard input. A node
 * that is a member already is left alone before its kube-bootstrap is asked anything: the nodes of
 * a site built before the joins moved here run an older kube-bootstrap, which knows no `join`.
 */
export const JOIN_COMMAND = [
    "if [ -s /etc/kubernetes/kubelet.conf ]; then",
    "  echo \"$(hostname -s) is a member of the cluster already\"",
    "else",
    "  /usr/local/sbin/kube-bootstrap join",
    "fi",
].join("\n");

/**
 * Joins the nodes of a site over SSH (F10, F16). For each node, a live control-plane node mints a
 * token (valid for JOIN_TOKEN_TTL) and, for a control-plane join, uploads the certificates under a
 * new key; the node joins with them and the CA pinned by its hash. No credential is in any user
 * data, none outlives its join by long, and a node replaced a year later joins like a new one. The
 * first control-plane node initialised the cluster itself; it is joined (minted on the second one)
 * only when it was replaced and found the cluster running. Its command is a no-op otherwise.
 */
export class ClusterJoin extends pulumi.ComponentResource {
    private readonly joins: Record<string, command.remote.Command>;

    constructor(name: string, args: ClusterJoinArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:k8s:ClusterJoin", name, {}, opts);
        this.joins = {};
        const controlPlane = args.nodes.filter((n) => n.role === "control-plane");
        const [first, second] = controlPlane;
        if (!first) throw new Error("a site needs a control-plane node to join its other nodes to");

        // Control-plane joins one at a time: etcd refuses a new member while another is still unstarted.
        let previousMember: pulumi.Resource[] = [];
        const join = (node: NodeConnection, minter: NodeConnection) => {
            const isControlPlane = node.role === "control-plane";
            const mint = new command.remote.Command(`${name}-${node.name}-credentials`, {
                connection: connectionArgs(minter),
                create: asRoot(minter, mintJoinCredentialsScript({ name: node.name, ip: args.addresses[node.name], controlPlane: isControlPlane })),
                triggers: [args.generations[node.name]],
                // Credentials: never in the update's log, never sent back as an SSH environment request.
                logging: "stderr",
                addPreviousOutputInEnv: false,
            }, {
                parent: this,
                additionalSecretOutputs: ["stdout"],
                dependsOn: afterReady(minter, node.readyAfter ?? [], isControlPlane ? previousMember : []),
            });
            const configuration = pulumi.secret(mint.stdout.apply((stdout) => {
                const credentials = parseJoinCredentials(stdout ?? "", { name: node.name, controlPlane: isControlPlane });
                return credentials ? args.bootstrap.joinConfiguration(node.name, credentials) : "";
            }));
            this.joins[node.name] = new command.remote.Command(`${name}-${node.name}`, {
                connection: connectionArgs(node),
                create: asRoot(node, JOIN_COMMAND),
                stdin: configuration,
                // New credentials (a replaced node) are a new join.
                triggers: [mint.stdout],
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: afterReady(node, [mint]) });
            if (isControlPlane) previousMember = [this.joins[node.name]];
        };

        for (const node of args.nodes) {
            if (node !== first) join(node, { ...first, readyAfter: afterReady(first) });
        }
        if (second) {
            // Minted on the second control-plane node once it is a member itself.
            join(first, { ...second, readyAfter: afterReady(second, [this.joins[second.name]]) });
        }
        this.registerOutputs({ nodes: Object.keys(this.joins), tokenTtl: JOIN_TOKEN_TTL });
    }

    /** `node` with its join added to what must be complete before anything runs on it. */
    ready(node: NodeConnection): NodeConnection {
        const joined = this.joins[node.name];
        return joined ? { ...node, readyAfter: [...(node.readyAfter ?? []), joined] } : node;
    }
}

export interface SiteJoinArgs {
    /** Each node as its instance came up (its commands wait for the instance). */
    created: NodeConnection[];
    /** The site's bootstrap, built with `joinOverSsh`. */
    bootstrap: ClusterBootstrap;
    /** The site's hosts with their fixed addresses. */
    hosts: PlannedHost[];
    /** Each host's instance id: a replaced instance is joined again. */
    instanceIds: Record<string, pulumi.Input<string>>;
}

/**
 * A site's nodes as every later step needs them, the same on each platform: their first boot
 * checked (BootstrapCheck), then joined over SSH one at a time (ClusterJoin).
 */
export function bootstrapAndJoin(stack: string, args: SiteJoinArgs, opts: pulumi.ComponentResourceOptions): NodeConnection[] {
    const bootstrap = new BootstrapCheck(`${stack}-bootstrap`, { nodes: args.created }, opts);
    const prepared = args.created.map((n) => bootstrap.ready(n));
    const joined = new ClusterJoin(`${stack}-join`, {
        nodes: prepared,
        bootstrap: args.bootstrap,
        addresses: Object.fromEntries(args.hosts.map((h) => [h.name, h.ip])),
        generations: args.instanceIds,
    }, opts);
    return prepared.map((n) => joined.ready(n));
}
