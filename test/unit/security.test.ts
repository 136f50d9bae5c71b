import * as assert from "assert";
import { ingressRules, ruleKey, SecurityInputs } from "../../lib/security";

const base: SecurityInputs = {
    vcnCidr: "10.10.0.0/16",
    peerVcnCidr: "10.20.0.0/16",
    operatorCidr: "192.0.2.0/28",
    bastion: true,
    allowFromPeer: [22, 6443],
    cni: "calico",
};

describe("network security rules", () => {
    it("admits etcd only from the control-plane group", () => {
        const etcd = ingressRules(base).filter((r) => r.ports?.[0] === 2379);
        assert.deepStrictEqual(etcd.map((r) => [r.nsg, r.source]), [["controlPlane", { nsg: "controlPlane" }]]);
    });

    it("admits SSH from the bastion and the operator range only", () => {
        const ssh = ingressRules(base).filter((r) => r.ports?.[0] === 22 && r.nsg === "controlPlane");
        assert.deepStrictEqual(ssh.map((r) => r.source), [{ nsg: "bastion" }, { cidr: "192.0.2.0/28" }, { cidr: "10.20.0.0/16" }]);
        const closed = ingressRules({ ...base, bastion: false, operatorCidr: undefined, allowFromPeer: [] });
        assert.deepStrictEqual(closed.filter((r) => r.ports?.[0] === 22), []);
    });

    it("opens the CNI's own ports", () => {
        const flannel = ingressRules({ ...base, cni: "flannel" }).filter((r) => r.description.startsWith("flannel"));
        assert.strictEqual(flannel.length, 2);
        assert.ok(flannel.every((r) => r.protocol === "17" && r.ports?.[0] === 8472));
    });

    it("names every rule uniquely and stably", () => {
        const keys = ingressRules(base).map(ruleKey);
        assert.strictEqual(new Set(keys).size, keys.length, keys.join("\n"));
        assert.ok(keys.includes("controlPlane-tcp-2379-2380-from-controlPlane"));
    });
});
