// What Pulumi installs on the nodes: the bash toolkit (node/etcd-dr) and its settings file.
// Pure rendering, so the exact bytes that land on a node can be tested without a node.

import { createHash } from "crypto";
import { shellQuote } from "./shell";
import { Compression } from "./snapshot";

export const REMOTE_TOOLKIT = "/usr/local/sbin/etcd-dr";
export const REMOTE_SETTINGS = "/etc/etcd-dr/etcd-dr.env";
export const REMOTE_KEY = "/etc/etcd-dr/encryption.key";
/** The backup timer `etcd-dr install-timer` writes (node/lib/timer.sh); a unit test keeps the two equal. */
export const TIMER_UNIT = "etcd-dr-backup.timer";
export const REMOTE_TIMER = `/etc/systemd/system/${TIMER_UNIT}`;

/** The one file a node receives: node/etcd-dr with its node/lib parts inlined. */
export { readToolkit } from "./toolkitSource";

export function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/** Installs a file from the command's stdin atomically (a temporary file renamed over it); prints only its digest. */
export function installFileScript(path: string, mode: string): string {
    return [
        `install -d -m 0755 "$(dirname ${path})"`,
        `umask 077`,
        `cat > ${path}.new`,
        `chmod ${mode} ${path}.new`,
        `mv -f ${path}.new ${path}`,
        `echo "installed ${path} sha256=$(sha256sum ${path} | cut -c1-64)"`,
    ].join(" && ");
}

/**
 * Removes the file only while it still holds what one install wrote (its content's sha256). A
 * replacement installs the new content first and runs the old resource's delete after it: that
 * delete must leave the new file alone. Deleting first instead left a node without its settings,
 * and its backups failing, whenever the new install then failed.
 */
export function removeFileScript(path: string, digest: string): string {
    return `if [ "$(sha256sum ${path} 2>/dev/null | cut -c1-64)" = "${digest}" ]; then rm -f ${path}; fi`;
}

export interface ToolkitSettings {
    cluster: string;
    prefix: string;
    /** Control-plane host names of this site, in topology order. */
    members: string[];
    kubernetesVersion: string;
    writeUrl?: string;
    readUrl?: string;
    onCalendar: string;
    randomizedDelaySec: number;
    compression: Compression;
}

/**
 * The settings file, mode 0600 on the node. Secret values (PAR URLs) are in it; the key is not.
 * A worker only restarts its kubelet in a restore: it gets neither the store's URLs nor the key.
 */
export function renderSettings(s: ToolkitSettings, role: "control-plane" | "worker" = "control-plane"): string {
    const controlPlane = role === "control-plane";
    const lines: [string, string | undefined][] = [
        ["ETCD_DR_CLUSTER", s.cluster],
        ["ETCD_DR_PREFIX", s.prefix],
        ["ETCD_DR_MEMBERS", s.members.join(",")],
        ["ETCD_DR_KUBERNETES_VERSION", s.kubernetesVersion],
        ["ETCD_DR_WRITE_URL", controlPlane ? s.writeUrl : undefined],
        ["ETCD_DR_READ_URL", controlPlane ? s.readUrl : undefined],
        ["ETCD_DR_ENCRYPTION_KEY_FILE", controlPlane ? REMOTE_KEY : undefined],
        ["ETCD_DR_COMPRESSION", s.compression],
        ["ETCD_DR_ON_CALENDAR", s.onCalendar],
        ["ETCD_DR_RANDOMIZED_DELAY", `${s.randomizedDelaySec}s`],
    ];
    const body = lines
        .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
        .map(([key, value]) => `${key}=${shellQuote(value)}`)
        .join("\n");
    return `# Written by Pulumi (etcd-dr NodeToolkit). Changes here are overwritten.\n${body}\n`;
}
