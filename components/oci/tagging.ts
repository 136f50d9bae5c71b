import * as pulumi from "@pulumi/pulumi";
import { isTaggable } from "../../lib/ociTags";

/**
 * Adds the site's free-form tags to every taggable OCI resource below the component it is set on;
 * tags a resource sets itself win.
 */
export function tagResources(tags: Record<string, string>): pulumi.ResourceTransformation {
    return (args) => {
        if (!isTaggable(args.type)) return undefined;
        const own: pulumi.Input<Record<string, string>> | undefined = args.props.freeformTags;
        const freeformTags = own === undefined ? tags : pulumi.output(own).apply((given) => ({ ...tags, ...given }));
        return { props: { ...args.props, freeformTags }, opts: args.opts };
    };
}
