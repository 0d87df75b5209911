// ImageOverview: the seed's images:overview kept in the stack — every tag of an app's repository with its
// digest, created and description, and which of them the workspace runs. The registry is listed when the
// deployed digest changes and on `pulumi refresh`, never on a run that changes nothing. The rows are for
// people (the `images` output, the overview table, their diffs), so their labels are kept printable.
import * as pulumi from "@pulumi/pulumi";
import { printableLabels } from "./printable";
import { credentialsOf } from "./registry/auth";
import { DigestCache } from "./registry/cache";
import { RegistryClient, defaultPlatform } from "./registry/client";
import { TagRow, listRepositoryTags, newestFirst } from "./registry/listing";

export interface OverviewRow extends TagRow {
    /** The row's digest is the one in the workspace's deploy-info.yml. */
    deployed: boolean;
    /** No tag names the deployed digest any more: the row stands for it, so the arrow still marks what runs. */
    untagged?: boolean;
    /** The tag deploy-info.yml names, now pointing at another image. */
    moved?: boolean;
}

export interface ImageOverviewInputs {
    registry: string;
    repository: string;
    /** From the record the deploy wrote; null before the first deploy. */
    deployedDigest: string | null;
    /** The tag the record names, to say when it moved off the deployed digest. */
    deployedTag?: string | null;
    platform?: string;
    insecure?: boolean;
    username?: string;
    password?: string;
    /** Where immutable manifests and config blobs are kept between runs; default ~/.cache/iac/registry. */
    cacheDir?: string;
}

export interface ImageOverviewOutputs extends ImageOverviewInputs {
    tags: OverviewRow[];
    listedAt: string;
}

/** Lists the repository, newest first (by the exact created label), marking the deployed digest. */
export async function listOverview(inputs: ImageOverviewInputs): Promise<ImageOverviewOutputs> {
    const client = new RegistryClient({
        registry: inputs.registry,
        insecure: inputs.insecure ?? false,
        credentials: credentialsOf(inputs.username, inputs.password),
        cache: new DigestCache(inputs.cacheDir),
    });
    const platform = inputs.platform ?? defaultPlatform;
    const rows: OverviewRow[] = (await listRepositoryTags(client, inputs.repository, { platform })).map((row) => ({
        ...row,
        deployed: row.digest !== null && row.digest === inputs.deployedDigest,
        ...(inputs.deployedTag && row.tag === inputs.deployedTag && row.digest !== inputs.deployedDigest ? { moved: true } : {}),
    }));
    const deployed = inputs.deployedDigest;
    if (deployed && !rows.some((row) => row.deployed)) {
        // Deleted from the registry is possible too (it keeps running); then its labels are unknown.
        const labels = await client.imageMetadata(inputs.repository, deployed, platform)
            .catch(() => ({ description: null, created: null, revision: null, source: null }));
        rows.push({ repository: inputs.repository, tag: "", digest: deployed, ...labels, deployed: true, untagged: true });
    }
    return {
        ...inputs,
        tags: newestFirst(rows).map((row) => ({ ...row, ...printableLabels(row) })),
        listedAt: new Date().toISOString(),
    };
}

/** A change of any of these lists again; credentials included, so a refresh never uses stale ones. */
const listingKeys = ["registry", "repository", "deployedDigest", "deployedTag", "platform", "insecure", "username", "password"] as const;

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

export class ImageOverview extends pulumi.dynamic.Resource {
    declare readonly tags: pulumi.Output<OverviewRow[]>;
    declare readonly listedAt: pulumi.Output<string>;

    constructor(name: string, args: ImageOverviewArgs, opts?: pulumi.CustomResourceOptions) {
        super(imageOverviewProvider, name, {
            ...args,
            password: args.password ? pulumi.secret(args.password) : undefined,
            tags: undefined,
            listedAt: undefined,
        }, { ...opts, additionalSecretOutputs: ["password"] }, "iac", "ImageOverview");
    }
}
