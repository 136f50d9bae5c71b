import * as assert from "assert";
import { firewallProblems, rootLoginProblem } from "../../tools/siteCheck";

// What `iptables -S INPUT; iptables -S FORWARD` printed on a lab kubeadm node: the bootstrap's openings
// and kube-proxy's chains ahead of the image's REJECT rules.
const NODE_RULES = [
    "-P INPUT ACCEPT",
    "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
    "-A INPUT -s 10.250.1.0/24 -m comment --comment \"etcd-dr: site network\" -j ACCEPT",
    "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT",
    "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
    "-P FORWARD ACCEPT",
    "-A FORWARD -s 10.244.0.0/16 -m comment --comment \"etcd-dr: pod network\" -j ACCEPT",
    "-A FORWARD -j REJECT --reject-with icmp-host-prohibited",
].join("\n");

describe("the drill's site check", function () {
    it("accepts the image's firewall with the bootstrap's openings ahead of its REJECT rules", function () {
        assert.deepStrictEqual(firewallProblems("cp1", NODE_RULES), []);
    });

    it("names a missing REJECT rule and an unconditional ACCEPT ahead of one", function () {
        const noForwardReject = NODE_RULES.replace("-A FORWARD -j REJECT --reject-with icmp-host-prohibited", "");
        assert.deepStrictEqual(firewallProblems("w1", noForwardReject),
            ["w1: no `-A FORWARD -j REJECT --reject-with icmp-host-prohibited` (the image's host firewall is gone)"]);
        const opened = NODE_RULES.replace("-A INPUT -j REJECT", "-A INPUT -j ACCEPT\n-A INPUT -j REJECT");
        assert.deepStrictEqual(firewallProblems("cp2", opened), ["cp2: `-A INPUT -j ACCEPT` ahead of the image's REJECT opens the node to every source"]);
    });

    it("counts only the image's refusals as a refused root login", function () {
        // What root gets on a lab node, as on OCI's Ubuntu images: cloud-init's disable_root command.
        const disabled = { status: 142, stdout: "Please login as the user \"ubuntu\" rather than the user \"root\".\n\n", stderr: "Warning: Permanently added '10.250.1.10' (ED25519) to the list of known hosts.\r\n" };
        assert.strictEqual(rootLoginProblem("cp1", disabled), undefined);
        assert.strictEqual(rootLoginProblem("cp1", { status: 255, stdout: "", stderr: "root@10.250.1.11: Permission denied (publickey).\n" }), undefined);
        assert.match(rootLoginProblem("cp1", { status: 0, stdout: "", stderr: "" }) ?? "", /root logged in/);
        assert.strictEqual(rootLoginProblem("cp1", { status: 255, stdout: "", stderr: "ssh: connect to host 10.250.1.11 port 22: Connection refused\n" }),
            "cp1: root SSH failed for another reason than a refusal: exit 255: ssh: connect to host 10.250.1.11 port 22: Connection refused");
        assert.match(rootLoginProblem("cp1", { ...disabled, status: 1 }) ?? "", /another reason than a refusal: exit 1: Please login/);
    });
});
