// The node toolkit on the lab's real nodes, over SSH only: scheduled backups on the primary,
// replication, and the restore phases on the warm standby -- plus every way a restore must refuse,
// each leaving the standby's etcd untouched and healthy.
import * as assert from "assert";
import { createHash, randomBytes } from "crypto";
import { manifestProblems, SnapshotManifest } from "../../lib/snapshot";
import { LabAccess, Site, toolkitText, waitFor } from "../helpers/lab";

const ENCRYPTION_KEY = randomBytes(32).toString("hex");
const SENTINEL = "/standby/sentinel";

function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

describe("node toolkit on the lab", function () {
    this.timeout(600_000);
    const lab = new LabAccess();
    const primary = lab.controlPlane("primary").map((n) => n.name);
    const standby = lab.controlPlane("standby").map((n) => n.name);
    let snapshotId = "";
    let dataRevision = 0;

    function settings(site: Site, keyFile = "/etc/etcd-dr/encryption.key"): string {
        return [
            `ETCD_DR_CLUSTER=${lab.lab.cluster}`,
            `ETCD_DR_PREFIX=${lab.lab.snapshotPrefix}`,
            site === "primary" ? `ETCD_DR_WRITE_URL='${lab.lab.store.primaryWriteUrl}'` : `ETCD_DR_READ_URL='${lab.lab.store.standbyReadUrl}'`,
            `ETCD_DR_ENCRYPTION_KEY_FILE=${keyFile}`,
            `ETCD_DR_MEMBERS=${lab.controlPlane(site).map((n) => n.name).join(",")}`,
            "ETCD_DR_KUBERNETES_VERSION=1.31.4",
            "ETCD_DR_ON_CALENDAR='*:*:0/10'",
            "ETCD_DR_RANDOMIZED_DELAY=1s",
            "ETCD_DR_VERIFY_TIMEOUT=120",
            "",
        ].join("\n");
    }

    function install(site: Site, node: string): void {
        lab.ok(site, node, "install -d -m 700 /etc/etcd-dr && cat > /usr/local/sbin/etcd-dr && chmod 755 /usr/local/sbin/etcd-dr", toolkitText());
        lab.ok(site, node, "umask 077 && cat > /etc/etcd-dr/encryption.key", ENCRYPTION_KEY);
        lab.ok(site, node, "umask 077 && cat > /etc/etcd-dr/etcd-dr.env", settings(site));
    }

    /** Member ids, names, revision and a digest of the whole keyspace: what "untouched" means. */
    function etcdState(site: Site): string {
        const node = lab.controlPlane(site)[0].name;
        lab.etcdctl(site, node, "endpoint health --cluster");
        const members = lab.etcdctl(site, node, "member list").trim().split("\n").sort().join("\n");
        const keyspace = sha256(lab.etcdctl(site, node, "get '' --prefix -w json | sed 's/\"header\":{[^}]*},//'"));
        return `${members}\n${keyspace}`;
    }

    function keyspaceDigest(site: Site, prefix: string): { digest: string; keys: number } {
        const node = lab.controlPlane(site)[0].name;
        const dump = lab.etcdctl(site, node, `get --prefix ${prefix}`);
        const keys = Number(lab.etcdctl(site, node, `get --prefix ${prefix} --keys-only | sed '/^$/d' | wc -l`).trim());
        return { digest: sha256(dump), keys };
    }

    function refuse(node: string, command: string, expected: RegExp): void {
        const run = lab.ssh("standby", node, command);
        assert.notStrictEqual(run.status, 0, `${command} must fail`);
        const lines = run.stderr.trim().split("\n");
        assert.match(lines[lines.length - 1], expected);
        assert.match(lines[lines.length - 1], /^etcd-dr: ERROR: /);
    }

    /** Objects of a committed snapshot, read from the replica the way a restore reads them. */
    function replicaObject(id: string, name: string): Buffer {
        const url = `${lab.lab.store.standbyReadUrl}${lab.lab.snapshotPrefix}/${lab.lab.cluster}/${id}/${name}`;
        return Buffer.from(lab.ok("standby", standby[0], `curl -fsS '${url}' | base64 -w0`), "base64");
    }

    /** Uploads objects through the primary's write PAR (as a primary node would) and waits for the replica. */
    async function upload(id: string, objects: Record<string, Buffer>, waitForName: string): Promise<void> {
        for (const [name, body] of Object.entries(objects)) {
            const url = `${lab.lab.store.primaryWriteUrl}${lab.lab.snapshotPrefix}/${lab.lab.cluster}/${id}/${name}`;
            lab.ok("primary", primary[0], `base64 -d | curl -fsS -X PUT --data-binary @- '${url}'`, body.toString("base64"));
        }
        const probe = `${lab.lab.store.standbyReadUrl}${lab.lab.snapshotPrefix}/${lab.lab.cluster}/${id}/${waitForName}`;
        await waitFor(`replication of ${id}`, 60_000, () => (lab.ssh("standby", standby[0], `curl -fsS -o /dev/null '${probe}'`).status === 0 ? true : undefined));
    }

    before(() => {
        for (const site of ["primary", "standby"] as Site[]) {
            for (const node of lab.controlPlane(site)) install(site, node.name);
        }
        lab.etcdctl("standby", standby[0], `put ${SENTINEL} warm-standby`);
    });

    it("writes a Kubernetes-shaped data set into the primary's etcd", () => {
        const etcdctl = "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt " +
            "--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key";
        lab.ok("primary", primary[0], [
            `for i in $(seq 1 300); do ${etcdctl} put "/registry/configmaps/default/cm-$(printf %04d $i)" "value-$i-$(head -c 24 /dev/urandom | base64 | tr -d /+=)" >/dev/null; done`,
            // A value larger than one command-line argument may be goes in through stdin.
            `head -c 300000 /dev/urandom | base64 -w0 | ${etcdctl} put /registry/secrets/kube-system/big >/dev/null`,
        ].join(" && "));
        assert.ok(keyspaceDigest("primary", "/registry/").keys >= 301);
        dataRevision = Number(lab.etcdctl("primary", primary[0], "endpoint status -w fields | sed -n 's/^\"Revision\" : //p'").trim());
        assert.ok(dataRevision >= 302, String(dataRevision));
    });

    it("installs the backup timer on every primary control-plane node, and the timer commits a snapshot", async () => {
        for (const node of primary) {
            assert.match(lab.ok("primary", node, "etcd-dr install-timer"), /etcd-dr-backup.timer enabled: OnCalendar=\*:\*:0\/10/);
            const timer = lab.ok("primary", node, "systemctl show etcd-dr-backup.timer -p Persistent -p RandomizedDelayUSec -p ActiveState");
            assert.match(timer, /Persistent=yes/);
            assert.match(timer, /ActiveState=active/);
        }
        snapshotId = await waitFor("a scheduled snapshot in the replica", 120_000, () => {
            const run = lab.ssh("standby", standby[0], "etcd-dr list --json");
            if (run.status !== 0) return undefined;
            const ids = (JSON.parse(run.stdout) as { id: string; revision: number }[]).filter((s) => s.revision >= dataRevision);
            return ids[0]?.id;
        });
        // Exactly one member (the leader) took it; the others skipped.
        const results = primary.map((node) => lab.ssh("primary", node, "cat /var/lib/etcd-dr/backup-last-run.json").stdout);
        assert.ok(results.some((r) => r.includes('"result": "success"')), results.join("\n"));
        assert.ok(results.some((r) => r.includes('"result": "skipped"')), results.join("\n"));
        const journal = primary.map((node) => lab.ssh("primary", node, "journalctl -u etcd-dr-backup.service --no-pager").stdout).join("\n");
        assert.match(journal, /committed snapshot \d{8}T\d{6}Z-r\d+/);
        for (const node of primary) lab.ok("primary", node, "etcd-dr remove-timer");
    });

    it("records the last success in the status file and the Prometheus metrics", () => {
        const leader = primary.find((node) => lab.ssh("primary", node, "cat /var/lib/etcd-dr/backup-last-success.json").status === 0);
        assert.ok(leader, "the leader keeps backup-last-success.json");
        const metrics = lab.ok("primary", leader, "cat /var/lib/prometheus/node-exporter/etcd_dr.prom");
        const value = (name: string) => Number(new RegExp(`^${name}\\{cluster="lab"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
        assert.ok(value("etcd_dr_backup_last_success_timestamp_seconds") > 1_700_000_000, metrics);
        assert.ok(value("etcd_dr_backup_last_size_bytes") > 200_000, metrics);
        assert.ok(value("etcd_dr_backup_last_revision") >= dataRevision, metrics);
        assert.strictEqual(value("etcd_dr_backup_last_run_success"), 1);
        assert.match(lab.ok("primary", leader, "etcd-dr status"), /"backup-last-success": \{"time": \d+, "id": "\d{8}T\d{6}Z-r\d+"/);
    });

    it("lists the snapshot from a standby node and verifies it", () => {
        const listing = lab.ok("standby", standby[0], "etcd-dr list");
        assert.match(listing, new RegExp(`^${snapshotId} `, "m"));
        assert.match(lab.ok("standby", standby[0], `etcd-dr verify ${snapshotId}`), new RegExp(`^snapshot ${snapshotId} verified: revision \\d+, \\d+ keys, members cp1,cp2,cp3$`, "m"));
        const manifest = JSON.parse(replicaObject(snapshotId, "manifest.json").toString("utf8")) as SnapshotManifest;
        assert.deepStrictEqual(manifestProblems(manifest, snapshotId), []);
        assert.strictEqual(manifest.encryption, "aes-256-cbc-pbkdf2");
        assert.deepStrictEqual(manifest.objects.map((o) => o.name), ["snapshot.db.gz.enc", "pki.tar.gz.enc"]);
    });

    describe("refusals, each leaving the standby untouched", () => {
        let before = "";
        beforeEach(() => {
            before = etcdState("standby");
        });
        afterEach(() => {
            assert.strictEqual(etcdState("standby"), before, "the standby's etcd changed");
            assert.match(lab.etcdctl("standby", standby[0], `get ${SENTINEL}`), /warm-standby/);
        });

        it("refuses an id that does not exist", () => {
            refuse(standby[0], "etcd-dr restore prepare 20200101T000000Z-r1", /snapshot 20200101T000000Z-r1 does not exist in the store/);
            refuse(standby[0], "etcd-dr restore prepare latest", /'latest' is not a snapshot id/);
        });

        it("does not list, and refuses, a snapshot whose manifest is missing", async () => {
            const id = "20200101T000001Z-r302";
            await upload(id, { "snapshot.db.gz.enc": replicaObject(snapshotId, "snapshot.db.gz.enc"), "pki.tar.gz.enc": replicaObject(snapshotId, "pki.tar.gz.enc") }, "pki.tar.gz.enc");
            assert.doesNotMatch(lab.ok("standby", standby[0], "etcd-dr list"), new RegExp(id));
            refuse(standby[0], `etcd-dr restore prepare ${id}`, /does not exist in the store \(no committed manifest.json\)/);
        });

        it("refuses a corrupted snapshot object at prepare", async () => {
            const id = "20200101T000002Z-r" + snapshotId.split("-r")[1];
            const data = Buffer.from(replicaObject(snapshotId, "snapshot.db.gz.enc"));
            data[Math.floor(data.length / 2)] ^= 0xff;
            const manifest = replicaObject(snapshotId, "manifest.json").toString("utf8").replace(snapshotId, id);
            await upload(id, { "snapshot.db.gz.enc": data, "pki.tar.gz.enc": replicaObject(snapshotId, "pki.tar.gz.enc"), "manifest.json": Buffer.from(manifest) }, "manifest.json");
            refuse(standby[0], `etcd-dr restore prepare ${id}`, /object snapshot.db.gz.enc of snapshot .* is corrupt/);
        });

        it("refuses a snapshot it cannot decrypt with its key", () => {
            lab.ok("standby", standby[1], `umask 077; openssl rand -hex 32 > /etc/etcd-dr/wrong.key; sed 's#encryption.key#wrong.key#' /etc/etcd-dr/etcd-dr.env > /etc/etcd-dr/wrong.env`);
            refuse(standby[1], `ETCD_DR_ENV=/etc/etcd-dr/wrong.env etcd-dr restore prepare ${snapshotId}`, /cannot be decrypted or decompressed; check ETCD_DR_ENCRYPTION_KEY_FILE/);
        });

        it("refuses a snapshot whose member host names differ from this site's", async () => {
            const id = "20200101T000003Z-r" + snapshotId.split("-r")[1];
            const manifest = replicaObject(snapshotId, "manifest.json").toString("utf8").replace(snapshotId, id).replace('"cp3"', '"cp9"');
            await upload(id, { "snapshot.db.gz.enc": replicaObject(snapshotId, "snapshot.db.gz.enc"), "pki.tar.gz.enc": replicaObject(snapshotId, "pki.tar.gz.enc"), "manifest.json": Buffer.from(manifest) }, "manifest.json");
            refuse(standby[0], `etcd-dr restore prepare ${id}`, /was taken from members cp1,cp2,cp9 but this site's control plane is cp1,cp2,cp3/);
        });

        it("refuses to apply what was not prepared, and to stop for it", () => {
            refuse(standby[0], "etcd-dr restore stop 20200101T000000Z-r1", /is not prepared on this node/);
            refuse(standby[0], "etcd-dr restore apply 20200101T000000Z-r1", /is not prepared on this node/);
        });
    });

    describe("restore on the standby", () => {
        const phases = (id: string) => [
            ...standby.map((n) => [n, `etcd-dr restore prepare ${id}`]),
            ...standby.map((n) => [n, `etcd-dr restore stop ${id}`]),
            ...standby.map((n) => [n, `etcd-dr restore apply ${id}`]),
            ...standby.map((n) => [n, `etcd-dr restore start ${id}`]),
            [standby[0], `etcd-dr restore verify ${id}`],
        ];

        it("restores through prepare, stop, apply, start and verify", () => {
            for (const [node, command] of phases(snapshotId)) {
                lab.ok("standby", node, command);
            }
        });

        it("has the primary's keys and values byte for byte, and not the standby's old ones", () => {
            assert.deepStrictEqual(keyspaceDigest("standby", "/registry/"), keyspaceDigest("primary", "/registry/"));
            assert.strictEqual(lab.etcdctl("standby", standby[1], `get ${SENTINEL}`).trim(), "");
        });

        it("names the members by host name with host-name peer URLs, all healthy", () => {
            const members = lab.etcdctl("standby", standby[2], "member list").trim().split("\n").map((l) => l.split(", "));
            assert.deepStrictEqual(members.map((m) => [m[2], m[3]]).sort(), standby.map((n) => [n, `https://${n}:2380`]));
            const health = lab.etcdctl("standby", standby[0], "endpoint health --cluster 2>&1");
            assert.strictEqual((health.match(/is healthy/g) ?? []).length, 3, health);
        });

        it("installs the primary's service-account keys and keeps the old data dir for rollback", () => {
            const primaryKey = lab.ok("primary", primary[0], "sha256sum /etc/kubernetes/pki/sa.key /etc/kubernetes/pki/sa.pub | cut -d' ' -f1");
            for (const node of standby) {
                assert.strictEqual(lab.ok("standby", node, "sha256sum /etc/kubernetes/pki/sa.key /etc/kubernetes/pki/sa.pub | cut -d' ' -f1"), primaryKey);
                assert.match(lab.ok("standby", node, `ls -d /var/lib/etcd.before-${snapshotId}`), /etcd.before-/);
            }
        });

        it("is a no-op when run a second time", () => {
            const state = etcdState("standby");
            const outputs = phases(snapshotId).map(([node, command]) => lab.ok("standby", node, command));
            for (const out of outputs.slice(standby.length, standby.length * 4)) {
                assert.match(out, /already|nothing/, out);
            }
            assert.strictEqual(etcdState("standby"), state);
        });
    });
});
