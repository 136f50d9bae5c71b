import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { homeRegionOf } from "../../lib/ociIam";
import { providerSettingsFromConfig, SECRET_PROVIDER_KEYS } from "../../lib/ociProvider";

/**
 * An OCI provider for another region than the stack's, authenticated like the stack's default
 * provider: an explicit provider would otherwise ignore every `oci:*` key of the stack.
 */
export function regionProvider(name: string, region: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): oci.Provider {
    const settings = providerSettingsFromConfig((key) => pulumi.runtime.getConfig(key));
    const args: oci.ProviderArgs = { ...settings, region };
    for (const key of SECRET_PROVIDER_KEYS) {
        const value = settings[key];
        if (value !== undefined) args[key] = pulumi.secret(value);
    }
    return new oci.Provider(name, args, opts);
}

export interface HomeRegionSource {
    /** Given by config: no lookup. */
    homeRegion?: string;
    /** The tenancy, when config names it. */
    tenancyId?: string;
    /** Where to start looking for the tenancy otherwise: its compartments lead up to it. */
    compartmentId: string;
}

/** Compartments nest at most six deep under the tenancy. */
const MAX_COMPARTMENT_DEPTH = 7;

async function tenancyOf(compartmentId: string, opts: pulumi.InvokeOptions): Promise<string> {
    let id = compartmentId;
    for (let depth = 0; depth <= MAX_COMPARTMENT_DEPTH; depth++) {
        if (id.startsWith("ocid1.tenancy.")) return id;
        id = (await oci.identity.getCompartment({ id }, opts)).compartmentId;
    }
    throw new Error(`no tenancy found above compartment ${compartmentId}; set etcd-dr:homeRegion to the tenancy's home region`);
}

/**
 * The tenancy's home region, where OCI accepts IAM writes (from config, or from the tenancy's
 * region subscriptions). Any region answers these reads.
 */
export function homeRegion(source: HomeRegionSource, opts: pulumi.InvokeOptions): pulumi.Output<string> {
    if (source.homeRegion) return pulumi.output(source.homeRegion);
    const tenancyId = source.tenancyId ? Promise.resolve(source.tenancyId) : tenancyOf(source.compartmentId, opts);
    return pulumi.output(tenancyId).apply(async (id) => {
        const { regionSubscriptions } = await oci.identity.getRegionSubscriptions({ tenancyId: id }, opts);
        const region = homeRegionOf(regionSubscriptions);
        if (!region) {
            throw new Error(`tenancy ${id} reports no home region; set etcd-dr:homeRegion to it`);
        }
        return region;
    });
}
