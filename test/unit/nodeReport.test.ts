import * as assert from "assert";
import { execFileSync } from "child_process";
import { formatResult, parseResults, resultCommand, summarizeTimings, verifiedRevision } from "../../lib/nodeReport";

describe("node result lines", () => {
    it("wraps a phase so it reports its timing as a result line, and fails when the phase fails", () => {
        const ok = execFileSync("bash", ["-c", resultCommand("apply", "cp2", "echo applied")], { encoding: "utf8" });
        const results = parseResults(ok);
        assert.strictEqual(results.length, 1);
        assert.strictEqual(results[0].phase, "apply");
        assert.strictEqual(results[0].node, "cp2");
        assert.ok((results[0].end ?? 0) >= (results[0].start ?? Infinity));
        assert.throws(() => execFileSync("bash", ["-c", resultCommand("apply", "cp2", "false")], { stdio: "pipe" }));
    });

    it("refuses phase and node names that would need escaping", () => {
        assert.throws(() => resultCommand("apply", 'cp2"; rm -rf /', "true"), /lower-case words/);
    });

    it("reads back exactly what formatResult writes, and ignores human sentences and broken lines", () => {
        const line = formatResult({ phase: "verify", node: "cp1", revision: 7, members: ["cp1", "cp2"] });
        const stdout = ["verified snapshot 20261121T170053Z-r3: members cp1,cp2 healthy, revision 9", line, "etcd-dr-result {\"phase\":", ""].join("\n");
        assert.deepStrictEqual(parseResults(stdout), [{ phase: "verify", node: "cp1", revision: 7, members: ["cp1", "cp2"] }]);
        assert.strictEqual(verifiedRevision(parseResults(stdout)), 7, "the number comes from the result line, not the sentence");
        assert.strictEqual(verifiedRevision(parseResults("verified snapshot x: revision 9")), undefined);
    });

    it("summarizes phase wall times across nodes, skipping lines without timing", () => {
        const report = summarizeTimings([
            { phase: "prepare", node: "cp1", start: 100, end: 103 },
            { phase: "prepare", node: "cp2", start: 100.5, end: 104 },
            { phase: "verify", node: "cp1", revision: 5 },
            { phase: "verify", node: "cp1", start: 110, end: 112.25 },
        ]);
        assert.deepStrictEqual(report.phaseSeconds, { prepare: 4, verify: 2.25 });
        assert.strictEqual(report.durationSeconds, 12.25);
        assert.strictEqual(report.startTime, "1970-01-01T00:01:40.000Z");
        assert.throws(() => summarizeTimings([]), /no restore phase/);
    });
});
