import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

// Imports run one way: index.ts -> stack/ -> components/ -> lib/. Inside components/, the DR and
// Kubernetes components never reach into a platform's components (the `existing` platform has none).
const ROOT = path.resolve(__dirname, "..", "..");

const LAYERS: { name: string; rank: number; owns: (file: string) => boolean }[] = [
    { name: "index.ts", rank: 3, owns: (f) => f === "index.ts" },
    { name: "stack/", rank: 2, owns: (f) => f.startsWith("stack/") },
    { name: "components/", rank: 1, owns: (f) => f.startsWith("components/") },
    { name: "lib/", rank: 0, owns: (f) => f.startsWith("lib/") },
];

function layerOf(file: string) {
    return LAYERS.find((l) => l.owns(file));
}

/** Relative imports of a TypeScript source, as written ("../lib/x", "./y"). */
export function relativeImports(source: string): string[] {
    const found: string[] = [];
    const patterns = [/\bfrom\s+["'](\.[^"']*)["']/g, /\brequire\(\s*["'](\.[^"']*)["']\s*\)/g, /\bimport\(\s*["'](\.[^"']*)["']\s*\)/g];
    for (const pattern of patterns) {
        for (const match of source.matchAll(pattern)) found.push(match[1]);
    }
    return found;
}

/** Every import that goes against the layering, as "importer -> imported (why)". */
export function layerViolations(files: Record<string, string>): string[] {
    const violations: string[] = [];
    for (const [file, source] of Object.entries(files)) {
        const from = layerOf(file);
        if (!from) continue;
        for (const spec of relativeImports(source)) {
            const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
            const to = layerOf(target) ?? layerOf(`${target}.ts`);
            if (!to) continue;
            if (to.rank > from.rank) {
                violations.push(`${file} -> ${target} (${from.name} may not import ${to.name})`);
            } else if (/^components\/(dr|k8s)\//.test(file) && target.startsWith("components/oci/")) {
                violations.push(`${file} -> ${target} (DR and Kubernetes components must not depend on a platform's components)`);
            }
        }
    }
    return violations;
}

function sources(): Record<string, string> {
    const files: Record<string, string> = { "index.ts": fs.readFileSync(path.join(ROOT, "index.ts"), "utf8") };
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
            const rel = path.posix.join(dir, entry.name);
            if (entry.isDirectory()) walk(rel);
            else if (entry.name.endsWith(".ts")) files[rel] = fs.readFileSync(path.join(ROOT, rel), "utf8");
        }
    };
    for (const dir of ["stack", "components", "lib"]) walk(dir);
    return files;
}

describe("import direction", () => {
    it("holds in this checkout: index -> stack -> components -> lib", () => {
        const files = sources();
        assert.ok(Object.keys(files).length > 30, "the walk found the sources");
        assert.deepStrictEqual(layerViolations(files), []);
    });

    it("names an import from a lower layer to a higher one", () => {
        const violations = layerViolations({
            "lib/spec.ts": 'import { loadConfig } from "../stack/config";\nimport { x } from "./cidr";',
            "components/dr/nodeToolkit.ts": 'import { OciSite } from "../oci/site";\nconst p = require("../../stack/program");',
            "stack/program.ts": 'import { NodeToolkit } from "../components/dr/nodeToolkit";',
        });
        assert.deepStrictEqual(violations, [
            "lib/spec.ts -> stack/config (lib/ may not import stack/)",
            "components/dr/nodeToolkit.ts -> components/oci/site (DR and Kubernetes components must not depend on a platform's components)",
            "components/dr/nodeToolkit.ts -> stack/program (components/ may not import stack/)",
        ]);
    });
});
