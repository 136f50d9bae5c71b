import * as assert from "assert";
import {
    contentOf, makeKubeDataSet, nodeProblems, objectDifferences, podProblems, recordOf, refName,
} from "../../tools/k8sDataset";
import { LabNode } from "../../tools/lab";

const SITE: LabNode[] = [
    { name: "cp1", address: "10.250.2.11", role: "control-plane" },
    { name: "w1", address: "10.250.2.21", role: "worker" },
];

function docs(manifest: string): { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string> }[] {
    return manifest.trim().split("\n---\n").map((d) => JSON.parse(d));
}

describe("the drill's Kubernetes data set", function () {
    it("names every object it writes, in its own namespace per generation", function () {
        const set = makeKubeDataSet(2, "10.250.0.1:5000/k8s/busybox:1.35.0");
        assert.strictEqual(set.namespace, "drill-g2");
        const written = [...docs(set.crdManifest), ...docs(set.manifest)].map((d) => `${d.kind}/${d.metadata.name}`);
        assert.strictEqual(set.objects.length, written.length, written.join(" "));
        for (const ref of set.objects.filter((r) => r.namespace)) assert.strictEqual(ref.namespace, "drill-g2", refName(ref));
        const secret = docs(set.manifest).find((d) => d.kind === "Secret" && d.metadata.name === "blob");
        const bytes = Buffer.from(secret!.data!["blob.bin"], "base64");
        // Every byte value: a restore that re-encoded binary data would change it.
        assert.strictEqual(new Set(bytes).size, 256);
    });

    it("compares what a restore must carry and ignores what the cluster changes by itself", function () {
        const deployment = {
            kind: "Deployment", metadata: { name: "web", namespace: "drill-g1", uid: "u1" },
            spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: {}, spec: { containers: [{ name: "web", image: "busybox", command: ["sh"] }] } } },
        };
        const rolled = JSON.parse(JSON.stringify(deployment));
        rolled.spec.template.metadata.annotations = { "kubectl.kubernetes.io/restartedAt": "2026-11-22T10:00:00Z" };
        rolled.metadata.resourceVersion = "99";
        const ref = { resource: "deployment", namespace: "drill-g1", name: "web" };
        assert.deepStrictEqual(recordOf(ref, rolled), recordOf(ref, deployment));
        const otherImage = JSON.parse(JSON.stringify(deployment));
        otherImage.spec.template.spec.containers[0].image = "busybox:other";
        assert.notStrictEqual(recordOf(ref, otherImage).digest, recordOf(ref, deployment).digest);
        // Each site keeps its own CA, so a token Secret's ca.crt is the standby's after a restore; its token is not.
        const tokenSecret = (ca: string, token: string) => ({
            kind: "Secret", type: "kubernetes.io/service-account-token", metadata: { name: "t", uid: "u" }, data: { "ca.crt": ca, token, namespace: "ZA==" },
        });
        assert.deepStrictEqual(contentOf(tokenSecret("cHJpbWFyeQ==", "dG9rZW4=")), contentOf(tokenSecret("c3RhbmRieQ==", "dG9rZW4=")));
        assert.notDeepStrictEqual(contentOf(tokenSecret("cHJpbWFyeQ==", "dG9rZW4=")), contentOf(tokenSecret("cHJpbWFyeQ==", "b3RoZXI=")));
        // Key order never matters.
        assert.deepStrictEqual(contentOf({ kind: "Secret", metadata: { name: "s", uid: "u" }, type: "Opaque", data: { a: "1", b: "2" } }),
            contentOf({ kind: "Secret", metadata: { name: "s", uid: "u" }, data: { a: "1", b: "2" }, type: "Opaque" }));
    });

    it("names each object the standby lacks, holds under another UID or with other data", function () {
        const expected = [
            { ref: "drill-g1/secret/blob", uid: "u1", digest: "d1" },
            { ref: "drill-g1/configmap/settings", uid: "u2", digest: "d2" },
            { ref: "drill-g1/serviceaccount/reader", uid: "u3", digest: "d3" },
            { ref: "drill-g1/role/read-settings", uid: "u4", digest: "d4" },
        ];
        const actual = [
            { ref: "drill-g1/secret/blob", uid: "u1", digest: "d1" },
            { ref: "drill-g1/configmap/settings", uid: "u2", digest: "changed" },
            { ref: "drill-g1/serviceaccount/reader", uid: "recreated", digest: "d3" },
        ];
        assert.deepStrictEqual(objectDifferences(expected, actual), [
            "drill-g1/configmap/settings: its data differs from the primary's",
            "drill-g1/serviceaccount/reader: uid recreated, expected u3 (a new object of the same name, not the primary's)",
            "drill-g1/role/read-settings: missing",
        ]);
        assert.deepStrictEqual(objectDifferences(expected, expected), []);
    });

    it("wants the site's own nodes, Ready, at the site's addresses", function () {
        const node = (name: string, address: string, ready = "True") => ({
            metadata: { name },
            status: { conditions: [{ type: "Ready", status: ready }], addresses: [{ type: "InternalIP", address }] },
        });
        assert.deepStrictEqual(nodeProblems([node("cp1", "10.250.2.11"), node("w1", "10.250.2.21")], SITE), []);
        assert.deepStrictEqual(nodeProblems([node("cp1", "10.250.1.11"), node("w1", "10.250.2.21", "Unknown"), node("w9", "10.250.2.29")], SITE), [
            "node cp1: InternalIP 10.250.1.11, expected this site's 10.250.2.11",
            "node w1: not Ready",
            "node w9: not a host of this site",
        ]);
        assert.deepStrictEqual(nodeProblems([], SITE), ["node cp1: no Node object", "node w1: no Node object"]);
    });

    it("wants every pod Running and Ready on one of the site's nodes", function () {
        const pod = (name: string, phase: string, hostIP: string, ready = "True") => ({
            metadata: { name, namespace: "drill-g1" }, spec: { nodeName: "w1" },
            status: { phase, hostIP, conditions: [{ type: "Ready", status: ready }] },
        });
        assert.deepStrictEqual(podProblems([pod("a", "Running", "10.250.2.21")], SITE), []);
        assert.deepStrictEqual(podProblems([
            pod("a", "Pending", "10.250.2.21"), pod("b", "Running", "10.250.2.21", "False"), pod("c", "Running", "10.250.1.21"),
        ], SITE), [
            "drill-g1/a: Pending on w1",
            "drill-g1/b: not Ready",
            "drill-g1/c: on host 10.250.1.21, not one of this site's nodes",
        ]);
    });

    it("says where a pod that does not run is stuck: unscheduled, or waiting on its node", function () {
        const creating = {
            metadata: { name: "web", namespace: "drill-g1" }, spec: { nodeName: "cp1" },
            status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True" }],
                containerStatuses: [{ state: { waiting: { reason: "ContainerCreating" } } }, { state: { waiting: { reason: "ContainerCreating" } } }] },
        };
        const unscheduled = {
            metadata: { name: "dns", namespace: "kube-system" }, spec: {},
            status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/2 nodes are available" }] },
        };
        assert.deepStrictEqual(podProblems([creating, unscheduled], SITE), [
            "drill-g1/web: Pending on cp1 (ContainerCreating)",
            "kube-system/dns: Pending (unscheduled: 0/2 nodes are available)",
        ]);
    });
});
