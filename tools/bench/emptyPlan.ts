// The floor of the offline plan (bench section "program"): tools/plan.ts's harness -- ts-node,
// @pulumi/pulumi, the plan's mocks -- running a program that registers nothing but its stack.

import * as pulumi from "@pulumi/pulumi";
import { SiteMocks } from "../mocks";

async function main(): Promise<void> {
    console.log = (...args: unknown[]) => console.error(...args);
    await pulumi.runtime.setMocks(new SiteMocks({ stackOutputs: {}, region: "us-ashburn-1" }), "etcd-dr", "bench-floor", false, "organization");
    const outputs = await pulumi.runtime.runInPulumiStack(async () => ({ stack: pulumi.getStack() }));
    await pulumi.runtime.disconnect();
    process.stdout.write(`${JSON.stringify(outputs)}\n`);
}

void main();
