// The node toolkit's source is node/etcd-dr (the entry: usage and main) plus its parts in node/lib/.
// A node receives one file with one digest: the entry with each include line replaced by its part.
// This is the only assembler; tools/assembleToolkit.ts prints its result for the shell.
//
// The entry marks the lines the assembler acts on, and only these two forms are accepted:
//   source "$ETCD_DR_LIB/<part>.sh" # etcd-dr:include     replaced by node/lib/<part>.sh
//   <any line> # etcd-dr:checkout-only                    left out (it finds node/lib/ from a checkout)
// Anything else that names ETCD_DR_LIB or carries an etcd-dr: tag is an error, so a typo cannot
// ship a node a toolkit that sources a file it does not have.

import * as fs from "fs";
import * as path from "path";

export const TOOLKIT_ENTRY = path.join(__dirname, "..", "node", "etcd-dr");
export const TOOLKIT_PARTS = path.join(__dirname, "..", "node", "lib");

const INCLUDE = /^source "\$ETCD_DR_LIB\/([a-z0-9][a-z0-9-]*\.sh)" # etcd-dr:include$/;
const CHECKOUT_ONLY = / # etcd-dr:checkout-only$/;
const TAG = /#\s*etcd-dr:[A-Za-z-]*\s*$/;

/**
 * The toolkit a node receives: `entryText` with every include line replaced by
 * `readPart(<part>.sh)` and every checkout-only line left out. Throws on an include of a part that
 * cannot be read, a part included twice, an include inside a part, and any line that looks like an
 * include but is not exactly one of the two forms.
 */
export function assembleToolkit(entryText: string, readPart: (name: string) => string): string {
    const included = new Set<string>();
    const out: string[] = [];
    entryText.split("\n").forEach((line, index) => {
        const where = `node/etcd-dr line ${index + 1}`;
        const include = INCLUDE.exec(line);
        if (include) {
            const name = include[1];
            if (included.has(name)) throw new Error(`${where}: lib/${name} is already included above`);
            included.add(name);
            out.push(checkedPart(name, readPart, where));
        } else if (CHECKOUT_ONLY.test(line)) {
            // Needed only to run from a checkout.
        } else {
            rejectLookalike(line, where);
            out.push(line);
        }
    });
    return out.join("\n");
}

function checkedPart(name: string, readPart: (name: string) => string, where: string): string {
    let text: string;
    try {
        text = readPart(name);
    } catch (err) {
        throw new Error(`${where} includes lib/${name}, which cannot be read: ${(err as Error).message}`);
    }
    text.split("\n").forEach((line, index) => {
        if (INCLUDE.test(line) || CHECKOUT_ONLY.test(line)) {
            throw new Error(`lib/${name} line ${index + 1}: only node/etcd-dr includes parts or has checkout-only lines`);
        }
        rejectLookalike(line, `lib/${name} line ${index + 1}`);
    });
    // The line after the include line starts on a line of its own.
    return text.endsWith("\n") ? text.slice(0, -1) : text;
}

function rejectLookalike(line: string, where: string): void {
    const code = line.trimStart().startsWith("#") ? "" : line;
    if (TAG.test(line) || code.includes("ETCD_DR_LIB")) {
        throw new Error(
            `${where}: unknown include form \`${line.trim()}\`; an include is exactly ` +
                '`source "$ETCD_DR_LIB/<part>.sh" # etcd-dr:include`, and a line for checkouts only ends with `# etcd-dr:checkout-only`',
        );
    }
}

/** The assembled toolkit from node/ in this checkout: what NodeToolkit installs and hashes. */
export function readToolkit(): string {
    return assembleToolkit(fs.readFileSync(TOOLKIT_ENTRY, "utf8"), (name) => fs.readFileSync(path.join(TOOLKIT_PARTS, name), "utf8"));
}
