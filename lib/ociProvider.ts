// An explicit `oci.Provider` takes its settings from its arguments and the environment only, never
// from the stack's `oci:*` keys. The program's explicit providers (the home region for IAM, the
// source region for replication) copy those keys, so they authenticate exactly as the stack's
// default provider does.

/** Provider settings read from `oci:<key>`, by type. `region` is left out: each provider sets its own. */
const STRING_KEYS = [
    "auth",
    "configFileProfile",
    "fingerprint",
    "privateKey",
    "privateKeyPassword",
    "privateKeyPath",
    "retriesConfigFile",
    "tenancyOcid",
    "userOcid",
    "tokenExchangeAuth",
    "tokenExchangeClientId",
    "tokenExchangeClientSecret",
    "tokenExchangeDomainUrl",
    "tokenExchangePublicKey",
    "tokenExchangeRequestedTokenType",
    "tokenExchangeResourceType",
    "tokenExchangeRpstExp",
    "tokenExchangeSubjectTokenType",
    "workloadIdentityTokenPath",
] as const;
const BOOLEAN_KEYS = ["disableAutoRetries", "dualStackEndpointEnabled", "realmSpecificServiceEndpointTemplateEnabled"] as const;
const NUMBER_KEYS = ["retryDurationSeconds"] as const;
const LIST_KEYS = ["ignoreDefinedTags"] as const;

/** Settings that are credentials: they stay secrets in the explicit provider's inputs and the state. */
export const SECRET_PROVIDER_KEYS = ["privateKey", "privateKeyPassword", "tokenExchangeClientSecret"] as const;

export type ProviderSettings = Partial<
    Record<(typeof STRING_KEYS)[number], string> &
        Record<(typeof BOOLEAN_KEYS)[number], boolean> &
        Record<(typeof NUMBER_KEYS)[number], number> &
        Record<(typeof LIST_KEYS)[number], string[]>
>;

/** The stack's `oci:*` settings (`get` takes the full key, e.g. "oci:tenancyOcid"). Unset keys are left out. */
export function providerSettingsFromConfig(get: (key: string) => string | undefined): ProviderSettings {
    const settings: ProviderSettings = {};
    const value = (key: string) => {
        const raw = get(`oci:${key}`);
        return raw === undefined || raw === "" ? undefined : raw;
    };
    for (const key of STRING_KEYS) {
        const raw = value(key);
        if (raw !== undefined) settings[key] = raw;
    }
    for (const key of BOOLEAN_KEYS) {
        const raw = value(key);
        if (raw !== undefined) settings[key] = raw === "true";
    }
    for (const key of NUMBER_KEYS) {
        const raw = value(key);
        if (raw !== undefined && !Number.isNaN(Number(raw))) settings[key] = Number(raw);
    }
    for (const key of LIST_KEYS) {
        const raw = value(key);
        if (raw === undefined) continue;
        try {
            const parsed: unknown = JSON.parse(raw);
            if (Array.isArray(parsed)) settings[key] = parsed.map(String);
        } catch {
            // Not a list: the stack's default provider reports the same key itself.
        }
    }
    return settings;
}

/**
 * The OCI CLI's names for the provider's `auth` values. The CLI has no token-exchange or
 * certificate-file instance principal; a stack that authenticates that way sets OCI_CLI_* itself.
 */
const CLI_AUTH: Record<string, string> = {
    ApiKey: "api_key",
    InstancePrincipal: "instance_principal",
    SecurityToken: "security_token",
    ResourcePrincipal: "resource_principal",
    OKEWorkloadIdentity: "oke_workload_identity",
};

/** Which OCI CLI environment variable carries which provider setting. */
const CLI_VARIABLES: [keyof ProviderSettings, string][] = [
    ["tenancyOcid", "OCI_CLI_TENANCY"],
    ["userOcid", "OCI_CLI_USER"],
    ["fingerprint", "OCI_CLI_FINGERPRINT"],
    ["privateKey", "OCI_CLI_KEY_CONTENT"],
    ["privateKeyPath", "OCI_CLI_KEY_FILE"],
    ["privateKeyPassword", "OCI_CLI_PASSPHRASE"],
    ["configFileProfile", "OCI_CLI_PROFILE"],
];

/**
 * The environment that makes the OCI CLI authenticate as the stack's default provider does, for
 * the one call the provider has no resource for (MakeBucketWritable). Keys the stack does not set
 * are left out, so the CLI falls back to ~/.oci/config and to the variables of the environment.
 */
export function ociCliEnvironment(settings: ProviderSettings): { environment: Record<string, string>; secrets: string[]; problems: string[] } {
    const environment: Record<string, string> = {};
    const secrets: string[] = [];
    for (const [key, variable] of CLI_VARIABLES) {
        const value = settings[key];
        if (typeof value !== "string") continue;
        environment[variable] = value;
        if ((SECRET_PROVIDER_KEYS as readonly string[]).includes(key)) secrets.push(variable);
    }
    const problems: string[] = [];
    if (settings.auth) {
        const auth = CLI_AUTH[settings.auth];
        if (auth) environment.OCI_CLI_AUTH = auth;
        else problems.push(`oci:auth '${settings.auth}' has no OCI CLI equivalent; set OCI_CLI_AUTH and the CLI's credentials in the environment that runs pulumi up`);
    }
    return { environment, secrets, problems };
}

/**
 * The provider's environment variables (TF_VAR_*, OCI_*), mapped onto the CLI's at run time by the
 * command itself: read there, they never enter the command's inputs or the state.
 */
export const CLI_FALLBACK_VARIABLES: [string, string[]][] = [
    ["OCI_CLI_TENANCY", ["TF_VAR_tenancy_ocid", "OCI_TENANCY_OCID"]],
    ["OCI_CLI_USER", ["TF_VAR_user_ocid", "OCI_USER_OCID"]],
    ["OCI_CLI_FINGERPRINT", ["TF_VAR_fingerprint", "OCI_FINGERPRINT"]],
    ["OCI_CLI_KEY_CONTENT", ["TF_VAR_private_key", "OCI_PRIVATE_KEY"]],
    ["OCI_CLI_KEY_FILE", ["TF_VAR_private_key_path", "OCI_PRIVATE_KEY_PATH"]],
    ["OCI_CLI_PASSPHRASE", ["TF_VAR_private_key_password", "OCI_PRIVATE_KEY_PASSWORD"]],
];
