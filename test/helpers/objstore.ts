// The project's object-store emulator (lab/objstore) for unit tests: built into a work dir and
// bound to 127.0.0.1, with one bucket, a write-only PAR scoped to a prefix and a read + list PAR,
// as the active site's store and its replica are to the node toolkit.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { freePort } from "./ports";

const OBJSTORE_SOURCE = path.resolve(__dirname, "..", "..", "lab", "objstore");

export interface Objstore {
    /** Write-only PAR URL (AnyObjectWrite on the prefix), ending in /o/. */
    writeUrl: string;
    /** Read + list PAR URL, ending in /o/. */
    readUrl: string;
    stop(): void;
}

/** Builds the emulator into WORK and starts it; resolves once it answers. */
export async function startObjstore(work: string, prefix: string): Promise<Objstore> {
    const binary = path.join(work, "objstore");
    execFileSync("go", ["build", "-trimpath", "-o", binary, "."], { cwd: OBJSTORE_SOURCE, stdio: "inherit" });
    const port = await freePort();
    const config = {
        namespace: "lab",
        listen: [`127.0.0.1:${port}`],
        dataDir: path.join(work, "store"),
        buckets: [{ namespace: "lab", name: "primary" }],
        pars: [
            { id: "write-secret-par", bucket: "primary", accessType: "AnyObjectWrite", prefix, expires: "2099-01-01T00:00:00Z" },
            { id: "read-secret-par", bucket: "primary", accessType: "AnyObjectRead", listing: true, expires: "2099-01-01T00:00:00Z" },
        ],
    };
    fs.writeFileSync(path.join(work, "objstore.json"), JSON.stringify(config));
    const store: ChildProcess = spawn(binary, ["-config", path.join(work, "objstore.json")], { stdio: "ignore" });
    const writeUrl = `http://127.0.0.1:${port}/p/write-secret-par/n/lab/b/primary/o/`;
    const readUrl = `http://127.0.0.1:${port}/p/read-secret-par/n/lab/b/primary/o/`;
    for (let i = 0; ; i++) {
        try {
            if ((await fetch(readUrl)).status === 200) break;
        } catch {
            if (i > 100) {
                store.kill();
                throw new Error("the object-store emulator did not start");
            }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { writeUrl, readUrl, stop: () => store.kill() };
}
