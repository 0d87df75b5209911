// The listing behind images:overview — every tag of a repository, newest first, the deployed digest marked — shared
// by the ImageOverview resource (./image-overview) and the images:overview command, which must start without
// loading @pulumi/pulumi.
import { printableLabels } from "./overview";
import { RegistryAccessFields, registryAccessOf } from "../access/registry-access";
import { registryClient } from "../access/registry-client";
import { DigestCache } from "../registry/cache";
import { TagRow, listRepositoryTags, newestFirst } from "../registry/listing";

export interface OverviewRow extends TagRow {
    /** The row's digest is the one in the workspace's deploy-info.yml. */
    deployed: boolean;
    /** No tag names the deployed digest any more: the row stands for it, so the arrow still marks what runs. */
    untagged?: boolean;
    /** The tag deploy-info.yml names, now pointing at another image. */
    moved?: boolean;
}

/** The registry access (flat, as ImageOverview's state holds it) and what to list. */
export interface ImageOverviewInputs extends RegistryAccessFields {
    repository: string;
    /** From the record the deploy wrote; null before the first deploy. */
    deployedDigest: string | null;
    /** The tag the record names, to say when it moved off the deployed digest. */
    deployedTag?: string | null;
    /** Where immutable manifests and config blobs are kept between runs; by default the user's (components/cache-home.js), or none. */
    cacheDir?: string;
}

export interface ImageOverviewOutputs extends ImageOverviewInputs {
    tags: OverviewRow[];
    listedAt: string;
}

/** The deployed tag's row names another image, or none; an unreadable manifest's image is unknown, so not "another". */
function movedOff(row: TagRow, deployedDigest: string | null): boolean {
    return row.digest !== deployedDigest && !(row.unreadable !== undefined && row.digest === null);
}

/** What is listed, and how: the registry access, the repository, the digest cache. */
export type ListingInputs = Pick<ImageOverviewInputs, keyof RegistryAccessFields | "repository" | "cacheDir">;

const clientOf = (inputs: ListingInputs) => registryClient(registryAccessOf(inputs), new DigestCache(inputs.cacheDir));

/** Every tag of the repository as the overview shows it: an image that cannot be read is a row saying why. */
export function listOverviewTags(inputs: ListingInputs): Promise<TagRow[]> {
    return listRepositoryTags(clientOf(inputs), inputs.repository, { platform: registryAccessOf(inputs).platform, unreadableAsRows: true });
}

/**
 * Lists the repository, newest first (by the exact created label), marking the deployed digest. `listTags` is
 * where the rows come from (a provider shares one listing between the readers of a repository).
 */
export async function listOverview(inputs: ImageOverviewInputs, listTags = listOverviewTags): Promise<ImageOverviewOutputs> {
    const platform = registryAccessOf(inputs).platform;
    const listed = await listTags(inputs);
    const rows: OverviewRow[] = listed.map((row) => ({
        ...row,
        deployed: row.digest !== null && row.digest === inputs.deployedDigest,
        ...(inputs.deployedTag && row.tag === inputs.deployedTag && movedOff(row, inputs.deployedDigest) ? { moved: true } : {}),
    }));
    const deployed = inputs.deployedDigest;
    if (deployed && !rows.some((row) => row.deployed)) {
        // Deleted from the registry is possible too (it keeps running); then its labels are unknown.
        const labels = await clientOf(inputs).imageMetadata(inputs.repository, deployed, platform)
            .catch(() => ({ description: null, created: null, revision: null, source: null }));
        rows.push({ repository: inputs.repository, tag: "", digest: deployed, ...labels, deployed: true, untagged: true });
    }
    return {
        ...inputs,
        tags: newestFirst(rows).map((row) => ({ ...row, ...printableLabels(row) })),
        listedAt: new Date().toISOString(),
    };
}

