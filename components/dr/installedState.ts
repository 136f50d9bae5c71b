import * as pulumi from "@pulumi/pulumi";
import { NodeConnection } from "../../lib/connection";
import { knownHostsLine, remoteRootCommand, SshEndpoint, sshOptions, sshTargetKey, sshTargetOf } from "../../lib/sshTarget";
import { REMOTE_TIMER, REMOTE_TOOLKIT, TIMER_UNIT } from "../../lib/toolkit";

/**
 * What etcd-dr installed on one node, read back from the node. `pulumi refresh` (and
 * `pulumi preview --refresh`) reads the node: a toolkit edited by hand or a backup timer disabled
 * by hand shows up as a diff against what the program expects, and `pulumi up` puts it back.
 *
 * A dynamic provider, so that the read runs in Pulumi's own Node.js process over the same SSH the
 * commands use; the command provider has no way to read a node back.
 */
export interface InstalledStateArgs {
    node: NodeConnection;
    /** sha256 of node/etcd-dr as this checkout has it. */
    toolkitSha256: string;
    /** The toolkit itself, to put back when it was changed by hand. */
    toolkit: string;
    /** "enabled active" where backups run (active site), "absent" elsewhere. */
    timer: "enabled active" | "absent";
}

interface StateInputs {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    hostKey?: string;
    proxy?: { host: string; port?: number; user: string; privateKey: string; hostKey?: string };
    toolkitSha256: string;
    toolkit: string;
    timer: string;
}

interface Observed {
    toolkitSha256: string;
    timer: string;
}

const OBSERVE = [
    `toolkit=$(sha256sum ${REMOTE_TOOLKIT} 2>/dev/null | cut -c1-64)`,
    `[ -n "$toolkit" ] || toolkit=missing`,
    `if [ -f ${REMOTE_TIMER} ]; then`,
    `  timer="$(systemctl is-enabled ${TIMER_UNIT} 2>/dev/null) $(systemctl is-active ${TIMER_UNIT} 2>/dev/null)"`,
    "else timer=absent; fi",
    "echo \"toolkit=$toolkit\"",
    "echo \"timer=$timer\"",
].join("\n");

/**
 * Runs a bash script on the node over ssh (the same key, host key and bastion as the commands).
 * `props` are the resource's inputs or its stored outputs, in any form the engine delivers them
 * (lib/sshTarget.ts).
 */
function sshRun(props: StateInputs, script: string, stdin = ""): string {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const childProcess: typeof import("child_process") = require("child_process");
    const fs: typeof import("fs") = require("fs");
    const os: typeof import("os") = require("os");
    const path: typeof import("path") = require("path");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const target = sshTargetOf(props as unknown as Record<string, unknown>, `${String(props.host)}'s connection`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-ssh-"));
    try {
        const files = (name: string, endpoint: SshEndpoint) => {
            const key = path.join(dir, `${name}-key`);
            const knownHosts = path.join(dir, `${name}-known_hosts`);
            fs.writeFileSync(key, endpoint.privateKey, { mode: 0o600 });
            if (endpoint.hostKey) fs.writeFileSync(knownHosts, `${knownHostsLine(endpoint)}\n`, { mode: 0o600 });
            return sshOptions(endpoint, key, knownHosts);
        };
        const args = files("node", target);
        if (target.proxy) {
            const proxy = target.proxy;
            args.push("-o", `ProxyCommand=ssh ${files("proxy", proxy).join(" ")} -W %h:%p ${proxy.user}@${proxy.host}`);
        }
        const result = childProcess.spawnSync("ssh", [...args, `${target.user}@${target.host}`, remoteRootCommand(target.user, script)], {
            input: stdin,
            encoding: "utf8",
            timeout: 120_000,
        });
        if (result.error) throw new Error(`ssh to ${target.host} could not start: ${result.error.message}`);
        if (result.status !== 0) throw new Error(`ssh to ${target.user}@${target.host}:${target.port} failed (${result.status}): ${String(result.stderr).trim()}`);
        return String(result.stdout);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function observe(inputs: StateInputs): Observed {
    const out = sshRun(inputs, OBSERVE);
    const value = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(out)?.[1]?.trim() ?? "unknown";
    return { toolkitSha256: value("toolkit"), timer: value("timer") };
}

/** Puts the toolkit and the timer back the way the program wants them. */
function repair(inputs: StateInputs): void {
    const install = `install -d -m 0755 $(dirname ${REMOTE_TOOLKIT}) && cat > ${REMOTE_TOOLKIT}.new && chmod 0755 ${REMOTE_TOOLKIT}.new && mv -f ${REMOTE_TOOLKIT}.new ${REMOTE_TOOLKIT}`;
    sshRun(inputs, install, inputs.toolkit);
    if (inputs.timer === "enabled active") {
        sshRun(inputs, "etcd-dr install-timer >/dev/null");
    } else {
        // --force: the program wants no timer here, whichever install left one (node/lib/timer.sh).
        sshRun(inputs, `if [ -f ${REMOTE_TIMER} ]; then etcd-dr remove-timer --force >/dev/null; fi`);
    }
}

const COMPARED: (keyof Observed)[] = ["toolkitSha256", "timer"];

/**
 * Why the stored state differs from what the program wants: drift on the node (the observed
 * fields), a new toolkit, or a new way to reach the node (key rotation, another user or port, a new
 * bastion or host key). The last must be an update too, or a refresh would keep reading the node
 * with the connection stored before it changed.
 */
export function installedStateChanges(olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
    const changed: string[] = COMPARED.filter((k) => olds[k] !== news[k]);
    if (olds.toolkit !== news.toolkit) changed.push("toolkit");
    const reach = (props: Record<string, unknown>) => {
        try {
            return sshTargetKey(sshTargetOf(props));
        } catch (error) {
            return `unusable: ${(error as Error).message}`;
        }
    };
    if (reach(olds) !== reach(news)) changed.push("connection");
    return changed;
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: StateInputs) {
        const observed = observe(inputs);
        const drifted = COMPARED.filter((k) => observed[k] !== inputs[k]);
        if (drifted.length > 0) {
            repair(inputs);
        }
        return { id: `${inputs.host}-installed-state`, outs: { ...inputs, ...observe(inputs) } };
    },
    async read(id: string, props: StateInputs) {
        return { id, props: { ...props, ...observe(props) } };
    },
    async diff(_id: string, olds: StateInputs, news: StateInputs) {
        return { changes: installedStateChanges(olds as unknown as Record<string, unknown>, news as unknown as Record<string, unknown>).length > 0 };
    },
    async update(_id: string, _olds: StateInputs, news: StateInputs) {
        // A connection-only change stores the new connection; the node is repaired only when it drifted.
        const before = observe(news);
        if (COMPARED.some((k) => before[k] !== news[k])) {
            repair(news);
        }
        const observed = observe(news);
        const drifted = COMPARED.filter((k) => observed[k] !== news[k]);
        if (drifted.length > 0) {
            throw new Error(`${news.host} still differs after repair: ${drifted.map((k) => `${k} is ${observed[k]}`).join(", ")}`);
        }
        return { outs: { ...news, ...observed } };
    },
};

export class InstalledState extends pulumi.dynamic.Resource {
    declare readonly toolkitSha256: pulumi.Output<string>;
    declare readonly timer: pulumi.Output<string>;

    constructor(name: string, args: InstalledStateArgs, opts?: pulumi.CustomResourceOptions) {
        const node = args.node;
        super(provider, name, {
            host: node.host,
            port: node.port,
            user: node.user,
            privateKey: pulumi.secret(node.privateKey),
            hostKey: node.hostKey,
            proxy: node.proxy ? pulumi.secret(node.proxy) : undefined,
            toolkitSha256: args.toolkitSha256,
            toolkit: args.toolkit,
            timer: args.timer,
        }, { ...opts, additionalSecretOutputs: ["privateKey", "proxy"] });
    }
}
