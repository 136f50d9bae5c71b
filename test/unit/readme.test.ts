import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");

/** Paths named in backticks in one README section; `a/` is a folder, `x.ts` a file in the row's folder. */
export function namedPaths(readme: string, heading: string): string[] {
    const start = readme.indexOf(`## ${heading}\n`);
    if (start < 0) throw new Error(`README has no "## ${heading}" section`);
    const end = readme.indexOf("\n## ", start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const found = new Set<string>();
    for (const row of section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| ---"))) {
        let folder = "";
        for (const [, token] of row.matchAll(/`([^`]+)`/g)) {
            const name = token.split(" ")[0];
            if (!/^[\w.*/-]+$/.test(name) || !/(\/|\.(ts|sh|go|md)$|^node\/etcd-dr$)/.test(name)) continue;
            if (name.includes("/")) {
                found.add(name);
                folder = name.endsWith("/") ? name : path.posix.dirname(name) + "/";
            } else {
                found.add(folder + name);
            }
        }
    }
    return [...found];
}

function exists(relative: string): boolean {
    if (!relative.includes("*")) return fs.existsSync(path.join(ROOT, relative));
    const dir = path.join(ROOT, path.dirname(relative));
    const pattern = new RegExp(`^${path.basename(relative).replace(/\./g, "\\.").replace(/\*/g, ".*")}$`);
    return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => pattern.test(f));
}

describe("README's map of the code", () => {
    it("names only files and folders that exist", () => {
        const named = namedPaths(fs.readFileSync(path.join(ROOT, "README.md"), "utf8"), "Where things live");
        assert.ok(named.length > 30, `the table names ${named.length} paths`);
        assert.deepStrictEqual(named.filter((p) => !exists(p)), []);
    });

    it("notices a path that does not exist", () => {
        const readme = "## Where things live\n\n| a | b |\n| --- | --- |\n| restore | `components/dr/restore.ts`, `lib/nope.ts` |\n";
        assert.deepStrictEqual(namedPaths(readme, "Where things live").filter((p) => !exists(p)), ["components/dr/restore.ts", "lib/nope.ts"]);
    });
});
