// `make bench`: runs the named sections (all without arguments) and prints one JSON line per
// measurement on stdout -- the project's figure, the floor measured in the same run on the same
// machine, their ratio -- and progress on stderr. README, "Performance".
//
//   npx ts-node --transpile-only tools/bench.ts [--runs N] [section...]

import { benchLine, machine, Section } from "./bench/measure";

/** Each section's module, loaded only when it runs: a section's dependencies are its own. */
export const SECTIONS: Record<string, () => Promise<Section>> = {
    program: async () => (await import("./bench/program")).program,
    dr: async () => (await import("./bench/dr")).dr,
};

export interface BenchOptions {
    sections: string[];
    runs: number;
}

export function parseBenchArgs(argv: string[], known: string[], defaultRuns: number): BenchOptions {
    const sections: string[] = [];
    let runs = defaultRuns;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--runs") {
            runs = Number(argv[++i]);
            if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs needs a whole number of runs, at least 1, not '${argv[i]}'`);
        } else if (arg.startsWith("-")) {
            throw new Error(`unknown option ${arg}`);
        } else if (!known.includes(arg)) {
            throw new Error(`unknown section '${arg}'; sections: ${known.join(", ")}`);
        } else if (!sections.includes(arg)) {
            sections.push(arg);
        }
    }
    return { sections: sections.length > 0 ? sections : known, runs };
}

async function main(): Promise<void> {
    let options: BenchOptions;
    try {
        options = parseBenchArgs(process.argv.slice(2), Object.keys(SECTIONS), Number(process.env.BENCH_RUNS ?? 3));
    } catch (error) {
        process.stderr.write(`error: ${(error as Error).message}\nusage: tools/bench.ts [--runs N] [section...]\n`);
        process.exit(2);
    }
    const host = machine();
    for (const name of options.sections) {
        const section = await SECTIONS[name]();
        const measurements = await section({ runs: options.runs, progress: (message) => process.stderr.write(`bench ${name}: ${message}\n`) });
        for (const measurement of measurements) {
            process.stdout.write(`${JSON.stringify(benchLine(name, measurement, host, new Date()))}\n`);
        }
    }
}

if (require.main === module) {
    main().catch((error: Error) => {
        process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
        process.exit(1);
    });
}
