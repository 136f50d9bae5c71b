import * as command from "@pulumi/command";
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { serviceGrantPolicyName } from "../../lib/ociIam";

export interface ServiceGrantsArgs {
    clusterName: string;
    stack: string;
    /** Where the policy is attached: the site's compartment or an ancestor of it. */
    compartmentId: pulumi.Input<string>;
    statements: pulumi.Input<string[]>;
    /** A provider in the tenancy's home region: OCI refuses IAM writes anywhere else. */
    homeProvider: oci.Provider;
    description: string;
}

/** IAM changes reach Object Storage in the other regions with a delay; a create right after fails. */
export const IAM_PROPAGATION_SECONDS = 60;

/**
 * The IAM policy that lets Object Storage act on a site's bucket (lifecycle, replication, Vault
 * key), written in the home region. `ready` completes once the statements had time to propagate;
 * everything that needs a grant depends on it.
 */
export class ServiceGrants extends pulumi.ComponentResource {
    readonly policy: oci.identity.Policy;
    readonly ready: pulumi.Resource;

    constructor(name: string, args: ServiceGrantsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:iam:ServiceGrants", name, {}, opts);
        this.policy = new oci.identity.Policy(`${name}-object-storage`, {
            compartmentId: args.compartmentId,
            name: serviceGrantPolicyName(args.clusterName, args.stack),
            description: args.description,
            statements: args.statements,
        }, { parent: this, provider: args.homeProvider });
        // Runs again only when the statements change, i.e. when there is something new to propagate.
        this.ready = new command.local.Command(`${name}-propagation`, {
            create: `sleep ${IAM_PROPAGATION_SECONDS}`,
            triggers: [args.statements],
        }, { parent: this, dependsOn: [this.policy] });
        this.registerOutputs({ policyId: this.policy.id, statements: args.statements });
    }
}
