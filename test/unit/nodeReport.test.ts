import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { formatResult, parseResults, resultCommand, summarizeTimings, verifiedRevision } from "../../lib/nodeReport";
import { readToolkit } from "../../lib/toolkitSource";

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

    it("parses what the toolkit itself prints (report_result in node/lib/log.sh)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-report-"));
        try {
            const toolkit = path.join(dir, "etcd-dr");
            fs.writeFileSync(toolkit, readToolkit());
            // The same fields cmd_restore_verify builds from etcd's member list.
            const script = path.join(dir, "report.sh");
            fs.writeFileSync(script, [
                `source "${toolkit}"`,
                "hostname() { echo cp2; }",
                "members=cp1,cp2,cp3 revision=42",
                'report_result verify "\\"revision\\":${revision},\\"members\\":[\\"${members//,/\\",\\"}\\"]"',
            ].join("\n"));
            const out = execFileSync("bash", [script], { encoding: "utf8" });
            assert.deepStrictEqual(parseResults(out), [{ phase: "verify", node: "cp2", revision: 42, members: ["cp1", "cp2", "cp3"] }]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
