// The ImageOverview provider: lists an app's repository (every tag with its digest, created and description, and
// which of them the workspace runs) when the deployed digest changes and on `pulumi refresh`, never on a run that
// changes nothing. Run by the engine's dynamic-provider process (components/providers/load.js).
import type * as pulumi from "@pulumi/pulumi";
import { registryAccessKeys } from "../access/registry-access";
import { ImageOverviewInputs, ImageOverviewOutputs, listOverview } from "../model/overview-listing";
import { stamped } from "./interface-version";
import { sharedListing } from "./shared-registry-reads";

/** A change of any of these lists again; the registry access whole, so a refresh never uses stale credentials. */
const listingKeys = [...registryAccessKeys, "repository", "deployedDigest", "deployedTag"] as const;

export const imageOverviewProvider: pulumi.dynamic.ResourceProvider<ImageOverviewInputs, ImageOverviewOutputs> = stamped("ImageOverview", {
    async diff(_id, olds, news) {
        const changed = listingKeys.some((key) => (olds[key] ?? null) !== (news[key] ?? null));
        return { changes: changed, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs) {
        return { id: `${inputs.registry}/${inputs.repository}`, outs: await listOverview(inputs, sharedListing) };
    },
    async update(_id, _olds, news) {
        return { outs: await listOverview(news, sharedListing) };
    },
    async read(id, props) {
        if (!props) {
            throw new Error(`ImageOverview ${id} cannot be imported: it is declared by the program`);
        }
        return { id, props: await listOverview(props, sharedListing) };
    },
});
