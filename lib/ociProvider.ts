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
