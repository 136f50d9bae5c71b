import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { PlannedHost } from "../../lib/layout";

export interface ApiFrontEndArgs {
    compartmentId: pulumi.Input<string>;
    /** The control-plane subnet: the front end lives next to its backends. */
    subnetId: pulumi.Input<string>;
    nsgId: pulumi.Input<string>;
    /** Its fixed private address, what the API alias resolves to on every node of the site. */
    address: string;
    /** The control-plane nodes, at their fixed addresses. */
    controlPlane: PlannedHost[];
}

/** kube-apiserver answers /readyz to anonymous callers (system:public-info-viewer) once it serves. */
export const API_HEALTH_CHECK = { protocol: "HTTPS", port: 6443, urlPath: "/readyz", returnCode: 200, intervalInMillis: 10_000, timeoutInMillis: 3_000, retries: 3 };

/**
 * The site's Kubernetes API front end, as the playbook has it: a private OCI Network Load Balancer
 * on 6443 over every control-plane node, so the site keeps its API when any one node is down
 * (F12). It passes TLS through untouched (kube-apiserver's certificate names the API alias), and
 * does not preserve the client's address: a control-plane node that calls the alias may then be
 * sent to itself.
 */
export class ApiFrontEnd extends pulumi.ComponentResource {
    readonly loadBalancer: oci.networkloadbalancer.NetworkLoadBalancer;
    readonly address: string;

    constructor(name: string, args: ApiFrontEndArgs, opts?: pulumi.ComponentResourceOptions) {
        super("etcd-dr:network:ApiFrontEnd", name, {}, opts);
        this.address = args.address;
        this.loadBalancer = new oci.networkloadbalancer.NetworkLoadBalancer(`${name}-nlb`, {
            compartmentId: args.compartmentId,
            displayName: name,
            subnetId: args.subnetId,
            isPrivate: true,
            assignedPrivateIpv4: args.address,
            networkSecurityGroupIds: [args.nsgId],
            isPreserveSourceDestination: false,
        }, { parent: this });
        const backendSet = new oci.networkloadbalancer.BackendSet(`${name}-control-plane`, {
            networkLoadBalancerId: this.loadBalancer.id,
            name: "control-plane",
            policy: "FIVE_TUPLE",
            isPreserveSource: false,
            healthChecker: API_HEALTH_CHECK,
        }, { parent: this });
        const backends = args.controlPlane.map((host) =>
            new oci.networkloadbalancer.Backend(`${name}-${host.name}`, {
                networkLoadBalancerId: this.loadBalancer.id,
                backendSetName: backendSet.name,
                ipAddress: host.ip,
                port: 6443,
            }, { parent: this }),
        );
        new oci.networkloadbalancer.Listener(`${name}-listener`, {
            networkLoadBalancerId: this.loadBalancer.id,
            name: "kubernetes-api",
            defaultBackendSetName: backendSet.name,
            port: 6443,
            protocol: "TCP",
        }, { parent: this, dependsOn: backends });
        this.registerOutputs({ address: this.address, loadBalancerId: this.loadBalancer.id });
    }
}
