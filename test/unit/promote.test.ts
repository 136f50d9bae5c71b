// F08: after a failover the standby is the active site. `promote: true` with the restore makes its
// replica writable from its own region (the OCI CLI's MakeBucketWritable), drops the replication
// policy from the program without a call to the primary's region, and gives the standby a write
// PAR, lifecycle rules and backup timers that start after the restore. The state backend must not
// live in the primary's region.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CLI_FALLBACK_VARIABLES, ociCliEnvironment } from "../../lib/ociProvider";
import { MAKE_WRITABLE_VARIABLES, makeBucketWritableScript } from "../../lib/ociStore";
import { checkStateBackend, configuredBackendUrl, objectStorageRegion } from "../../lib/stateBackend";
import { loadConfig } from "../../stack/config";
import { byName, graph, ofType, ROOT, shippedConfig, writeStacks } from "../helpers/plan";
import { primaryConfig, Raw } from "./config.test";
import { buildSite, named, typed } from "./ociSiteHarness";

const SNAPSHOT = "20261121T172546Z-r37";

function load(raw: Raw, stack: string) {
    return loadConfig(stack, {
        get: (key: string) => {
            const value = raw[key];
            return value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
        },
    });
}

function standbyConfig(extra: Raw): Raw {
    const raw: Raw = { ...primaryConfig(), "etcd-dr:role": "standby", "etcd-dr:peerStack": "primary", "oci:region": "us-phoenix-1", ...extra };
    for (const key of ["etcd-dr:peerVcnCidr", "etcd-dr:topology", "etcd-dr:cluster"]) delete raw[key];
    raw["etcd-dr:nodeImageId"] = "ocid1.image.oc1.phx.aaaa";
    return raw;
}

function promotedStacks(): string {
    return writeStacks({
        primary: shippedConfig("primary"),
        standby: { ...shippedConfig("standby"), "etcd-dr:restoreSnapshot": SNAPSHOT, "etcd-dr:promote": "true" },
    });
}

describe("promotion of the standby after a failover (F08)", function () {
    this.timeout(180_000);

    describe("config", () => {
        it("refuses promote on a primary, and promote without a restore, one line each", () => {
            const onPrimary = load({ ...primaryConfig(), "etcd-dr:promote": "true" }, "primary");
            assert.deepStrictEqual(onPrimary.errors.filter((e) => /promote/.test(e)).length, 1, onPrimary.errors.join("\n"));
            const noRestore = load(standbyConfig({ "etcd-dr:promote": "true" }), "standby");
            assert.ok(noRestore.errors.some((e) => /promote is set without etcd-dr:restoreSnapshot/.test(e)), noRestore.errors.join("\n"));
            const keyOnStandby = load(standbyConfig({ "etcd-dr:encryptionKey": "k".repeat(48) }), "standby");
            assert.ok(keyOnStandby.errors.some((e) => /encryptionKey is set on a standby/.test(e)));
            assert.ok(load({ ...primaryConfig(), "etcd-dr:encryptionKey": "short" }, "primary").errors.some((e) => /shorter than 32/.test(e)));
            assert.strictEqual(load({ ...primaryConfig(), "etcd-dr:encryptionKey": "k".repeat(48) }, "primary").config?.encryptionKey, "k".repeat(48));
            const fine = load(standbyConfig({ "etcd-dr:promote": "true", "etcd-dr:restoreSnapshot": SNAPSHOT }), "standby");
            assert.deepStrictEqual(fine.errors, []);
            assert.strictEqual(fine.config?.promote, true);
            assert.strictEqual(load(standbyConfig({}), "standby").config?.promote, false);
        });

        it("asks a promoted standby with a configured store for the URL its backups go to", () => {
            const raw: Raw = {
                "etcd-dr:role": "standby",
                "etcd-dr:platform": "existing",
                "etcd-dr:peerStack": "primary",
                "etcd-dr:nodes": [{ name: "cp1", address: "10.0.0.1", role: "control-plane" }],
                "etcd-dr:storeReadUrl": "https://store.invalid/p/r/n/ns/b/b/o/",
                "etcd-dr:sshPrivateKey": "key",
                "etcd-dr:restoreSnapshot": SNAPSHOT,
                "etcd-dr:promote": "true",
            };
            assert.ok(load(raw, "standby").errors.some((e) => /storeWriteUrl is not set/.test(e)));
            assert.deepStrictEqual(load({ ...raw, "etcd-dr:storeWriteUrl": "https://store.invalid/p/w/n/ns/b/b/o/" }, "standby").errors, []);
        });
    });

    describe("the OCI site", () => {
        it("keeps the replication policy out of the source's region when it leaves the program", async () => {
            const standby = await buildSite({ role: "standby" });
            const policy = named(standby, "standby-snapshots-replication");
            assert.strictEqual(policy.provider, "standby-snapshots-source-region");
            assert.strictEqual(policy.retainOnDelete, true, "a promotion must not call DeleteReplicationPolicy in the failed region");
            assert.deepStrictEqual(typed(standby, "command:local:Command").map((c) => c.name), ["standby-iam-propagation"]);
        });

        it("promoted: the bucket is made writable first, and then is an active bucket", async () => {
            const promoted = await buildSite({ role: "standby", promote: true });
            assert.deepStrictEqual(typed(promoted, "/replicationPolicy:ReplicationPolicy"), []);
            assert.ok(!promoted.some((r) => r.name === "standby-snapshots-source-region"), "no provider for the source's region");
            const writable = named(promoted, "standby-snapshots-make-writable");
            const environment = writable.inputs.environment as Record<string, string>;
            assert.strictEqual(environment[MAKE_WRITABLE_VARIABLES.region], "us-phoenix-1", "called in the replica's own region");
            assert.strictEqual(environment[MAKE_WRITABLE_VARIABLES.bucket], "payments-etcd-snapshots-standby");
            assert.strictEqual(environment.OCI_CLI_PROFILE, "DR");
            assert.match(String(writable.inputs.create), /oci os replication make-bucket-writable/);
            assert.deepStrictEqual(writable.inputs.interpreter, ["/bin/bash", "-c"]);

            const bucket = named(promoted, "standby-snapshots-bucket");
            assert.ok(bucket.dependsOn.includes("standby-snapshots-make-writable"));
            assert.ok(Array.isArray(bucket.inputs.retentionRules), "committed snapshots are immutable on the new active bucket");
            assert.ok(named(promoted, "standby-snapshots-retention").dependsOn.includes("standby-snapshots-make-writable"));
            const pars = typed(promoted, "/preauthrequest:Preauthrequest");
            assert.deepStrictEqual(pars.map((p) => p.inputs.accessType).sort(), ["AnyObjectRead", "AnyObjectWrite"]);
            assert.ok(pars.find((p) => p.inputs.accessType === "AnyObjectWrite")?.dependsOn.includes("standby-snapshots-make-writable"));
            // IAM is written in the home region, which may be the failed one: the grants do not change.
            const before = (await buildSite({ role: "standby" })).find((r) => r.type.endsWith("/policy:Policy"));
            assert.deepStrictEqual(typed(promoted, "/policy:Policy")[0].inputs.statements, before?.inputs.statements);
        });
    });

    describe("the offline plan", () => {
        it("shows the promotion in the preview: writable bucket, write PAR, timers after the restore, no replication", () => {
            const resources = graph("standby", path.join(promotedStacks(), "Pulumi.standby.yaml"));
            byName(resources, "standby-snapshots-make-writable");
            assert.deepStrictEqual(ofType(resources, "/replicationPolicy:ReplicationPolicy"), []);
            const timers = ofType(resources, "command:remote:Command").filter((r) => r.name.endsWith("-timer"));
            assert.deepStrictEqual(timers.map((t) => t.name), ["standby-backup-cp1-timer", "standby-backup-cp2-timer", "standby-backup-cp3-timer"]);
            for (const timer of timers) {
                assert.ok(timer.dependsOn.includes("standby-restore"), `${timer.name} waits for the restore`);
                assert.ok(timer.dependsOn.includes("standby-snapshots-make-writable"), `${timer.name} waits for the writable bucket`);
            }
            // Without promote, the standby has no timers and still replicates.
            const standby = graph("standby");
            assert.deepStrictEqual(ofType(standby, "command:remote:Command").filter((r) => r.name.endsWith("-timer")), []);
            assert.strictEqual(ofType(standby, "/replicationPolicy:ReplicationPolicy").length, 1);
        });

        it("fails back by swapping the roles: the promoted site is the primary with the old key, the old primary its replica", () => {
            const primary = shippedConfig("primary");
            const standby = shippedConfig("standby");
            const dir = writeStacks({
                // The promoted standby, now the primary: the mirrored spec and the old key move with the role.
                standby: {
                    ...standby,
                    "etcd-dr:role": "primary",
                    "etcd-dr:peerStack": undefined,
                    "etcd-dr:peerVcnCidr": primary["etcd-dr:vcnCidr"],
                    "etcd-dr:topology": primary["etcd-dr:topology"],
                    "etcd-dr:cluster": primary["etcd-dr:cluster"],
                    "etcd-dr:encryptionKey": "k".repeat(48),
                },
                primary: { ...primary, "etcd-dr:role": "standby", "etcd-dr:peerStack": "standby", "etcd-dr:peerVcnCidr": undefined, "etcd-dr:topology": undefined, "etcd-dr:cluster": undefined },
            });
            const newPrimary = graph("standby", path.join(dir, "Pulumi.standby.yaml"));
            assert.ok(!newPrimary.some((r) => r.name === "standby-snapshot-encryption-key"), "the old key is kept, no new one generated");
            assert.strictEqual(ofType(newPrimary, "command:remote:Command").filter((r) => r.name.endsWith("-timer")).length, 3);
            assert.deepStrictEqual(ofType(newPrimary, "/replicationPolicy:ReplicationPolicy"), []);
            const newStandby = graph("primary", path.join(dir, "Pulumi.primary.yaml"));
            const replication = ofType(newStandby, "/replicationPolicy:ReplicationPolicy");
            assert.deepStrictEqual(
                replication.map((r) => [r.inputs.bucket, r.inputs.destinationBucketName, r.inputs.destinationRegionName]),
                [["payments-etcd-snapshots-standby", "payments-etcd-snapshots-primary", "us-ashburn-1"]],
            );
            assert.strictEqual(byName(newStandby, "primary-snapshots-source-region").inputs.region, "us-phoenix-1");
            assert.deepStrictEqual(ofType(newStandby, "command:remote:Command").filter((r) => r.name.endsWith("-timer")), [], "the old primary's timers go");
            assert.strictEqual(byName(newStandby, "primary-snapshots-bucket").inputs.retentionRules, undefined, "a replica carries no retention rule");
        });

        it("refuses a state backend in the primary's region before anything is planned", () => {
            const dir = promotedStacks();
            const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "tools/plan.ts", "primary", "--stack-file", path.join(dir, "Pulumi.primary.yaml")], {
                cwd: ROOT,
                encoding: "utf8",
                env: { ...process.env, PULUMI_BACKEND_URL: "s3://state?endpoint=ns.compat.objectstorage.us-ashburn-1.oraclecloud.com&region=us-ashburn-1&s3ForcePathStyle=true" },
            });
            assert.strictEqual(result.status, 1, result.stderr);
            assert.match(result.stderr, /error: the Pulumi state is in us-ashburn-1, the primary's region/);
        });
    });

    describe("the MakeBucketWritable call", () => {
        function runWithFakeCli(sources: string, env: Record<string, string>) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-oci-cli-"));
            const log = path.join(dir, "calls");
            // A stand-in for the OCI CLI: records each call with the credentials it saw.
            fs.writeFileSync(path.join(dir, "oci"), [
                "#!/bin/bash",
                `echo "$* tenancy=\${OCI_CLI_TENANCY:-} key=\${OCI_CLI_KEY_CONTENT:+set}" >>${log}`,
                `if [[ "$3" == list-replication-sources ]]; then printf '%s' '${sources}'; fi`,
            ].join("\n"), { mode: 0o755 });
            const result = spawnSync("/bin/bash", ["-c", makeBucketWritableScript(CLI_FALLBACK_VARIABLES)], {
                encoding: "utf8",
                env: { PATH: `${dir}:/usr/bin:/bin`, ETCD_DR_NAMESPACE: "ns", ETCD_DR_BUCKET: "payments-etcd-snapshots-standby", ETCD_DR_REGION: "us-phoenix-1", ...env },
            });
            return { ...result, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [] };
        }

        it("calls MakeBucketWritable in the replica's region when something replicates into it", () => {
            const listed = '{"data": [{"policy-name": "payments-to-us-phoenix-1", "source-bucket-name": "payments-etcd-snapshots-primary", "source-region-name": "us-ashburn-1"}]}';
            const result = runWithFakeCli(listed, { TF_VAR_tenancy_ocid: "ocid1.tenancy.oc1..t", TF_VAR_private_key: "PEM" });
            assert.strictEqual(result.status, 0, result.stderr);
            const where = "--namespace-name ns --bucket-name payments-etcd-snapshots-standby --region us-phoenix-1";
            assert.deepStrictEqual(result.calls, [
                `os replication list-replication-sources ${where} tenancy=ocid1.tenancy.oc1..t key=set`,
                `os replication make-bucket-writable ${where} tenancy=ocid1.tenancy.oc1..t key=set`,
            ]);
        });

        it("changes nothing on a bucket nothing replicates into (a second run)", () => {
            const result = runWithFakeCli("", { OCI_CLI_TENANCY: "ocid1.tenancy.oc1..mine", TF_VAR_tenancy_ocid: "ocid1.tenancy.oc1..other" });
            assert.strictEqual(result.status, 0, result.stderr);
            assert.strictEqual(result.calls.length, 1);
            assert.match(result.calls[0], /list-replication-sources .* tenancy=ocid1\.tenancy\.oc1\.\.mine/);
            assert.match(result.stdout, /is writable \(no replication into it\)/);
        });

        it("says what is missing when no OCI CLI is installed", () => {
            const result = spawnSync("/bin/bash", ["-c", makeBucketWritableScript(CLI_FALLBACK_VARIABLES)], {
                encoding: "utf8",
                env: { PATH: "/nonexistent", ETCD_DR_BUCKET: "b", ETCD_DR_REGION: "r" },
            });
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /needs the OCI CLI \(oci\) where pulumi runs/);
        });

        it("authenticates the CLI as the stack's provider, secrets marked", () => {
            const { environment, secrets, problems } = ociCliEnvironment({ tenancyOcid: "t", userOcid: "u", fingerprint: "f", privateKey: "PEM", auth: "ApiKey" });
            assert.deepStrictEqual(environment, { OCI_CLI_TENANCY: "t", OCI_CLI_USER: "u", OCI_CLI_FINGERPRINT: "f", OCI_CLI_KEY_CONTENT: "PEM", OCI_CLI_AUTH: "api_key" });
            assert.deepStrictEqual(secrets, ["OCI_CLI_KEY_CONTENT"]);
            assert.deepStrictEqual(problems, []);
            assert.strictEqual(ociCliEnvironment({ auth: "InstancePrincipalWithCerts" }).problems.length, 1);
        });
    });

    describe("the state backend's region", () => {
        it("reads the region of native and S3-compatible Object Storage endpoints", () => {
            assert.strictEqual(objectStorageRegion("s3://state?endpoint=ns.compat.objectstorage.eu-frankfurt-1.oraclecloud.com&region=eu-frankfurt-1"), "eu-frankfurt-1");
            assert.strictEqual(objectStorageRegion("s3://state?endpoint=https%3A%2F%2Fns.compat.objectstorage.us-gov-ashburn-1.oraclecloud.com"), "us-gov-ashburn-1");
            assert.strictEqual(objectStorageRegion("https://api.pulumi.com"), undefined);
            assert.strictEqual(objectStorageRegion("file:///var/state"), undefined);
        });

        it("an error in the primary's region, a warning in the standby's, nothing elsewhere", () => {
            const url = (region: string) => `s3://state?endpoint=ns.compat.objectstorage.${region}.oraclecloud.com`;
            assert.strictEqual(checkStateBackend(url("us-ashburn-1"), "us-ashburn-1", "us-phoenix-1").errors.length, 1);
            assert.deepStrictEqual(checkStateBackend(url("us-phoenix-1"), "us-ashburn-1", "us-phoenix-1").errors, []);
            assert.strictEqual(checkStateBackend(url("us-phoenix-1"), "us-ashburn-1", "us-phoenix-1").warnings.length, 1);
            assert.deepStrictEqual(checkStateBackend(url("us-sanjose-1"), "us-ashburn-1", "us-phoenix-1"), { errors: [], warnings: [] });
            assert.deepStrictEqual(checkStateBackend(undefined, "us-ashburn-1"), { errors: [], warnings: [] });
        });

        it("takes PULUMI_BACKEND_URL first, then the project file's backend.url", () => {
            assert.strictEqual(configuredBackendUrl({ PULUMI_BACKEND_URL: "s3://a" }, { backend: { url: "s3://b" } }), "s3://a");
            assert.strictEqual(configuredBackendUrl({}, { backend: { url: "s3://b" } }), "s3://b");
            assert.strictEqual(configuredBackendUrl({}, {}), undefined);
        });
    });
});
