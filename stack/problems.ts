// How the stack program stops: every problem it found, one line each, before anything changed.

/** Config or precheck problems end the program with one line each and no stack trace. */
export class ConfigProblems extends Error {
    constructor(readonly problems: string[]) {
        super(problems.join("\n"));
    }
}
