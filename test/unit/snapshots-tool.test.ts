// `npm run snapshots -- <stack>`, runbook step 1, as an operator runs it: the real tool in a child
// process, the stack's outputs from a stand-in `pulumi` on PATH, the snapshots in the object-store
// emulator on loopback. Review #21: it downloaded and decoded every committed snapshot (about
// 1,344 of them with 15-minute backups and 14-day retention) to print one table.
import * as assert from "assert";
import { spawnSync } from "child_process";
import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gzipSync } from "zlib";
import { formatSnapshotId, signManifest, SnapshotManifest } from "../../lib/snapshot";
import { Objstore, startObjstore } from "../helpers/objstore";
import { ROOT } from "../helpers/plan";

const KEY = "snapshots-tool-key-0123456789abcdefghijklmnopqr";
const PREFIX = "etcd/payments/";

/** openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt, as the toolkit encrypts. */
function encrypt(data: Buffer, password: string): Buffer {
    const salt = randomBytes(8);
    const derived = pbkdf2Sync(password, salt, 100_000, 48, "sha256");
    const cipher = createCipheriv("aes-256-cbc", derived.subarray(0, 32), derived.subarray(32, 48));
    return Buffer.concat([Buffer.from("Salted__"), salt, cipher.update(data), cipher.final()]);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

interface Row {
    id: string;
    verified: string;
}

describe("npm run snapshots (the tool, against the emulator)", function () {
    this.timeout(120_000);
    let work: string;
    let store: Objstore;
    const ids: string[] = [];

    async function put(name: string, body: Buffer): Promise<void> {
        const response = await fetch(`${store.writeUrl}${PREFIX}${name}`, { method: "PUT", body: new Uint8Array(body) });
        assert.strictEqual(response.status, 200, name);
    }

    function snapshots(args: string[]): { status: number | null; rows: Row[]; stderr: string } {
        const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "tools/snapshots.ts", "standby", "--json", ...args], {
            cwd: ROOT,
            encoding: "utf8",
            env: { ...process.env, PATH: `${path.join(work, "bin")}:${process.env.PATH}` },
        });
        return { status: run.status, rows: run.status === 0 ? (JSON.parse(run.stdout) as Row[]) : [], stderr: run.stderr };
    }

    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-snapshots-"));
        store = await startObjstore(work, PREFIX);
        // Five committed snapshots, a minute apart; the oldest one's database is damaged.
        for (let i = 0; i < 5; i++) {
            const createdAt = new Date(Math.floor(Date.now() / 1000) * 1000 - (5 - i) * 60_000);
            const id = formatSnapshotId(createdAt, 100 + i);
            const database = Buffer.from(`database ${i} `.repeat(1000));
            const objects = [encrypt(gzipSync(database), KEY), encrypt(gzipSync(Buffer.from("keys")), KEY)];
            const digests = objects.map(sha256);
            if (i === 0) objects[0][objects[0].length >> 1] ^= 1;
            const manifest: SnapshotManifest = {
                formatVersion: 2, id, createdAt: createdAt.toISOString().replace(".000Z", "Z"), cluster: "payments", sourceHost: "cp1", members: ["cp1"], etcdRevision: 100 + i,
                etcdHash: 1, etcdTotalKeys: 3, etcdVersion: "3.6.6", kubernetesVersion: "1.35.8", compression: "gzip",
                encryption: "aes-256-cbc-pbkdf2", snapshotSha256: sha256(database), snapshotBytes: database.length, pkiSha256: sha256(Buffer.from("keys")),
                objects: [
                    { name: "snapshot.db.gz.enc", size: objects[0].length, sha256: digests[0] },
                    { name: "pki.tar.gz.enc", size: objects[1].length, sha256: digests[1] },
                ],
            };
            await put(`${id}/snapshot.db.gz.enc`, objects[0]);
            await put(`${id}/pki.tar.gz.enc`, objects[1]);
            await put(`${id}/manifest.json`, Buffer.from(signManifest(`${JSON.stringify(manifest, null, 2)}\n`, KEY)));
            ids.unshift(id);
        }
        // The stack's outputs, as `pulumi stack output --json --show-secrets` prints them.
        const outputs = path.join(work, "outputs.json");
        fs.writeFileSync(outputs, JSON.stringify({ snapshotStore: { readUrl: store.readUrl, prefix: PREFIX, cluster: "payments" }, encryptionKey: KEY }));
        fs.mkdirSync(path.join(work, "bin"));
        fs.writeFileSync(path.join(work, "bin", "pulumi"), `#!/bin/sh\ncat '${outputs}'\n`, { mode: 0o755 });
    });

    after(() => {
        store?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("lists every committed snapshot, newest first, and verifies only the newest three by default", () => {
        const run = snapshots([]);
        assert.strictEqual(run.status, 0, run.stderr);
        assert.deepStrictEqual(run.rows.map((r) => r.id), ids);
        assert.deepStrictEqual(run.rows.map((r) => r.verified), ["yes", "yes", "yes", "not checked (--verify all)", "not checked (--verify all)"]);
    });

    it("verifies as many as --verify names, or all of them", () => {
        assert.deepStrictEqual(snapshots(["--verify", "1"]).rows.map((r) => r.verified), ["yes", ...Array(4).fill("not checked (--verify all)")]);
        assert.deepStrictEqual(snapshots(["--verify", "all"]).rows.map((r) => r.verified), ["yes", "yes", "yes", "yes", "snapshot.db.gz.enc is corrupt"]);
        assert.deepStrictEqual(snapshots(["--no-verify"]).rows.map((r) => r.verified), Array(5).fill("not checked"));
    });

    it("refuses a --verify that is no count, with one line", () => {
        const run = snapshots(["--verify", "some"]);
        assert.strictEqual(run.status, 1);
        assert.strictEqual(run.stderr, "error: --verify takes a number of snapshots or 'all', not 'some'\n");
    });
});
