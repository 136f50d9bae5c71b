import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";

// Where the Pulumi state lives, as far as it decides whether a failover can run. The standby's
// `pulumi up` reads and writes its own state and reads the primary's outputs: a backend in the
// primary's region fails together with the site the standby must replace.

/** The OCI region of an Object Storage endpoint in a backend URL (native or S3-compatible), if any. */
export function objectStorageRegion(backendUrl: string): string | undefined {
    const hosts = [backendUrl];
    const query = backendUrl.indexOf("?");
    if (query >= 0) {
        const endpoint = new URLSearchParams(backendUrl.slice(query + 1)).get("endpoint");
        if (endpoint) hosts.unshift(endpoint);
    }
    for (const host of hosts) {
        const match = /(?:^|[/.@])objectstorage\.([a-z]{2,}(?:-[a-z]+)+-\d+)\.oci\.customer-oci\.com|(?:^|[/.@])objectstorage\.([a-z]{2,}(?:-[a-z]+)+-\d+)\.oraclecloud\.com/.exec(host);
        if (match) return match[1] ?? match[2];
    }
    return undefined;
}

/** The backend URL the CLI was given: PULUMI_BACKEND_URL, else the project file's `backend.url`. */
export function configuredBackendUrl(env: Record<string, string | undefined>, projectFile?: { backend?: { url?: unknown } }): string | undefined {
    const fromEnv = env.PULUMI_BACKEND_URL?.trim();
    if (fromEnv) return fromEnv;
    const fromProject = projectFile?.backend?.url;
    return typeof fromProject === "string" && fromProject.trim() ? fromProject.trim() : undefined;
}

/** The backend of the `pulumi` run this program is part of (it runs in the project directory). */
export function currentBackendUrl(projectDir: string = process.cwd()): string | undefined {
    let project: { backend?: { url?: unknown } } | undefined;
    try {
        project = yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as typeof project;
    } catch {
        project = undefined;
    }
    return configuredBackendUrl(process.env, project);
}

export interface BackendCheck {
    errors: string[];
    warnings: string[];
}

/**
 * One line when the state would fail with a site: an error when it lives in the primary's region
 * (the standby could neither read the primary's outputs nor record its own failover), a warning
 * when it lives in the standby's (the primary keeps running, but neither stack can be changed).
 */
export function checkStateBackend(backendUrl: string | undefined, primaryRegion?: string, standbyRegion?: string): BackendCheck {
    const result: BackendCheck = { errors: [], warnings: [] };
    const region = backendUrl ? objectStorageRegion(backendUrl) : undefined;
    if (!region) return result;
    if (region === primaryRegion) {
        result.errors.push(
            `the Pulumi state is in ${region}, the primary's region: when that region fails, the standby can neither read the primary's outputs nor run its failover; move the state to a bucket in a third region (or Pulumi Cloud) with \`pulumi stack export\`/\`import\``,
        );
    } else if (region === standbyRegion) {
        result.warnings.push(
            `the Pulumi state is in ${region}, the standby's region: if that region fails, neither stack can be updated until it is back; a third region keeps both manageable`,
        );
    }
    return result;
}
