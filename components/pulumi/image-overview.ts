// ImageOverview: the seed's images:overview kept in the stack — every tag of an app's repository with its
// digest, created and description, and which of them the workspace runs. The rows are for people (the `images`
// output, the overview table, their diffs), so their labels are kept printable. The provider is
// components/providers/image-overview.ts.
import type * as pulumi from "@pulumi/pulumi";
import { LoadedDynamicResource } from "./dynamic-resource";
import { RegistryAccessInput, registryAccessInputs } from "./registry-access-inputs";
import type { OverviewRow } from "../model/overview-listing";

export interface ImageOverviewArgs {
    access: RegistryAccessInput;
    repository: pulumi.Input<string>;
    deployedDigest: pulumi.Input<string | null>;
    deployedTag?: pulumi.Input<string | null>;
    cacheDir?: pulumi.Input<string>;
}

export class ImageOverview extends LoadedDynamicResource {
    declare readonly tags: pulumi.Output<OverviewRow[]>;
    declare readonly listedAt: pulumi.Output<string>;

    constructor(name: string, args: ImageOverviewArgs, opts?: pulumi.CustomResourceOptions) {
        const { access, ...listing } = args;
        super("ImageOverview", name, {
            ...registryAccessInputs(access),
            ...listing,
            tags: undefined,
            listedAt: undefined,
        }, { ...opts, additionalSecretOutputs: ["password"] });
    }
}
