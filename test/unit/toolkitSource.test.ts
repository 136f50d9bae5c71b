import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { assembleToolkit, readToolkit, TOOLKIT_ENTRY, TOOLKIT_PARTS } from "../../lib/toolkitSource";

const ENTRY = [
    "#!/usr/bin/env bash",
    "# header",
    'ETCD_DR_LIB="$(dirname "$0")/lib" # etcd-dr:checkout-only',
    'source "$ETCD_DR_LIB/log.sh" # etcd-dr:include',
    'source "$ETCD_DR_LIB/store.sh" # etcd-dr:include',
    'main() { log "$@"; }',
    "",
].join("\n");

const PARTS: Record<string, string> = {
    "log.sh": "# log part\nlog() { echo \"$*\"; }\n",
    "store.sh": "# store part\nstore_get() { :; }", // no final newline
};

function readPart(name: string): string {
    const text = PARTS[name];
    if (text === undefined) throw new Error(`ENOENT: no such file, open 'node/lib/${name}'`);
    return text;
}

describe("toolkit assembly (lib/toolkitSource.ts)", () => {
    it("replaces each include line by its part and leaves out checkout-only lines", () => {
        assert.strictEqual(
            assembleToolkit(ENTRY, readPart),
            ["#!/usr/bin/env bash", "# header", "# log part", 'log() { echo "$*"; }', "# store part", "store_get() { :; }", 'main() { log "$@"; }', ""].join("\n"),
        );
    });

    it("refuses an include of a part that does not exist, naming the line and the part", () => {
        const entry = ENTRY.replace("store.sh", "stor.sh");
        assert.throws(() => assembleToolkit(entry, readPart), /^Error: node\/etcd-dr line 5 includes lib\/stor\.sh, which cannot be read: ENOENT/);
    });

    const lookalikes: [string, string][] = [
        ["a dot instead of source", '. "$ETCD_DR_LIB/store.sh" # etcd-dr:include'],
        ["no tag", 'source "$ETCD_DR_LIB/store.sh"'],
        ["two spaces before the tag", 'source "$ETCD_DR_LIB/store.sh"  # etcd-dr:include'],
        ["a misspelt tag", 'source "$ETCD_DR_LIB/store.sh" # etcd-dr:includes'],
        ["an unknown tag", "echo hi # etcd-dr:assembled-only"],
        ["braces", 'source "${ETCD_DR_LIB}/store.sh" # etcd-dr:include'],
        ["a part outside lib", 'source "$ETCD_DR_LIB/../store.sh" # etcd-dr:include'],
        ["a part that is not .sh", 'source "$ETCD_DR_LIB/store" # etcd-dr:include'],
        ["an untagged use of the lib dir", 'ls "$ETCD_DR_LIB"'],
    ];
    for (const [what, line] of lookalikes) {
        it(`refuses an unknown include form: ${what}`, () => {
            const entry = ENTRY.replace('source "$ETCD_DR_LIB/store.sh" # etcd-dr:include', line);
            assert.throws(() => assembleToolkit(entry, readPart), /^Error: node\/etcd-dr line 5: unknown include form/);
        });
    }

    it("refuses a part included twice, and a part that includes another", () => {
        const twice = ENTRY.replace("store.sh", "log.sh");
        assert.throws(() => assembleToolkit(twice, readPart), /line 5: lib\/log\.sh is already included above/);
        const nested = (name: string) => (name === "log.sh" ? 'source "$ETCD_DR_LIB/store.sh" # etcd-dr:include\n' : readPart(name));
        assert.throws(() => assembleToolkit(ENTRY, nested), /lib\/log\.sh line 1: only node\/etcd-dr includes parts/);
    });

    describe("the toolkit in this checkout", () => {
        const assembled = readToolkit();

        it("is one file: no include, no lib dir, every part of node/lib included exactly once", () => {
            assert.match(assembled, /^#!\/usr\/bin\/env bash\n/);
            assert.doesNotMatch(assembled, /ETCD_DR_LIB|etcd-dr:include|etcd-dr:checkout-only/);
            const entry = fs.readFileSync(TOOLKIT_ENTRY, "utf8");
            const included = [...entry.matchAll(/^source "\$ETCD_DR_LIB\/(.+)" # etcd-dr:include$/gm)].map((m) => m[1]);
            assert.deepStrictEqual([...included].sort(), fs.readdirSync(TOOLKIT_PARTS).filter((f) => f.endsWith(".sh")).sort());
            for (const part of included) {
                assert.ok(assembled.includes(fs.readFileSync(path.join(TOOLKIT_PARTS, part), "utf8")), `${part} is in the assembled file`);
            }
        });

        it("assembles to the same bytes every time (one digest)", () => {
            assert.strictEqual(readToolkit(), assembled);
        });

        it("parses as bash and passes shellcheck as assembled", function () {
            const syntax = spawnSync("bash", ["-n"], { input: assembled, encoding: "utf8" });
            assert.strictEqual(syntax.status, 0, syntax.stderr);
            if (spawnSync("shellcheck", ["--version"]).status !== 0) this.skip();
            const lint = spawnSync("shellcheck", ["-"], { input: assembled, encoding: "utf8" });
            assert.strictEqual(lint.status, 0, lint.stdout);
        });
    });
});
