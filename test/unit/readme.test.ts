import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

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

describe("README's OCI state backend", () => {
    // What gocloud.dev's s3blob (the Pulumi CLI's S3 driver, AWS SDK for Go v2) takes in the URL.
    const KNOWN = ["endpoint", "region", "s3ForcePathStyle", "use_path_style", "request_checksum_calculation", "response_checksum_validation", "profile"];

    it("logs in with plain uploads, which OCI's S3-compatible API takes, and only with parameters the CLI knows", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const logins = [...readme.matchAll(/pulumi login '(s3:\/\/[^']*compat\.objectstorage[^']*)'/g)].map((m) => m[1]);
        assert.strictEqual(logins.length, 1, "one OCI backend example");
        const query = new URLSearchParams(logins[0].slice(logins[0].indexOf("?") + 1));
        assert.deepStrictEqual([...query.keys()].filter((k) => !KNOWN.includes(k)), []);
        // aws-chunked uploads with a CRC32 trailer, the SDK's default, are refused with NotImplemented.
        assert.strictEqual(query.get("request_checksum_calculation"), "when_required");
        assert.strictEqual(query.get("response_checksum_validation"), "when_required");
        assert.match(query.get("endpoint") ?? "", /^https:\/\/<namespace>\.compat\.objectstorage\.<region>\.oraclecloud\.com$/);
    });
});

describe("README's list of what a tenancy needs (F18)", () => {
    it("names every permission of the identity that runs pulumi up, as lib/ociIam.ts keeps them", async () => {
        const { PULUMI_IDENTITY_PERMISSIONS } = await import("../../lib/ociIam");
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const start = readme.indexOf("### What a tenancy needs before `pulumi up`");
        assert.ok(start >= 0, "README has the tenancy section");
        const section = readme.slice(start, readme.indexOf("\n### ", start + 1)).replace(/\s+/g, " ");
        const grants = PULUMI_IDENTITY_PERMISSIONS.map((p) => /^Allow group <group> to (\S+ \S+) in /.exec(p.statement)?.[1]);
        assert.ok(grants.every(Boolean) && grants.length > 5, grants.join(", "));
        assert.deepStrictEqual(grants.filter((g) => !section.includes(`\`${g}`)), [], "name each in the Identity bullet");
    });
});

/** What README's "Versions" bullet says the example's Calico release covers, and what the example runs. */
export function calicoCoverage(readme: string, stackYaml: string): string[] {
    const claim = /the example's v(\d+\.\d+) covers 1\.(\d+) to 1\.(\d+)/.exec(readme);
    if (!claim) return ["README's Versions bullet does not say which Kubernetes versions the example's Calico covers"];
    const [, release, low, high] = claim;
    const cluster = (yaml.load(stackYaml) as { config: Record<string, { kubernetesVersion?: string; cniManifestUrl?: string }> }).config["etcd-dr:cluster"];
    const manifest = /\/calico\/v(\d+\.\d+)\.\d+\//.exec(cluster.cniManifestUrl ?? "")?.[1];
    const minor = Number(/^1\.(\d+)\./.exec(cluster.kubernetesVersion ?? "")?.[1]);
    const problems: string[] = [];
    if (manifest !== release) problems.push(`the example's manifest is Calico v${manifest}, README speaks of v${release}`);
    if (!(minor >= Number(low) && minor <= Number(high))) problems.push(`Kubernetes ${cluster.kubernetesVersion} is outside the 1.${low}-1.${high} README says Calico v${release} covers`);
    return problems;
}

describe("README's Versions bullet (F28)", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const example = fs.readFileSync(path.join(ROOT, "Pulumi.primary.yaml"), "utf8");

    it("the example's Calico release is the one README names, and it covers the example's Kubernetes", () => {
        assert.deepStrictEqual(calicoCoverage(readme, example), []);
    });

    it("notices the review's pairing: Calico v3.28 (tested with 1.27-1.30) under Kubernetes 1.31", () => {
        const old = example.replace(/v3\.\d+\.\d+\/manifests/, "v3.28.2/manifests").replace(/kubernetesVersion: \S+/, "kubernetesVersion: 1.31.4");
        assert.deepStrictEqual(calicoCoverage(readme.replace(/the example's v[\d.]+ covers 1\.\d+ to 1\.\d+/, "the example's v3.28 covers 1.27 to 1.30"), old),
            ["Kubernetes 1.31.4 is outside the 1.27-1.30 README says Calico v3.28 covers"]);
        assert.deepStrictEqual(calicoCoverage(readme, old), ["the example's manifest is Calico v3.28, README speaks of v3.31", "Kubernetes 1.31.4 is outside the 1.32-1.35 README says Calico v3.31 covers"]);
    });
});
