// The environment the drill and the tests run `pulumi` in.
import * as assert from "assert";
import { pulumiEnv } from "../../tools/pulumiCli";

describe("pulumi's environment (tools/pulumiCli.ts)", () => {
    it("has no SSH agent: a stale SSH_AUTH_SOCK fails every remote command of upstream's command provider", () => {
        const env = pulumiEnv({ HOME: "/root", SSH_AUTH_SOCK: "/tmp/ssh-gone/agent.1" }, { PULUMI_HOME: "/cache/pulumi-home" });
        assert.deepStrictEqual(env, { HOME: "/root", PULUMI_HOME: "/cache/pulumi-home" });
    });

    it("lets the engine's variables win over the caller's", () => {
        assert.strictEqual(pulumiEnv({ PATH: "/usr/bin" }, { PATH: "/engine/bin:/usr/bin" }).PATH, "/engine/bin:/usr/bin");
    });
});
