// Joining a node with credentials minted at join time (F10, F16): a short-lived token and, for a
// control-plane node, a freshly uploaded certificate key, printed by a live control-plane node and
// carried by Pulumi (as secrets) to the joining node; the CA pinned by the hash of its public key.

import { JoinCredentials } from "./cloudinit";
import { shellQuote } from "./shell";

/** A join token outlives the join by a margin only: a replaced node later gets a new one. */
export const JOIN_TOKEN_TTL = "30m0s";

export interface JoiningNode {
    name: string;
    /** Its fixed address: where its etcd member answered before the node was replaced. */
    ip: string;
    controlPlane: boolean;
}

const ETCD_CLIENT = [
    "--cacert /etc/kubernetes/pki/etcd/ca.crt",
    "--cert /etc/kubernetes/pki/apiserver-etcd-client.crt",
    "--key /etc/kubernetes/pki/apiserver-etcd-client.key",
    "--dial-timeout 5s --command-timeout 10s",
].join(" ");

/**
 * Runs as root on a control-plane node that is a member of the cluster; prints the credentials for
 * `node` as key=value lines. A control-plane node that was replaced left its etcd member behind:
 * that member is removed first, but only when its endpoint no longer answers, so a live member is
 * never touched; so is its Node object, when no kubelet answers at its address. Everything printed
 * is a secret; nothing else goes to stdout.
 */
export function mintJoinCredentialsScript(node: JoiningNode): string {
    const name = shellQuote(node.name);
    const lines = [
        "set -euo pipefail",
        "export KUBECONFIG=/etc/kubernetes/admin.conf",
    ];
    if (node.controlPlane) {
        lines.push(
            `stale="$(etcdctl --endpoints https://127.0.0.1:2379 ${ETCD_CLIENT} member list | awk -F', ' -v name=${name} '$3 == name { print $1 }')"`,
            `if [ -n "$stale" ] && ! etcdctl --endpoints ${shellQuote(`https://${node.ip}:2379`)} ${ETCD_CLIENT} endpoint health >/dev/null 2>&1; then`,
            `  etcdctl --endpoints https://127.0.0.1:2379 ${ETCD_CLIENT} member remove "$stale" >&2`,
            `  echo "removed the etcd member of the replaced node ${node.name}" >&2`,
            "fi",
        );
    }
    lines.push(
        // A replaced node's Node object outlives its instance and stays Ready for the node monitor's
        // grace period, and kubeadm join refuses a name whose Node is Ready. It goes only when no
        // kubelet answers at the node's address: a live node's object is never touched.
        `if kubectl get node ${name} -o name >/dev/null 2>&1 && ! curl -sk --connect-timeout 5 --max-time 10 -o /dev/null ${shellQuote(`https://${node.ip}:10250/healthz`)}; then`,
        `  kubectl delete node ${name} --wait=false >&2`,
        `  echo "removed the Node object of the replaced node ${node.name}: no kubelet answers at ${node.ip}" >&2`,
        "fi",
        `token="$(kubeadm token create --ttl ${JOIN_TOKEN_TTL} --description ${shellQuote(`etcd-dr: join of ${node.name}`)})"`,
        `hash="$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"`,
        `printf 'token=%s\\nca-cert-hash=sha256:%s\\n' "$token" "$hash"`,
    );
    if (node.controlPlane) {
        lines.push(
            // The uploaded certificates expire after two hours; the key decrypts them.
            `key="$(kubeadm certs certificate-key)"`,
            `kubeadm init phase upload-certs --upload-certs --certificate-key "$key" >/dev/null`,
            `printf 'certificate-key=%s\\n' "$key"`,
        );
    }
    return lines.join("\n");
}

/**
 * The credentials from the minting script's output. An empty output is what an offline plan's
 * mocks answer; a real run either prints every line or fails, so anything else is refused.
 */
export function parseJoinCredentials(stdout: string, node: Pick<JoiningNode, "name" | "controlPlane">): JoinCredentials | undefined {
    if (stdout.trim() === "") return undefined;
    const values = new Map(
        stdout
            .split("\n")
            .map((line) => /^([a-z-]+)=(\S+)$/.exec(line.trim()))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => [m[1], m[2]]),
    );
    const token = values.get("token");
    const caCertHash = values.get("ca-cert-hash");
    const certificateKey = values.get("certificate-key");
    if (!token || !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token) || !caCertHash || !/^sha256:[0-9a-f]{64}$/.test(caCertHash) || (node.controlPlane && !certificateKey)) {
        throw new Error(`the join credentials minted for ${node.name} are incomplete; see the minting command's log on the control-plane node`);
    }
    return { token, caCertHash, ...(node.controlPlane ? { certificateKey } : {}) };
}
