// The offline engine end to end: CLI, language host, random and command providers, a remote
// command over real SSH, and replacement when `triggers` change -- what RestoreFromSnapshot relies on.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiProject } from "../helpers/pulumi";
import { startSshd, Sshd } from "../helpers/sshd";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "engine-smoke");
const NODE_MODULES = path.resolve(__dirname, "..", "..", "node_modules");

interface PreviewStep {
    op: string;
    urn: string;
}

describe("offline Pulumi engine smoke test", function () {
    this.timeout(300_000);
    let sshd: Sshd;
    let work: string;
    let project: PulumiProject;
    let proof: string;

    before(async () => {
        sshd = await startSshd();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-dr-smoke-"));
        const dir = path.join(work, "project");
        fs.mkdirSync(dir);
        for (const file of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, file), path.join(dir, file));
        fs.symlinkSync(NODE_MODULES, path.join(dir, "node_modules"));
        fs.mkdirSync(path.join(work, "state"));
        proof = path.join(work, "proof.log");
        project = new PulumiProject(dir, { PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`, PULUMI_CONFIG_PASSPHRASE: "smoke" });
        project.ok(["stack", "init", "smoke"]);
        for (const [key, value] of Object.entries({ marker: "one", proofFile: proof, sshHost: sshd.host, sshPort: String(sshd.port), sshUser: sshd.user })) {
            project.ok(["config", "set", key, value]);
        }
        project.ok(["config", "set", "--secret", "sshPrivateKey"], sshd.privateKey);
    });

    after(() => {
        sshd?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    const proofLines = () => fs.readFileSync(proof, "utf8").trim().split("\n");

    it("creates a RandomPet, a local command and a remote command over SSH", () => {
        const up = project.ok(["up", "--yes", "--skip-preview"]);
        assert.match(up.stdout, /\+ 4 created/);
        const outputs = JSON.parse(project.ok(["stack", "output", "--json"]).stdout) as Record<string, string>;
        assert.match(outputs.petName, /^[a-z]+-[a-z]+$/);
        assert.strictEqual(outputs.localStdout, `local one ${outputs.petName}`);
        assert.strictEqual(outputs.remoteStdout, os.hostname());
        assert.deepStrictEqual(proofLines(), ["created one"]);
    });

    it("previews no changes for an unchanged stack", () => {
        project.ok(["preview", "--expect-no-changes"]);
    });

    it("keeps the SSH key a secret in the state", () => {
        const state = project.ok(["stack", "export"]).stdout;
        assert.ok(!state.includes(sshd.privateKey.split("\n")[1]), "the private key is in the state in clear text");
    });

    it("previews a replacement of both commands when the trigger changes", () => {
        project.ok(["config", "set", "marker", "two"]);
        const changed = project.run(["preview", "--expect-no-changes"]);
        assert.notStrictEqual(changed.status, 0, "a changed trigger must fail --expect-no-changes");
        const preview = JSON.parse(project.ok(["preview", "--json"]).stdout) as { steps: PreviewStep[] };
        const replaced = preview.steps.filter((s) => s.op === "replace").map((s) => s.urn.split("::").pop()).sort();
        assert.deepStrictEqual(replaced, ["local", "remote"]);
    });

    it("replaces them on up: the remote side effect runs again and the old one is deleted", () => {
        const up = project.ok(["up", "--yes", "--skip-preview"]);
        assert.match(up.stdout, /\+-2 replaced/);
        assert.deepStrictEqual(proofLines(), ["created one", "created two", `deleted ${os.hostname()}`]);
    });

    it("destroys everything, running the remote delete command", () => {
        project.ok(["destroy", "--yes"]);
        assert.deepStrictEqual(proofLines().slice(-1), [`deleted ${os.hostname()}`]);
        assert.strictEqual(proofLines().length, 4);
        project.ok(["stack", "rm", "--yes", "smoke"]);
    });
});
