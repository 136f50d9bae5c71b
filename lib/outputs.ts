// Reading an Output's value inside the program, when the program must decide something with it
// (a precheck) and must not wait forever when the value is unknown (a preview of a new resource).

import * as pulumi from "@pulumi/pulumi";

/** The parts of Output the SDK implements but does not publish in its types. */
interface OutputInternals<T> {
    isKnown: Promise<boolean>;
    promise(): Promise<T>;
}

export async function knownValue<T>(output: pulumi.Output<T> | undefined): Promise<T | undefined> {
    if (output === undefined) return undefined;
    const internals = output as unknown as OutputInternals<T>;
    return (await internals.isKnown) ? internals.promise() : undefined;
}
