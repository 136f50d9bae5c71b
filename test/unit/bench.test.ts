// `make bench`'s runner and measurement helpers (tools/bench.ts, tools/bench/measure.ts).
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseBenchArgs } from "../../tools/bench";
import {
    benchLine,
    measureCommand,
    median,
    MIB,
    parseChildren,
    parseGnuTime,
    parseVmRss,
    ratio,
    threadChildrenListed,
    treePeaks,
} from "../../tools/bench/measure";
import { previewedResources } from "../../tools/bench/program";

describe("bench: the runner and its helpers", () => {
    it("gives the ratio to the floor, and none without a usable floor", () => {
        assert.strictEqual(ratio(6, 1.5), 4);
        assert.strictEqual(ratio(5.123, 1.7), 3.01);
        assert.strictEqual(ratio(5, null), null);
        assert.strictEqual(ratio(5, 0), null);
    });

    it("takes the median of odd and even counts of runs", () => {
        assert.strictEqual(median([7, 1, 5]), 5);
        assert.strictEqual(median([4, 1, 3, 2]), 2.5);
        assert.throws(() => median([]), /no values/);
    });

    it("prints a line with the section's name, the ratio, the machine and the time", () => {
        const line = benchLine("program", { name: "x-time", figure: 4.2, floor: 2.1, unit: "s", detail: { runs: 3 } }, { cores: 2, memGiB: 23.4, kernel: "6.1" }, new Date("2026-12-05T00:00:00Z"));
        assert.deepStrictEqual(line, {
            bench: "program/x-time", figure: 4.2, floor: 2.1, ratio: 2, unit: "s",
            machine: { cores: 2, memGiB: 23.4, kernel: "6.1" }, at: "2026-12-05T00:00:00.000Z", detail: { runs: 3 },
        });
    });

    it("selects sections by argument, all of them by default, and refuses an unknown one", () => {
        assert.deepStrictEqual(parseBenchArgs([], ["program", "backup"], 3), { sections: ["program", "backup"], runs: 3 });
        assert.deepStrictEqual(parseBenchArgs(["backup", "--runs", "5", "backup"], ["program", "backup"], 3), { sections: ["backup"], runs: 5 });
        assert.throws(() => parseBenchArgs(["restore"], ["program", "backup"], 3), /unknown section 'restore'; sections: program, backup/);
        assert.throws(() => parseBenchArgs(["--runs", "0"], ["program"], 3), /at least 1/);
    });

    it("reads resident memory from /proc status, children lists and GNU time's %M", () => {
        assert.strictEqual(parseVmRss("Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t  2048 kB\nRssAnon:\t 1 kB\n"), 2048 * 1024);
        assert.strictEqual(parseVmRss("Name:\tzombie\nState:\tZ (zombie)\n"), null);
        assert.deepStrictEqual(parseChildren("123 456 \n"), [123, 456]);
        assert.deepStrictEqual(parseChildren(""), []);
        assert.deepStrictEqual(parseGnuTime("301234 4.31 0.78\n"), { maxRssBytes: 301234 * 1024, cpuSeconds: 5.09 });
        assert.deepStrictEqual(parseGnuTime("Command exited with non-zero status 1\n5120 0.00 0.01\n"), { maxRssBytes: 5120 * 1024, cpuSeconds: 0.01 });
        assert.strictEqual(parseGnuTime(""), null);
    });

    it("needs the kernel's per-thread children lists, and says when they are missing", () => {
        assert.ok(threadChildrenListed(), "this kernel lists them");
        const proc = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-proc-"));
        try {
            fs.mkdirSync(path.join(proc, "42", "task", "42"), { recursive: true });
            assert.strictEqual(threadChildrenListed(proc, 42), false);
            fs.writeFileSync(path.join(proc, "42", "task", "42", "children"), "");
            assert.strictEqual(threadChildrenListed(proc, 42), true);
        } finally {
            fs.rmSync(proc, { recursive: true, force: true });
        }
    });

    it("peaks the tree's sum sample by sample, not the sum of each process's peak", () => {
        const peaks = treePeaks([
            [{ command: "pulumi", rss: 100 }, { command: "node", rss: 50 }],
            [{ command: "pulumi", rss: 60 }, { command: "node", rss: 200 }, { command: "node", rss: 10 }],
        ]);
        assert.strictEqual(peaks.total, 270);
        assert.deepStrictEqual(peaks.byCommand, { pulumi: 100, node: 210 });
    });

    it("counts the resources a preview would create, update, replace or delete", () => {
        assert.strictEqual(previewedResources("Resources:\n    + 47 to create\n\n"), 47);
        assert.strictEqual(previewedResources("Resources:\n    + 2 to create\n    ~ 1 to update\n    +- 3 to replace\n    5 unchanged\n"), 6);
    });

    it("measures the whole process tree: two children holding 80 MiB each peak above either alone", async function () {
        this.timeout(30_000);
        const hold = "const b = Buffer.alloc(80 * 1024 * 1024, 1); setTimeout(() => process.exit(b[0] === 1 ? 0 : 1), 1500);";
        const run = await measureCommand("bash", ["-c", `node -e '${hold}' & node -e '${hold}' & wait; exit 3`], { cwd: process.cwd(), env: process.env, intervalMs: 20 });
        assert.strictEqual(run.status, 3, "the command's own exit status");
        assert.ok(run.seconds >= 1.5, `wall time ${run.seconds}`);
        if (run.cpuSeconds !== null) assert.ok(run.cpuSeconds > 0 && run.cpuSeconds < run.seconds * 2, `cpu ${run.cpuSeconds} s`);
        assert.ok(run.peakTreeBytes >= 160 * MIB, `tree peak ${run.peakTreeBytes / MIB} MiB`);
        assert.ok((run.peakByCommand.node ?? 0) >= 160 * MIB, `both node processes: ${JSON.stringify(run.peakByCommand)}`);
        if (run.largestProcessBytes !== null) {
            assert.ok(run.largestProcessBytes >= 80 * MIB && run.largestProcessBytes < 150 * MIB, `largest process ${run.largestProcessBytes / MIB} MiB`);
        }
    });
});
