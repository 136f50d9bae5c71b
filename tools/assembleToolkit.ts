// Prints the node toolkit exactly as a node receives it (node/etcd-dr with its parts inlined), for
// the shell: `npx ts-node --transpile-only tools/assembleToolkit.ts > etcd-dr`, or piped to shellcheck.
import { readToolkit } from "../lib/toolkitSource";

process.stdout.write(readToolkit());
