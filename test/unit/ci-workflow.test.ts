// F15: the shipped CI workflow runs where the sites are reachable. Nodes and API front ends have
// private addresses only, and a preview reads the nodes over SSH: a GitHub-hosted runner reaches
// neither, so every job runs on the self-hosted runner inside the VCN.
import * as assert from "assert";
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { ROOT } from "../helpers/plan";

interface Job {
    "runs-on": string;
    if?: string;
    environment?: string | { name: string };
    env?: Record<string, string>;
    steps: { uses?: string; run?: string; with?: Record<string, unknown> }[];
}

interface Workflow {
    env: Record<string, string>;
    jobs: Record<string, Job>;
}

/** The secrets a piece of the workflow reads (`secrets.NAME`). */
const secretsIn = (part: unknown) => [...JSON.stringify(part ?? {}).matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);
const environmentOf = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);

const workflow = yaml.load(fs.readFileSync(path.join(ROOT, ".github", "workflows", "etcd-dr.yml"), "utf8")) as Workflow;

describe("the CI workflow (F15)", () => {
    it("runs every job on the self-hosted runner in the VCN, never on a hosted one", () => {
        for (const [name, job] of Object.entries(workflow.jobs)) {
            assert.doesNotMatch(job["runs-on"], /ubuntu-|windows-|macos-/, name);
            assert.match(job["runs-on"], /self-hosted/, name);
            assert.match(job["runs-on"], /etcd-dr/, name);
        }
    });

    it("checks drift with a refresh that runs the program and must find no changes, on both stacks", () => {
        const drift = workflow.jobs.drift.steps.find((s) => s.run?.includes("pulumi preview"));
        assert.ok(drift, "the drift job runs pulumi preview");
        for (const flag of ["--refresh", "--run-program", "--expect-no-changes"]) assert.match(drift.run ?? "", new RegExp(`(^| )${flag}( |$)`), flag);
        assert.match(drift.run ?? "", /--stack "\$\{\{ matrix\.stack \}\}"/);
    });

    it("never refreshes without the program: the Kubernetes API is reached through the program's tunnel", () => {
        for (const [name, job] of Object.entries(workflow.jobs)) {
            for (const step of job.steps) assert.notStrictEqual(step.with?.refresh, true, `${name}: the action's refresh does not run the program`);
        }
    });

    it("names the state backend, so the program can check its region", () => {
        assert.ok(workflow.env.PULUMI_BACKEND_URL);
    });

    // Review #30: a pull request's branch is code that runs in the preview; with the production
    // credentials and the state passphrase in its environment, anyone who can push a branch could
    // print them.
    it("runs a pull request's code only in the protected preview environment, with its own read-only credentials", () => {
        assert.deepStrictEqual(secretsIn(workflow.env), ["PULUMI_BACKEND_URL"], "no credential is shared by every job");
        const preview = workflow.jobs.preview;
        assert.match(preview.if ?? "", /github\.event_name == 'pull_request'/);
        assert.strictEqual(environmentOf(preview), "etcd-dr-preview");
        const read = secretsIn(preview);
        assert.ok(read.length > 0, "the preview has credentials of its own");
        for (const name of read) assert.match(name, /^PREVIEW_/, `the preview reads ${name}`);
        const drift = workflow.jobs.drift;
        assert.match(drift.if ?? "", /github\.event_name != 'pull_request'/);
        assert.strictEqual(environmentOf(drift), "etcd-dr-drift");
        for (const name of secretsIn(drift)) assert.doesNotMatch(name, /^PREVIEW_/, `the drift check reads ${name}`);
    });
});
