// Rules for OCI config values that OCI itself enforces late (at apply time, or silently). The config
// loader checks them first, so a wrong value costs one line at preview instead of a failed `up`.

/**
 * An OCI region identifier. Real identifiers have more than three parts (us-gov-ashburn-1,
 * eu-dcc-milan-1, uk-gov-london-1), so any number of lower-case words may come before the number.
 */
const OCI_REGION = /^[a-z]{2,}(-[a-z]+)+-\d+$/;

export function isOciRegion(value: string): boolean {
    return OCI_REGION.test(value);
}

/**
 * Region keys of the commercial realm, as they appear in OCIDs ("ocid1.key.oc1.iad...."). Only used
 * to catch a resource from the other site's region; a region missing here is simply not checked.
 */
const REGION_KEYS: Record<string, string> = {
    "af-johannesburg-1": "jnb",
    "ap-chuncheon-1": "yny",
    "ap-hyderabad-1": "hyd",
    "ap-melbourne-1": "mel",
    "ap-mumbai-1": "bom",
    "ap-osaka-1": "kix",
    "ap-seoul-1": "icn",
    "ap-singapore-1": "sin",
    "ap-singapore-2": "xsp",
    "ap-sydney-1": "syd",
    "ap-tokyo-1": "nrt",
    "ca-montreal-1": "yul",
    "ca-toronto-1": "yyz",
    "eu-amsterdam-1": "ams",
    "eu-frankfurt-1": "fra",
    "eu-madrid-1": "mad",
    "eu-marseille-1": "mrs",
    "eu-milan-1": "lin",
    "eu-paris-1": "cdg",
    "eu-stockholm-1": "arn",
    "eu-zurich-1": "zrh",
    "il-jerusalem-1": "mtz",
    "me-abudhabi-1": "auh",
    "me-dubai-1": "dxb",
    "me-jeddah-1": "jed",
    "me-riyadh-1": "ruh",
    "mx-monterrey-1": "mty",
    "mx-queretaro-1": "qro",
    "sa-bogota-1": "bog",
    "sa-santiago-1": "scl",
    "sa-saopaulo-1": "gru",
    "sa-valparaiso-1": "vap",
    "sa-vinhedo-1": "vcp",
    "uk-cardiff-1": "cwl",
    "uk-london-1": "lhr",
    "us-ashburn-1": "iad",
    "us-chicago-1": "ord",
    "us-phoenix-1": "phx",
    "us-sanjose-1": "sjc",
};

/** ocid1.<type>.<realm>.<region>.<...>: the resource type, or undefined when it is no OCID. */
export function ocidType(ocid: string): string | undefined {
    return /^ocid1\.([a-z0-9]+)\.[a-z0-9]+\.[a-z0-9-]*\.[a-z0-9.]+$/.exec(ocid)?.[1];
}

/**
 * The region an OCID names, when it names one we can compare: OCIDs carry either the region
 * identifier or its lower-case key. Undefined when the OCID is regionless or the key is unknown.
 */
export function ocidRegion(ocid: string): string | undefined {
    const segment = ocid.split(".")[3];
    if (!segment) return undefined;
    if (isOciRegion(segment)) return segment;
    return Object.keys(REGION_KEYS).find((region) => REGION_KEYS[region] === segment);
}

/** One line when a regional resource (an image, a Vault key) belongs to another region than the site. */
export function regionMismatch(key: string, ocid: string, region: string): string | undefined {
    const named = ocidRegion(ocid);
    if (!named || named === region) return undefined;
    return `${key} '${ocid}' is in ${named} but this site is in ${region}; use one from ${region} (it is a regional resource)`;
}

/**
 * RFC 3339 as Go's time.RFC3339 parses it: the provider rejects a time without a zone offset, long
 * after the preview said nothing.
 */
export function isRfc3339(value: string): boolean {
    return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value));
}

/** What the generic loader already accepts as a time; only those get the stricter OCI message. */
export function looksLikeTime(value: string): boolean {
    return !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T/.test(value);
}
