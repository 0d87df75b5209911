// ImageOverview: the seed's images:overview kept in the stack — every tag of an app's repository with its
// digest, created and description, and which of them the workspace runs. The rows are for people (the `images`
// output, the overview table, their diffs), so their labels are kept printable. The provider is
// components/providers/image-overview.ts.
import type * as pulumi from "@pulumi/pulumi";
import { secret } from "@pulumi/pulumi/output";
import { LoadedDynamicResource } from "./dynamic-resource";
import type { OverviewRow } from "../model/overview-listing";

export interface ImageOverviewArgs {
    registry: pulumi.Input<string>;
    repository: pulumi.Input<string>;
    deployedDigest: pulumi.Input<string | null>;
    deployedTag?: pulumi.Input<string | null>;
    platform?: pulumi.Input<string>;
    insecure?: pulumi.Input<boolean>;
    username?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    cacheDir?: pulumi.Input<string>;
}

export class ImageOverview extends LoadedDynamicResource {
    declare readonly tags: pulumi.Output<OverviewRow[]>;
    declare readonly listedAt: pulumi.Output<string>;

    constructor(name: string, args: ImageOverviewArgs, opts?: pulumi.CustomResourceOptions) {
        super("ImageOverview", name, {
            ...args,
            password: args.password ? secret(args.password) : undefined,
            tags: undefined,
            listedAt: undefined,
        }, { ...opts, additionalSecretOutputs: ["password"] });
    }
}
