// The drill's Kubernetes data set: objects written through the primary's API the way a team would
// (namespaces, Secrets with binary data, ConfigMaps, a ServiceAccount with a bound and a legacy
// token, RBAC, a CRD with custom resources, a Deployment and a DaemonSet of the lab's workload
// image), and the checks that make a failover a working cluster rather than a restored database:
// the same objects (same UID, same data) on the standby, the primary's tokens accepted there, the
// primary's node names Ready at the standby's addresses, the workloads Running on standby nodes,
// kube-system healthy and kubeadm-config equal on both sites.
//
// The manifests and the comparisons are pure functions (test/unit/k8sDataset.test.ts); the rest
// runs kubectl on a control-plane node through LabAccess.

import { createHash, randomBytes } from "crypto";
import { LabAccess, LabNode, Site, waitFor } from "./lab";

/** A namespaced object the drill wrote and compares; `resource` is what kubectl names it by. */
export interface ObjectRef {
    resource: string;
    namespace?: string;
    name: string;
}

export interface KubeDataSet {
    generation: number;
    namespace: string;
    /** Applied first: the CRD, so that its custom resources can follow. */
    crdManifest: string;
    manifest: string;
    objects: ObjectRef[];
    deployment: { name: string; replicas: number };
    daemonSet: string;
    serviceAccount: string;
}

/** What the drill records of an object on the primary and finds again on the standby. */
export interface ObjectRecord {
    ref: string;
    uid: string;
    digest: string;
}

/** A token the primary issued for the data set's ServiceAccount. */
export interface IssuedToken {
    kind: "bound" | "legacy";
    namespace: string;
    token: string;
}

export interface KubeWritten {
    records: ObjectRecord[];
    tokens: IssuedToken[];
}

export interface KubeVerified {
    version: string;
    nodesReady: string[];
    objectsVerified: number;
    tokensAccepted: number;
    podsRunning: number;
}

export const CRD_GROUP = "drill.etcd-dr.io";
const CRD_NAME = `widgets.${CRD_GROUP}`;

function yamlDocs(docs: object[]): string {
    // JSON is YAML; kubectl takes a stream of documents.
    return docs.map((d) => JSON.stringify(d)).join("\n---\n") + "\n";
}

/**
 * Generation `generation` of the data set, in its own namespace; `image` is the workload image
 * (the lab registry's busybox). Pure: the random parts are the Secret's and ConfigMap's bytes.
 */
export function makeKubeDataSet(generation: number, image: string): KubeDataSet {
    const namespace = `drill-g${generation}`;
    const labels = { "app.kubernetes.io/part-of": "etcd-dr-drill" };
    // Every byte value, then random bytes: a restore that re-encoded the data would show.
    const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(3840)]);
    const sleeper = (app: string) => ({
        metadata: { labels: { ...labels, app } },
        spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: app, image, command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"] }],
            // Everywhere, control-plane nodes included: the DaemonSet then proves every node runs pods.
            tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
        },
    });
    const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: CRD_NAME, labels },
        spec: {
            group: CRD_GROUP,
            scope: "Namespaced",
            names: { plural: "widgets", singular: "widget", kind: "Widget" },
            versions: [{
                name: "v1", served: true, storage: true,
                schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { size: { type: "integer" }, colour: { type: "string" } } } } } },
            }],
        },
    };
    const docs: object[] = [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels } },
        { apiVersion: "v1", kind: "Secret", metadata: { name: "blob", namespace, labels }, type: "Opaque", data: { "blob.bin": binary.toString("base64") } },
        {
            apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace, labels },
            data: { "app.conf": `generation=${generation}\nregion=primary\n` }, binaryData: { "table.bin": binary.subarray(0, 1024).toString("base64") },
        },
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader", namespace, labels } },
        {
            apiVersion: "v1", kind: "Secret", type: "kubernetes.io/service-account-token",
            metadata: { name: "reader-token", namespace, labels, annotations: { "kubernetes.io/service-account.name": "reader" } },
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "read-settings", namespace, labels },
            rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "reader-reads-settings", namespace, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-settings" },
            subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
        },
        ...[1, 2, 3].map((i) => ({
            apiVersion: `${CRD_GROUP}/v1`, kind: "Widget", metadata: { name: `widget-${i}`, namespace, labels },
            spec: { size: i * generation, colour: ["red", "green", "blue"][i - 1] },
        })),
        {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace, labels },
            spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: sleeper("web") },
        },
        {
            apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "agent", namespace, labels },
            spec: { selector: { matchLabels: { app: "agent" } }, template: sleeper("agent") },
        },
    ];
    const objects: ObjectRef[] = [
        { resource: "namespace", name: namespace },
        { resource: "customresourcedefinition", name: CRD_NAME },
        ...["secret/blob", "configmap/settings", "serviceaccount/reader", "secret/reader-token", "role/read-settings",
            "rolebinding/reader-reads-settings", `widget.${CRD_GROUP}/widget-1`, `widget.${CRD_GROUP}/widget-2`, `widget.${CRD_GROUP}/widget-3`,
            "deployment/web", "daemonset/agent"].map((r) => {
            const [resource, name] = r.split("/");
            return { resource, namespace, name };
        }),
    ];
    return {
        generation,
        namespace,
        crdManifest: yamlDocs([crd]),
        manifest: yamlDocs(docs),
        objects,
        deployment: { name: "web", replicas: 2 },
        daemonSet: "agent",
        serviceAccount: "reader",
    };
}

export function refName(ref: ObjectRef): string {
    return `${ref.namespace ? `${ref.namespace}/` : ""}${ref.resource}/${ref.name}`;
}

interface KubeObject {
    kind: string;
    metadata: { name: string; namespace?: string; uid: string };
    data?: Record<string, string>;
    binaryData?: Record<string, string>;
    type?: string;
    spec?: Record<string, unknown>;
    rules?: unknown;
    roleRef?: unknown;
    subjects?: unknown;
}

/**
 * The part of an object a restore must carry unchanged. Server-managed fields (resourceVersion,
 * managedFields, status, generation) change on their own; workloads' pod templates gain the
 * reconcile step's restartedAt annotation, so of them only the selector and containers count.
 */
export function contentOf(object: KubeObject): unknown {
    switch (object.kind) {
        case "Secret": {
            // A service-account token Secret holds the cluster CA, and each site keeps its own CA: the
            // standby's token controller rightly rewrites ca.crt. The token itself must survive.
            const { "ca.crt": _ca, ...data } = object.data ?? {};
            return { type: object.type, data: object.type === "kubernetes.io/service-account-token" ? data : object.data ?? {} };
        }
        case "ConfigMap":
            return { data: object.data ?? {}, binaryData: object.binaryData ?? {} };
        case "Role":
            return object.rules;
        case "RoleBinding":
            return { roleRef: object.roleRef, subjects: object.subjects };
        case "CustomResourceDefinition":
            return { group: object.spec?.group, names: object.spec?.names, versions: object.spec?.versions };
        case "Deployment":
        case "DaemonSet": {
            const template = object.spec?.template as { spec?: { containers?: { name: string; image: string; command?: string[] }[] } } | undefined;
            return {
                selector: object.spec?.selector,
                replicas: object.spec?.replicas,
                containers: (template?.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, command: c.command })),
            };
        }
        case "Namespace":
        case "ServiceAccount":
            return {};
        default:
            return object.spec ?? {};
    }
}

/** Deterministic JSON (keys sorted), so equal content gives an equal digest. */
function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value && typeof value === "object") {
        return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

export function recordOf(ref: ObjectRef, object: KubeObject): ObjectRecord {
    return { ref: refName(ref), uid: object.metadata.uid, digest: createHash("sha256").update(canonical(contentOf(object))).digest("hex") };
}

/** Each recorded object that the standby lacks or holds differently, one line each. */
export function objectDifferences(expected: ObjectRecord[], actual: ObjectRecord[]): string[] {
    const found = new Map(actual.map((r) => [r.ref, r]));
    return expected.flatMap((e) => {
        const a = found.get(e.ref);
        if (!a) return [`${e.ref}: missing`];
        if (a.uid !== e.uid) return [`${e.ref}: uid ${a.uid}, expected ${e.uid} (a new object of the same name, not the primary's)`];
        if (a.digest !== e.digest) return [`${e.ref}: its data differs from the primary's`];
        return [];
    });
}

/** The condition of type `type` on an object's status. */
function condition(object: { status?: { conditions?: { type: string; status: string }[] } }, type: string): string | undefined {
    return object.status?.conditions?.find((c) => c.type === type)?.status;
}

export interface NodeObject {
    metadata: { name: string };
    status?: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] };
}

export interface PodObject {
    metadata: { name: string; namespace: string };
    spec: { nodeName?: string };
    status?: {
        phase?: string;
        hostIP?: string;
        conditions?: { type: string; status: string; reason?: string; message?: string }[];
        containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
    };
}

/** Where a pod that is not running is, and why, as kubectl describe would say it in short. */
function podWhy(p: PodObject): string {
    const unscheduled = p.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status !== "True");
    if (unscheduled) return ` (unscheduled: ${unscheduled.message ?? unscheduled.reason ?? "no reason given"})`;
    const waiting = [...new Set((p.status?.containerStatuses ?? []).map((c) => c.state?.waiting?.reason).filter((r): r is string => !!r))];
    return ` on ${p.spec.nodeName ?? "no node"}${waiting.length > 0 ? ` (${waiting.join(", ")})` : ""}`;
}

/** Why these Node objects are not the site's nodes, Ready, at the site's own addresses; [] when they are. */
export function nodeProblems(nodes: NodeObject[], site: LabNode[]): string[] {
    const problems: string[] = [];
    const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
    for (const host of site) {
        const node = byName.get(host.name);
        if (!node) {
            problems.push(`node ${host.name}: no Node object`);
            continue;
        }
        if (condition(node, "Ready") !== "True") problems.push(`node ${host.name}: not Ready`);
        const internal = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
        if (internal !== host.address) problems.push(`node ${host.name}: InternalIP ${internal}, expected this site's ${host.address}`);
    }
    for (const name of byName.keys()) {
        if (!site.some((h) => h.name === name)) problems.push(`node ${name}: not a host of this site`);
    }
    return problems;
}

/** Pods that are not Running and Ready on one of the site's addresses; [] when all are. */
export function podProblems(pods: PodObject[], site: LabNode[]): string[] {
    const addresses = new Set(site.map((h) => h.address));
    return pods.flatMap((p) => {
        const where = `${p.metadata.namespace}/${p.metadata.name}`;
        if (p.status?.phase !== "Running") return [`${where}: ${p.status?.phase ?? "no phase"}${podWhy(p)}`];
        if (condition(p, "Ready") !== "True") return [`${where}: not Ready`];
        // Host-network pods report the node's address too, so every pod's host is checked.
        if (!p.status?.hostIP || !addresses.has(p.status.hostIP)) return [`${where}: on host ${p.status?.hostIP}, not one of this site's nodes`];
        return [];
    });
}

// ---------------------------------------------------------------------------------------------
// on the lab

function kubectlJson<T>(lab: LabAccess, site: Site, args: string): T {
    return JSON.parse(lab.kubectl(site, `${args} -o json`)) as T;
}

/** The objects as the site holds them, read in one SSH session (the wait loop polls this); a missing one is left out. */
function recordsOn(lab: LabAccess, site: Site, refs: ObjectRef[]): ObjectRecord[] {
    const end = "--- etcd-dr: end of object ---";
    const script = refs.map((ref) =>
        `${LabAccess.KUBECTL} get ${ref.resource} ${ref.name}${ref.namespace ? ` -n ${ref.namespace}` : ""} -o json 2>/dev/null || true; echo '${end}'`);
    const objects = lab.ok(site, lab.controlPlane(site)[0].name, script.join("\n")).split(`${end}\n`);
    return refs.flatMap((ref, i) => (objects[i]?.trim() ? [recordOf(ref, JSON.parse(objects[i]) as KubeObject)] : []));
}

/** Writes a data set through the primary's API, waits for its workloads, records it and its tokens. */
export async function writeKubeDataSet(lab: LabAccess, set: KubeDataSet): Promise<KubeWritten> {
    lab.kubectl("primary", "apply -f -", set.crdManifest);
    lab.kubectl("primary", `wait --for condition=Established --timeout 60s crd/${CRD_NAME}`);
    lab.kubectl("primary", "apply -f -", set.manifest);
    lab.kubectl("primary", `-n ${set.namespace} rollout status deployment/${set.deployment.name} --timeout 300s`);
    lab.kubectl("primary", `-n ${set.namespace} rollout status daemonset/${set.daemonSet} --timeout 300s`);
    const legacy = await waitFor(`the token controller to fill ${set.namespace}/secret/reader-token`, 60_000, () => {
        const secret = kubectlJson<KubeObject>(lab, "primary", `-n ${set.namespace} get secret reader-token`);
        const token = secret.data?.token;
        return token ? Buffer.from(token, "base64").toString("utf8") : undefined;
    });
    const bound = lab.kubectl("primary", `-n ${set.namespace} create token ${set.serviceAccount} --duration 48h`).trim();
    return {
        records: recordsOn(lab, "primary", set.objects),
        tokens: [{ kind: "bound", namespace: set.namespace, token: bound }, { kind: "legacy", namespace: set.namespace, token: legacy }],
    };
}

/**
 * Presents `token` to the site's first control-plane apiserver and lists the ConfigMaps its RBAC
 * allows: "accepted", or "rejected" (401: the apiserver does not trust the token's signer), or
 * another failure's message.
 */
export function presentToken(lab: LabAccess, site: Site, token: IssuedToken): "accepted" | "rejected" | string {
    // The token on stdin, never on a command line; no kubeconfig, so nothing but the token authenticates.
    const run = lab.ssh(site, lab.controlPlane(site)[0].name,
        // "kubernetes" is in every kubeadm apiserver certificate; 127.0.0.1 is not.
        "kubectl --kubeconfig /dev/null --server https://127.0.0.1:6443 --tls-server-name kubernetes --certificate-authority /etc/kubernetes/pki/ca.crt " +
        `--token "$(cat)" -n ${token.namespace} get configmaps settings -o name`, token.token);
    if (run.status === 0 && run.stdout.trim() === "configmap/settings") return "accepted";
    if (/Unauthorized|must be logged in/i.test(run.stderr)) return "rejected";
    return run.stderr.trim().split("\n").pop() || `exit ${run.status}`;
}

/** Waits until the standby is a working copy of the primary's cluster; throws naming what is not. */
export async function verifyKubeStandby(lab: LabAccess, sets: KubeDataSet[], written: KubeWritten[], timeoutMs = 300_000): Promise<KubeVerified> {
    const site = lab.lab.sites.standby.nodes;
    const expected = written.flatMap((w) => w.records);
    const refs = sets.flatMap((s) => s.objects);
    const problems = (): string[] => {
        const objects = objectDifferences(expected, recordsOn(lab, "standby", refs));
        const nodes = nodeProblems(kubectlJson<{ items: NodeObject[] }>(lab, "standby", "get nodes").items, site);
        const pods = podProblems(kubectlJson<{ items: PodObject[] }>(lab, "standby", "get pods -A").items
            .filter((p) => ["kube-system", "kube-flannel"].includes(p.metadata.namespace) || sets.some((s) => s.namespace === p.metadata.namespace)), site);
        const workloads = sets.flatMap((s) => {
            const deployment = kubectlJson<{ status?: { availableReplicas?: number; updatedReplicas?: number } }>(lab, "standby", `-n ${s.namespace} get deployment ${s.deployment.name}`);
            const daemonSet = kubectlJson<{ status?: { numberReady?: number; desiredNumberScheduled?: number } }>(lab, "standby", `-n ${s.namespace} get daemonset ${s.daemonSet}`);
            return [
                ...(deployment.status?.availableReplicas === s.deployment.replicas ? [] : [`${s.namespace}/deployment/${s.deployment.name}: ${deployment.status?.availableReplicas ?? 0}/${s.deployment.replicas} available`]),
                ...(daemonSet.status?.numberReady === site.length ? [] : [`${s.namespace}/daemonset/${s.daemonSet}: ${daemonSet.status?.numberReady ?? 0}/${site.length} ready`]),
            ];
        });
        return [...objects, ...nodes, ...pods, ...workloads];
    };
    let last: string[] = [];
    try {
        await waitFor("the standby cluster to serve the primary's objects with every node Ready and every pod Running", timeoutMs, () => {
            try {
                last = problems();
            } catch (error) {
                last = [(error as Error).message.split("\n")[0]];
            }
            return last.length === 0 ? true : undefined;
        });
    } catch {
        throw new Error(`the standby cluster is not the primary's: ${last.join("; ")}`);
    }
    const tokens = written.flatMap((w) => w.tokens);
    const refused = tokens.map((t) => ({ t, answer: presentToken(lab, "standby", t) })).filter((r) => r.answer !== "accepted");
    if (refused.length > 0) {
        throw new Error(`the standby's apiserver does not accept the primary's tokens: ${refused.map((r) => `${r.t.namespace} ${r.t.kind}: ${r.answer}`).join("; ")}`);
    }
    const kubeadmConfig = (s: Site) => lab.kubectl(s, "-n kube-system get configmap kubeadm-config -o jsonpath={.data.ClusterConfiguration}");
    if (kubeadmConfig("standby") !== kubeadmConfig("primary")) {
        throw new Error("the standby's kubeadm-config ClusterConfiguration differs from the primary's");
    }
    const version = (kubectlJson<{ serverVersion: { gitVersion: string } }>(lab, "standby", "version")).serverVersion.gitVersion;
    const running = kubectlJson<{ items: PodObject[] }>(lab, "standby", "get pods -A").items
        .filter((p) => sets.some((s) => s.namespace === p.metadata.namespace) && p.status?.phase === "Running");
    return {
        version,
        nodesReady: site.map((h) => h.name),
        objectsVerified: expected.length,
        tokensAccepted: tokens.length,
        podsRunning: running.length,
    };
}

/**
 * Gives one control-plane node's apiserver a service-account key pair the primary never had (the
 * state of a restore that did not carry sa.key/sa.pub) and restarts it; returns what puts the
 * carried pair back. The drill's negative check: the token check must then fail.
 */
export function foreignServiceAccountKeys(lab: LabAccess, site: Site, node: string): () => void {
    const restartApiserver = [
        "id=$(crictl ps -q --name '^kube-apiserver$')",
        "[ -n \"$id\" ] || { echo 'no running kube-apiserver container' >&2; exit 1; }",
        "crictl stop --timeout 5 \"$id\" >/dev/null",
    ].join("\n");
    lab.ok(site, node, [
        "set -euo pipefail",
        "cd /etc/kubernetes/pki",
        "cp -p sa.key sa.key.etcd-dr-drill && cp -p sa.pub sa.pub.etcd-dr-drill",
        "openssl genrsa -out sa.key.new 2048 2>/dev/null && openssl rsa -in sa.key.new -pubout -out sa.pub.new 2>/dev/null",
        "mv sa.key.new sa.key && mv sa.pub.new sa.pub",
        restartApiserver,
    ].join("\n"));
    return () => {
        lab.ok(site, node, [
            "set -euo pipefail",
            "cd /etc/kubernetes/pki",
            "mv sa.key.etcd-dr-drill sa.key && mv sa.pub.etcd-dr-drill sa.pub",
            restartApiserver,
        ].join("\n"));
    };
}
