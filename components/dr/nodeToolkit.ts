import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { afterReady, asRoot, connectionArgs, NodeConnection } from "../../lib/connection";
import { installFileScript, REMOTE_KEY, REMOTE_SETTINGS, REMOTE_TOOLKIT, removeFileScript, renderSettings, sha256, ToolkitSettings } from "../../lib/toolkit";

export interface NodeToolkitArgs {
    /** The control-plane nodes: the toolkit, its settings and the snapshot key. */
    nodes: NodeConnection[];
    /** The workers: the toolkit and settings without the store's URLs or the key (they only restart their kubelet in a restore). */
    workers?: NodeConnection[];
    /** node/etcd-dr, as it is in this checkout. */
    toolkit: string;
    /** Contains PAR URLs: treated as a secret. */
    settings: pulumi.Input<ToolkitSettings>;
    encryptionKey: pulumi.Input<string>;
}

/**
 * The node toolkit (node/etcd-dr), its settings file (mode 0600) and the snapshot encryption key on
 * every control-plane node of a site; the toolkit and settings without store access on its workers.
 * A change of content replaces the install: the new file is installed first (atomically), then the
 * old resource's delete runs, which removes the file only while it holds the old content.
 */
export class NodeToolkit extends pulumi.ComponentResource {
    private readonly ready: Record<string, pulumi.Resource[]>;
    readonly toolkitDigest: string;
    /** Digest of the settings (a secret, as the settings are). */
    readonly settingsDigest: pulumi.Output<string>;

    constructor(name: string, args: NodeToolkitArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:dr:NodeToolkit", name, {}, opts);
        this.toolkitDigest = sha256(args.toolkit);
        const settingsText = pulumi.secret(pulumi.output(args.settings).apply((s) => renderSettings(s)));
        const workerSettingsText = pulumi.secret(pulumi.output(args.settings).apply((s) => renderSettings(s, "worker")));
        const key = pulumi.secret(pulumi.output(args.encryptionKey).apply((k) => `${k}\n`));
        this.settingsDigest = pulumi.secret(pulumi.all([settingsText, key]).apply(([s, k]) => sha256(s + k)));
        // What lands on every node: path, mode, content, and what re-installs it when it changes.
        type File = { suffix: string; path: string; mode: string; content: pulumi.Input<string>; trigger: pulumi.Input<string> };
        const toolkitFile: File = { suffix: "toolkit", path: REMOTE_TOOLKIT, mode: "0755", content: args.toolkit, trigger: this.toolkitDigest };
        const settingsFile = (content: pulumi.Output<string>): File =>
            ({ suffix: "settings", path: REMOTE_SETTINGS, mode: "0600", content, trigger: pulumi.secret(content.apply(sha256)) });
        const controlPlaneFiles: File[] = [
            toolkitFile,
            settingsFile(settingsText),
            { suffix: "key", path: REMOTE_KEY, mode: "0600", content: key, trigger: pulumi.secret(key.apply(sha256)) },
        ];
        const workerFiles: File[] = [toolkitFile, settingsFile(workerSettingsText)];
        this.ready = {};
        const nodes = [
            ...args.nodes.map((node) => ({ node, files: controlPlaneFiles })),
            ...(args.workers ?? []).map((node) => ({ node, files: workerFiles })),
        ];
        for (const { node, files } of nodes) {
            const connection = connectionArgs(node);
            this.ready[node.name] = files.map((file) =>
                new command.remote.Command(`${name}-${node.name}-${file.suffix}`, {
                    connection,
                    create: asRoot(node, installFileScript(file.path, file.mode)),
                    delete: pulumi.output(file.trigger).apply((digest) => asRoot(node, removeFileScript(file.path, digest))),
                    // Upstream sends the last stdout to the delete (and to a re-run) as an SSH env request, which a
                    // stock sshd refuses with a warning on every such run; nothing here reads it.
                    addPreviousOutputInEnv: false,
                    stdin: file.content,
                    triggers: [file.trigger],
                }, { parent: this, dependsOn: afterReady(node) }),
            );
        }
        this.registerOutputs({ nodes: nodes.map((n) => n.node.name), toolkitDigest: this.toolkitDigest });
    }

    /** What must exist on `node` before the toolkit can run there (empty for a node without it). */
    installedOn(node: string): pulumi.Resource[] {
        return this.ready[node] ?? [];
    }
}
