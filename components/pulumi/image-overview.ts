// ImageOverview: the seed's images:overview kept in the stack — every tag of an app's repository with its
// digest, created and description, and which of them the workspace runs. The registry is listed when the
// deployed digest changes and on `pulumi refresh`, never on a run that changes nothing. The rows are for
// people (the `images` output, the overview table, their diffs), so their labels are kept printable.
import type * as pulumi from "@pulumi/pulumi";
import { registryAccessKeys } from "../access/registry-access";
import { CachedDynamicResource } from "./dynamic-resource";
import { RegistryAccessInput, registryAccessInputs } from "./registry-access-inputs";
import { ImageOverviewInputs, ImageOverviewOutputs, OverviewRow, listOverview } from "../model/overview-listing";

/** A change of any of these lists again; the registry access whole, so a refresh never uses stale credentials. */
const listingKeys = [...registryAccessKeys, "repository", "deployedDigest", "deployedTag"] as const;

export const imageOverviewProvider: pulumi.dynamic.ResourceProvider<ImageOverviewInputs, ImageOverviewOutputs> = {
    async diff(_id, olds, news) {
        const changed = listingKeys.some((key) => (olds[key] ?? null) !== (news[key] ?? null));
        return { changes: changed, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs) {
        return { id: `${inputs.registry}/${inputs.repository}`, outs: await listOverview(inputs) };
    },
    async update(_id, _olds, news) {
        return { outs: await listOverview(news) };
    },
    async read(id, props) {
        if (!props) {
            throw new Error(`ImageOverview ${id} cannot be imported: it is declared by the program`);
        }
        return { id, props: await listOverview(props) };
    },
};

export interface ImageOverviewArgs {
    access: RegistryAccessInput;
    repository: pulumi.Input<string>;
    deployedDigest: pulumi.Input<string | null>;
    deployedTag?: pulumi.Input<string | null>;
    cacheDir?: pulumi.Input<string>;
}

export class ImageOverview extends CachedDynamicResource {
    declare readonly tags: pulumi.Output<OverviewRow[]>;
    declare readonly listedAt: pulumi.Output<string>;

    constructor(name: string, args: ImageOverviewArgs, opts?: pulumi.CustomResourceOptions) {
        const { access, ...listing } = args;
        super(imageOverviewProvider, name, {
            ...registryAccessInputs(access),
            ...listing,
            tags: undefined,
            listedAt: undefined,
        }, { ...opts, additionalSecretOutputs: ["password"] }, "iac", "ImageOverview");
    }
}
