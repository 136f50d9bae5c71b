import * as assert from "assert";
import { cidrsOverlap, cidrTextsOverlap, formatCidr, hostAddress, parseCidr, subnet } from "../../lib/cidr";

describe("cidr", () => {
    it("parses networks and refuses malformed text or host bits", () => {
        assert.deepStrictEqual(parseCidr("10.10.0.0/16"), { base: (10 << 24 | 10 << 16) >>> 0, prefix: 16 });
        for (const bad of ["10.10.0.0", "10.10.0.0/33", "300.1.1.1/8", "10.10.0.1/16", "ten/8", ""]) {
            assert.strictEqual(parseCidr(bad), undefined, bad);
        }
    });

    it("detects overlap in both directions and adjacency as disjoint", () => {
        const a = parseCidr("10.0.0.0/16")!;
        assert.ok(cidrsOverlap(a, parseCidr("10.0.128.0/17")!));
        assert.ok(cidrsOverlap(parseCidr("10.0.128.0/17")!, a));
        assert.ok(!cidrsOverlap(a, parseCidr("10.1.0.0/16")!));
        assert.ok(cidrTextsOverlap("0.0.0.0/0", "192.168.1.0/24"));
        assert.ok(!cidrTextsOverlap("bogus", "10.0.0.0/8"));
    });

    it("carves subnets like cidrsubnet()", () => {
        const vcn = parseCidr("10.20.0.0/16")!;
        assert.strictEqual(formatCidr(subnet(vcn, 2, 0)), "10.20.0.0/18");
        assert.strictEqual(formatCidr(subnet(vcn, 2, 3)), "10.20.192.0/18");
        assert.strictEqual(formatCidr(subnet(vcn, 8, 255)), "10.20.255.0/24");
        assert.throws(() => subnet(vcn, 2, 4), /does not exist/);
    });

    it("hands out host addresses but never OCI's reserved ones", () => {
        const net = parseCidr("10.20.64.0/18")!;
        assert.strictEqual(hostAddress(net, 10), "10.20.64.10");
        assert.throws(() => hostAddress(net, 1), /usable range/);
        assert.throws(() => hostAddress(parseCidr("10.0.0.0/30")!, 3), /usable range/);
    });
});
