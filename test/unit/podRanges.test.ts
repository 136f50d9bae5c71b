import * as assert from "assert";
import { addressIn, podsWithin } from "../../tools/podRanges";

describe("pod ranges after a failover (tools/podRanges)", () => {
    const pod = (name: string, phase: string, podIP?: string, hostNetwork = false) =>
        ({ metadata: { namespace: "drill-g1", name }, spec: { hostNetwork }, status: { phase, podIP } });

    it("holds when every pod-network pod runs inside the range; host-network pods do not count", () => {
        assert.strictEqual(podsWithin([pod("web", "Running", "10.244.1.7"), pod("kube-proxy", "Running", "10.250.2.74", true)], "10.244.1.0/24"), true);
        assert.strictEqual(podsWithin([], "10.244.1.0/24"), true);
    });

    it("fails on a pod outside the range, one not running, or one without an address", () => {
        assert.strictEqual(podsWithin([pod("web", "Running", "10.244.5.7")], "10.244.1.0/24"), false);
        assert.strictEqual(podsWithin([pod("web", "Pending", "10.244.1.7")], "10.244.1.0/24"), false);
        assert.strictEqual(podsWithin([pod("web", "Running")], "10.244.1.0/24"), false);
    });

    it("reads flannel's interface-style subnet (10.244.4.1/24) as an address in the Node's range", () => {
        assert.strictEqual(addressIn("10.244.4.1/24", "10.244.4.0/24"), true);
        assert.strictEqual(addressIn("10.244.4.1", "10.244.4.0/24"), true);
        assert.strictEqual(addressIn("10.244.5.1/24", "10.244.4.0/24"), false);
    });
});
