import * as assert from "assert";
import { execFileSync } from "child_process";
import { createCipheriv, createHash, pbkdf2Sync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import { createGzip, gzipSync } from "zlib";
import { decryptOpenssl, verifySnapshot } from "../../lib/bundle";
import { groupSnapshots, listObjects } from "../../lib/store";
import { signManifest } from "../../lib/snapshot";
import { sampleManifest } from "./snapshot.test";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Encrypts exactly as the node toolkit does, with the openssl CLI. */
function opensslEncrypt(data: Buffer, key: string): Buffer {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-enc-"));
    fs.writeFileSync(path.join(dir, "key"), `${key}\n`);
    fs.writeFileSync(path.join(dir, "in"), data);
    execFileSync("openssl", ["enc", "-aes-256-cbc", "-pbkdf2", "-iter", "100000", "-salt", "-pass", `file:${dir}/key`, "-in", `${dir}/in`, "-out", `${dir}/out`]);
    const out = fs.readFileSync(path.join(dir, "out"));
    fs.rmSync(dir, { recursive: true });
    return out;
}

describe("snapshot bundles read from the store", () => {
    it("decrypts what the toolkit's openssl encrypted, and refuses a wrong key", () => {
        const data = Buffer.from("etcd database bytes ".repeat(100));
        const encrypted = opensslEncrypt(data, "k3y");
        assert.deepStrictEqual(decryptOpenssl(encrypted, "k3y"), data);
        assert.throws(() => decryptOpenssl(encrypted, "other"));
        assert.throws(() => decryptOpenssl(data, "k3y"), /not openssl salted data/);
    });

    it("groups a listing into snapshots, newest first, noting which have a manifest", () => {
        const root = "etcd/lab/";
        const entries = groupSnapshots([
            { name: `${root}20261121T170053Z-r3/snapshot.db.gz.enc`, size: 100 },
            { name: `${root}20261121T170053Z-r3/manifest.json`, size: 10 },
            { name: `${root}20261121T180000Z-r9/snapshot.db.gz.enc`, size: 200 },
            { name: `${root}not-a-snapshot/file`, size: 1 },
            { name: "etcd/other/20261121T190000Z-r1/manifest.json", size: 1 },
        ], root);
        assert.deepStrictEqual(entries.map((e) => [e.id, e.sizeBytes, e.hasManifest]), [["20261121T180000Z-r9", 200, false], ["20261121T170053Z-r3", 110, true]]);
        assert.deepStrictEqual([...entries[1].objects], [["snapshot.db.gz.enc", 100], ["manifest.json", 10]]);
    });

    it("lists across pages", async () => {
        const pages: Record<string, string> = {
            "": JSON.stringify({ objects: [{ name: "etcd/lab/a", size: 1 }], nextStartWith: "etcd/lab/b" }),
            "etcd%2Flab%2Fb": JSON.stringify({ objects: [{ name: "etcd/lab/b", size: 2 }] }),
        };
        const seen: string[] = [];
        const objects = await listObjects("http://store.invalid/o/", "etcd/lab/", async (url) => {
            seen.push(url);
            const start = new URL(url).searchParams.get("start") ?? "";
            return { status: 200, body: pages[encodeURIComponent(start)] };
        });
        assert.deepStrictEqual(objects, [{ name: "etcd/lab/a", size: 1 }, { name: "etcd/lab/b", size: 2 }]);
        assert.strictEqual(seen.length, 2);
    });

    it("verifies a bundle end to end and names what is wrong with a damaged one", async () => {
        const database = Buffer.from("database ".repeat(500));
        const snapshot = opensslEncrypt(gzipSync(database), "k3y");
        const pki = opensslEncrypt(gzipSync(Buffer.from("keys")), "k3y");
        const manifest = { ...sampleManifest(), snapshotSha256: sha(database), objects: [
            { name: "snapshot.db.gz.enc", size: snapshot.length, sha256: sha(snapshot) },
            { name: "pki.tar.gz.enc", size: pki.length, sha256: sha(pki) },
        ] };
        const store = (files: Record<string, Buffer>) => async (url: string) => {
            const name = url.split("/").pop() as string;
            return files[name] ? { status: 200, body: Readable.from([files[name]]) } : { status: 404, body: Readable.from([]) };
        };
        const manifestText = (m: object, key?: string) => {
            const text = `${JSON.stringify(m, null, 2)}\n`;
            return Buffer.from(key ? signManifest(text, key) : text);
        };
        const files = { "manifest.json": manifestText(manifest, "k3y"), "snapshot.db.gz.enc": snapshot, "pki.tar.gz.enc": pki };
        const dir = "etcd/lab/20261121T170053Z-r3/";
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store(files))).problem, undefined);
        const unauthenticated = "manifest.json is not authenticated with this stack's key (forged, altered, or made with another key)";
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "wrong", store(files))).problem, unauthenticated);
        // review #1: an unsigned manifest, one signed with another key, and a signed plaintext one.
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(manifest) }))).problem, unauthenticated);
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(manifest, "attacker") }))).problem, unauthenticated);
        const plain = { ...manifest, encryption: "none", objects: [{ ...manifest.objects[0], name: "snapshot.db.gz" }, { ...manifest.objects[1], name: "pki.tar.gz" }] };
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(plain, "k3y") }))).problem, "not encrypted, and this stack has a key");
        // Without a key nothing can be authenticated; the digests and decoding are still checked.
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, undefined, store(files))).problem, "encrypted, and no key to check it with");
        const corrupt = Buffer.from(snapshot);
        corrupt[40] ^= 1;
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "snapshot.db.gz.enc": corrupt }))).problem, "snapshot.db.gz.enc is corrupt");
        assert.match((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": Buffer.alloc(0) }))).problem ?? "", /manifest.json is not JSON/);
        // Object names are the bundle's two, nothing else (review #11).
        const traversal = { ...manifest, objects: [manifest.objects[0], { ...manifest.objects[1], name: "../started" }] };
        assert.match((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(traversal, "k3y") }))).problem ?? "", /are not exactly snapshot\.db\.gz\.enc and pki\.tar\.gz\.enc/);
        // Decoded, but not to the database the manifest names; and not decodable at all.
        const other = opensslEncrypt(gzipSync(Buffer.from("another database")), "k3y");
        const swapped = { ...manifest, objects: [{ ...manifest.objects[0], size: other.length, sha256: sha(other) }, manifest.objects[1]] };
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(swapped, "k3y"), "snapshot.db.gz.enc": other }))).problem, "decodes to a different database than was saved");
        const notGzip = opensslEncrypt(Buffer.from("not gzip at all"), "k3y");
        const broken = { ...manifest, objects: [{ ...manifest.objects[0], size: notGzip.length, sha256: sha(notGzip) }, manifest.objects[1]] };
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(broken, "k3y"), "snapshot.db.gz.enc": notGzip }))).problem, "does not decompress");
        const otherKey = opensslEncrypt(gzipSync(database), "not-k3y");
        const wrongKey = { ...manifest, objects: [{ ...manifest.objects[0], size: otherKey.length, sha256: sha(otherKey) }, manifest.objects[1]] };
        assert.strictEqual((await verifySnapshot("u/", dir, manifest.id, "k3y", store({ ...files, "manifest.json": manifestText(wrongKey, "k3y"), "snapshot.db.gz.enc": otherKey }))).problem, "does not decrypt with this stack's key");
    });

    // Review #21: every object was read into one Buffer and decoded in memory, so the workstation
    // needed the database's size in RAM per snapshot, and nothing of 4 GiB or more could be checked.
    it("verifies as a stream: a 384 MiB database is checked with memory to spare", async function () {
        this.timeout(120_000);
        const MiB = 1024 * 1024;
        const block = Buffer.alloc(MiB, "etcd page ");
        const blocks = 384;
        const salt = Buffer.from("0011223344556677", "hex");
        const derived = pbkdf2Sync("k3y", salt, 100_000, 48, "sha256");
        // The object as the toolkit uploads it (gzip, then openssl's salted AES-256-CBC), made on the fly and the same each time.
        async function* encoded(): AsyncGenerator<Buffer> {
            yield Buffer.concat([Buffer.from("Salted__"), salt]);
            const cipher = createCipheriv("aes-256-cbc", derived.subarray(0, 32), derived.subarray(32, 48));
            const source = Readable.from((function* () { for (let i = 0; i < blocks; i++) yield block; })()).pipe(createGzip({ level: 1 })).pipe(cipher);
            for await (const chunk of source) yield chunk as Buffer;
        }
        const raw = createHash("sha256");
        let size = 0;
        for await (const chunk of encoded()) {
            raw.update(chunk);
            size += chunk.length;
        }
        const plain = createHash("sha256");
        for (let i = 0; i < blocks; i++) plain.update(block);
        const pki = opensslEncrypt(gzipSync(Buffer.from("keys")), "k3y");
        const manifest = { ...sampleManifest(), snapshotSha256: plain.digest("hex"), objects: [
            { name: "snapshot.db.gz.enc", size, sha256: raw.digest("hex") },
            { name: "pki.tar.gz.enc", size: pki.length, sha256: sha(pki) },
        ] };
        const manifestBody = Buffer.from(signManifest(`${JSON.stringify(manifest, null, 2)}\n`, "k3y"));
        const fetchObject = async (url: string) => {
            const name = url.split("/").pop();
            const body = name === "snapshot.db.gz.enc" ? Readable.from(encoded()) : Readable.from([name === "manifest.json" ? manifestBody : pki]);
            return { status: 200, body };
        };
        global.gc?.();
        const baseline = process.memoryUsage().rss;
        let peak = baseline;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
        const result = await verifySnapshot("u/", "etcd/lab/20261121T170053Z-r3/", manifest.id, "k3y", fetchObject);
        clearInterval(sampler);
        peak = Math.max(peak, process.memoryUsage().rss);
        assert.strictEqual(result.problem, undefined);
        assert.ok(peak - baseline < 128 * MiB, `memory grew by ${Math.round((peak - baseline) / MiB)} MiB while checking a ${blocks} MiB database`);
    });
});
