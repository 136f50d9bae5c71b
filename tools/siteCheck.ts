// What a freshly built lab site must be before any DR step counts: a kubeadm cluster whose nodes are
// all Ready under the site's host names with kube-system running, on instances that still behave
// like OCI's Ubuntu image while the cluster works (root login refused, the image's REJECT rules in
// place behind the openings the bootstrap made). The drill checks both sites with it.
import { spawnSync } from "child_process";
import { LabAccess, LabNode, Site, waitFor } from "./lab";
import { NodeObject, nodeProblems, PodObject, podProblems } from "./k8sDataset";

/** The image's last INPUT and FORWARD rules (lab/instance/rules.v4, as OCI's Ubuntu images ship them). */
export const IMAGE_REJECT_RULES = [
    "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
    "-A FORWARD -j REJECT --reject-with icmp-host-prohibited",
];

export interface SiteChecked {
    nodesReady: string[];
    kubeSystemPods: number;
    rootLoginRefused: number;
    imageFirewall: number;
}

/** Why `iptables -S INPUT; iptables -S FORWARD` output lacks the image's firewall; [] when it has it. */
export function firewallProblems(node: string, rules: string): string[] {
    const lines = rules.split("\n").map((l) => l.trim());
    return IMAGE_REJECT_RULES.flatMap((rule) => {
        const chain = rule.split(" ")[1];
        const at = lines.indexOf(rule);
        if (at < 0) return [`${node}: no \`${rule}\` (the image's host firewall is gone)`];
        // An unconditional ACCEPT ahead of the REJECT would leave the rule in place and the node open.
        const open = lines.slice(0, at).find((l) => l === `-A ${chain} -j ACCEPT`);
        return open ? [`${node}: \`${open}\` ahead of the image's REJECT opens the node to every source`] : [];
    });
}

/**
 * Why an SSH attempt as root was not refused; undefined when it was. Refused is what OCI's Ubuntu
 * images do: cloud-init's disable_root keys root to a command that prints "Please login as the user
 * ..." and exits 142, or sshd denies the key outright.
 */
export function rootLoginProblem(node: string, run: { status: number; stdout: string; stderr: string }): string | undefined {
    if (run.status === 142 && /Please login as the user "\S+" rather than the user "root"/.test(run.stdout)) return undefined;
    if (run.status === 255 && /Permission denied/.test(run.stderr)) return undefined;
    if (run.status === 0) return `${node}: root logged in over SSH (the image refuses it)`;
    const said = [run.stdout, run.stderr].join("\n").trim().split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("Warning: Permanently added")).pop();
    return `${node}: root SSH failed for another reason than a refusal: exit ${run.status}${said ? `: ${said}` : ""}`;
}

function rootLogin(lab: LabAccess, node: LabNode): { status: number; stdout: string; stderr: string } {
    // ssh's default log level: at ERROR it does not print the server's "Permission denied".
    const run = spawnSync("ssh", [...lab.sshArgs(node.address, "root", "INFO"), "true"], { encoding: "utf8" });
    return { status: run.status ?? -1, stdout: run.stdout ?? "", stderr: run.stderr ?? "" };
}

/** Waits until the site is the cluster and the image it should be; throws naming every problem. */
export async function checkSite(lab: LabAccess, site: Site, timeoutMs = 300_000): Promise<SiteChecked> {
    const hosts = lab.lab.sites[site].nodes;
    let last: string[] = [];
    const kubeSystemPods = await waitFor(`${site}: every node Ready and kube-system running`, timeoutMs, () => {
        const nodes = JSON.parse(lab.kubectl(site, "get nodes -o json")) as { items: NodeObject[] };
        const pods = JSON.parse(lab.kubectl(site, "-n kube-system get pods -o json")) as { items: PodObject[] };
        last = [...nodeProblems(nodes.items, hosts), ...podProblems(pods.items, hosts)];
        return last.length === 0 ? pods.items.length : undefined;
    }).catch((error: Error) => { throw new Error(`${error.message}: ${last.join("; ")}`); });

    const problems = hosts.flatMap((node) => {
        const refused = rootLoginProblem(node.name, rootLogin(lab, node));
        return [...(refused ? [refused] : []), ...firewallProblems(node.name, lab.ok(site, node.name, "iptables -S INPUT; iptables -S FORWARD"))];
    });
    if (problems.length > 0) throw new Error(`${site} does not behave like the OCI image: ${problems.join("; ")}`);
    return { nodesReady: hosts.map((h) => h.name), kubeSystemPods, rootLoginRefused: hosts.length, imageFirewall: hosts.length };
}
