// program.js, the Pulumi program's entry: TypeScript compiled once per file version, cached, with
// stack traces on the TypeScript lines. Each case runs it with node in a scratch project.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");

/** What a run of program.js reports: its exports, and whether TypeScript's compiler was loaded. */
interface Report {
    exported: unknown;
    typescriptLoaded: boolean;
}

const REPORT = [
    'const exported = require("./program.js");',
    'const typescriptLoaded = Object.keys(require.cache).some((f) => f.endsWith("/typescript/lib/typescript.js"));',
    "process.stdout.write(JSON.stringify({ exported, typescriptLoaded }));",
].join("\n");

describe("program.js: the TypeScript program as the language host runs it", () => {
    let dir: string;

    const run = () => spawnSync(process.execPath, ["-e", REPORT], { cwd: dir, encoding: "utf8" });
    const report = (): Report => {
        const result = run();
        assert.strictEqual(result.status, 0, result.stderr);
        return JSON.parse(result.stdout) as Report;
    };
    const cached = () => fs.readdirSync(path.join(dir, "node_modules", ".cache", "etcd-dr-program"));

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-program-"));
        for (const file of ["program.js", "tsconfig.json", "tsconfig.pulumi.json"]) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
        // Its own node_modules (links to the project's packages), so that its cache is its own.
        fs.mkdirSync(path.join(dir, "node_modules"));
        for (const name of ["typescript", "ts-node", "@pulumi"]) fs.symlinkSync(path.join(ROOT, "node_modules", name), path.join(dir, "node_modules", name));
        fs.mkdirSync(path.join(dir, "lib"));
        fs.writeFileSync(path.join(dir, "lib", "answer.ts"), "export function answer(base: number): number {\n    return base + 2;\n}\n");
        fs.writeFileSync(path.join(dir, "index.ts"), 'import { answer } from "./lib/answer";\n\nexport const value: number = answer(40);\n');
    });

    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("compiles each file once: the next run loads the cached JavaScript and no TypeScript", () => {
        assert.deepStrictEqual(report(), { exported: { value: 42 }, typescriptLoaded: true });
        assert.strictEqual(cached().length, 2, "index.ts and lib/answer.ts");
        assert.deepStrictEqual(report(), { exported: { value: 42 }, typescriptLoaded: false });
    });

    it("compiles an edited file again, and only that one", () => {
        report();
        fs.writeFileSync(path.join(dir, "lib", "answer.ts"), "export function answer(base: number): number {\n    return base + 3;\n}\n");
        assert.deepStrictEqual(report(), { exported: { value: 43 }, typescriptLoaded: true });
        assert.strictEqual(cached().length, 3);
    });

    it("names the TypeScript file and line in a stack trace, compiled or cached", () => {
        // Types and comments move the JavaScript's lines: the throw is on line 6 here, line 3 in the output.
        fs.writeFileSync(path.join(dir, "lib", "answer.ts"), "interface Base {\n    n: number;\n}\n\nexport function answer(base: number): number {\n    throw new Error(`no answer for ${base}`);\n}\nexport type { Base };\n");
        for (const attempt of ["compiled", "cached"]) {
            const result = run();
            assert.notStrictEqual(result.status, 0, attempt);
            for (const frame of [`at answer (${path.join(dir, "lib", "answer.ts")}:6:11)`, `(${path.join(dir, "index.ts")}:3:`]) {
                assert.ok(result.stderr.includes("Error: no answer for 40") && result.stderr.includes(frame), `${attempt}: no '${frame}' in\n${result.stderr}`);
            }
        }
    });

    it("refuses a file that does not parse, naming the file, line and column, and caches nothing for it", () => {
        fs.writeFileSync(path.join(dir, "lib", "answer.ts"), "export const broken: number = ;\n");
        const result = run();
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, /TSError: ⨯ Unable to compile TypeScript:\n.*lib\/answer\.ts\(1,31\): error TS1109: Expression expected\./);
        assert.strictEqual(cached().length, 1, "only index.ts");
    });
});
