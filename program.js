// The Pulumi program's entry (Pulumi.yaml `main`), run by the language host as plain JavaScript.
// It loads index.ts, compiling each TypeScript file the program requires the way ts-node's
// transpile-only mode did (TypeScript's transpileModule with tsconfig.pulumi.json's options), and
// keeps the JavaScript in node_modules/.cache/etcd-dr-program/, keyed by the file's path and text,
// the tsconfig files, TypeScript's version and this file. A preview or up whose sources did not
// change compiles nothing and loads neither ts-node nor, for that, TypeScript: their start and the
// per-file work were most of the program's own start (issue 16). An edited file is compiled again
// on its next run; nothing to build by hand. Types are checked by `make typecheck`, not here.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = __dirname;
const TSCONFIG = path.join(ROOT, "tsconfig.pulumi.json");
const CACHE = path.join(ROOT, "node_modules", ".cache", "etcd-dr-program");

/** The tsconfig and every file it extends, as text: any change to them is a new cache key. */
function tsconfigTexts(file) {
    const texts = [];
    for (let current = file; current !== undefined;) {
        const text = fs.readFileSync(current, "utf8");
        texts.push(text);
        const base = /"extends"\s*:\s*"(\.{1,2}\/[^"]+)"/.exec(text);
        current = base ? path.resolve(path.dirname(current), base[1].endsWith(".json") ? base[1] : `${base[1]}.json`) : undefined;
    }
    return texts;
}

const salt = crypto.createHash("sha256");
for (const part of [require("typescript/package.json").version, fs.readFileSync(__filename, "utf8"), ...tsconfigTexts(TSCONFIG)]) {
    salt.update(part).update("\0");
}
const SALT = salt.digest("hex");

let compiler;

/** TypeScript and the options ts-node used, loaded on the first file that is not in the cache. */
function typescript() {
    if (compiler === undefined) {
        const ts = require("typescript");
        const read = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
        if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"));
        const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, TSCONFIG);
        // What ts-node sets over any tsconfig: a source map to map stack traces with, no declarations.
        const options = { ...parsed.options, sourceMap: true, inlineSourceMap: false, inlineSources: true, declaration: false, noEmit: false };
        const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" };
        compiler = { ts, options, host };
    }
    return compiler;
}

function transpile(source, filename) {
    const { ts, options, host } = typescript();
    const result = ts.transpileModule(source, { compilerOptions: options, fileName: filename, reportDiagnostics: true });
    const errors = (result.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
        // The name ts-node gives it: the Pulumi runtime prints such an error without a stack.
        const error = new Error(`⨯ Unable to compile TypeScript:\n${ts.formatDiagnostics(errors, host)}`);
        error.name = "TSError";
        throw error;
    }
    // The map names its source relative to an output file under outDir; here the source is the file itself.
    const map = JSON.parse(result.sourceMapText);
    map.file = map.sources[0] = path.basename(filename);
    delete map.sourceRoot;
    return { code: result.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n"), map: JSON.stringify(map) };
}

function compiled(source, filename) {
    const key = crypto.createHash("sha256").update(SALT).update(path.relative(ROOT, filename)).update("\0").update(source).digest("hex");
    const file = path.join(CACHE, `${key}.json`);
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
        // Not compiled yet (or unreadable): compile below.
    }
    const output = transpile(source, filename);
    try {
        fs.mkdirSync(CACHE, { recursive: true });
        // Written whole, then renamed: two stacks previewed at once never read half a file.
        const partial = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(partial, JSON.stringify(output));
        fs.renameSync(partial, file);
    } catch {
        // A read-only checkout compiles on every run, as before.
    }
    return output;
}

const sourceMaps = new Map();

// Stack traces name the TypeScript lines, as under ts-node: the Pulumi runtime formats a full stack
// trace for every resource it registers (its source position), so the mapping library matters.
// ts-node's own (@cspotcode/source-map-support, a fast decoder) first, as ts-node installed it over
// the runtime's; else the runtime's source-map-support (source-map 0.6 decodes several times slower).
function installSourceMaps() {
    const retrieveSourceMap = (source) => (sourceMaps.has(source) ? { url: source, map: sourceMaps.get(source) } : null);
    for (const [library, from] of [["@cspotcode/source-map-support", "ts-node"], ["source-map-support", "@pulumi/pulumi/cmd/run"]]) {
        let support;
        try {
            support = require(require.resolve(library, { paths: [path.dirname(require.resolve(from))] }));
        } catch {
            continue;
        }
        support.install({ environment: "node", retrieveSourceMap });
        return;
    }
    // Neither: stack traces give the compiled JavaScript's lines.
}
installSourceMaps();

require.extensions[".ts"] = function (module, filename) {
    const { code, map } = compiled(fs.readFileSync(filename, "utf8"), filename);
    sourceMaps.set(filename, map);
    module._compile(code, filename);
};

module.exports = require("./index.ts");
