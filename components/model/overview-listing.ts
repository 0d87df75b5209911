// The listing behind images:overview — every tag of a repository, newest first, the deployed digest marked — shared
// by the ImageDigest resource (which keeps an app's listing in the stack, components/providers/image-digest.ts), the
// program (which marks what the host runs in it) and the images:overview command, which must start without loading
// @pulumi/pulumi.
import { printableLabels } from "./overview";
import { printable } from "./printable";
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

/** The registry access (flat, as a dynamic resource's state holds it) and what to list. */
export interface ListingInputs extends RegistryAccessFields {
    repository: string;
    /** Where immutable manifests and config blobs are kept between runs; by default the user's (components/cache-home.js), or none. */
    cacheDir?: string;
}

/** What the workspace runs, as its deploy-info.yml names it; null before the first deploy. */
export interface DeployedImage {
    digest: string;
    /** The tag the record names, to say when it moved off the deployed digest. */
    tag: string | null;
}

/** The deployed tag's row names another image, or none; an unreadable manifest's image is unknown, so not "another". */
function movedOff(row: TagRow, deployedDigest: string | null): boolean {
    return row.digest !== deployedDigest && !(row.unreadable !== undefined && row.digest === null);
}

const clientOf = (inputs: ListingInputs) => registryClient(registryAccessOf(inputs), new DigestCache(inputs.cacheDir));

/** Every tag of the repository as the overview shows it: an image that cannot be read is a row saying why. */
export function listOverviewTags(inputs: ListingInputs): Promise<TagRow[]> {
    return listRepositoryTags(clientOf(inputs), inputs.repository, { platform: registryAccessOf(inputs).platform, unreadableAsRows: true });
}

/** The labels of an image the listing lacks: the deployed digest that no tag names any more. */
type UntaggedLabels = Pick<TagRow, "description" | "created" | "revision" | "source">;

/**
 * The rows newest first (by their created label), the deployed digest's row marked; when no tag names it, a row of
 * its own with `untagged` (labels from `untaggedLabels`), so the arrow still marks what runs.
 */
export function markDeployed(repository: string, rows: TagRow[], deployed: DeployedImage | null, untaggedLabels: UntaggedLabels): OverviewRow[] {
    const marked: OverviewRow[] = rows.map((row) => ({
        ...row,
        deployed: row.digest !== null && row.digest === deployed?.digest,
        ...(deployed?.tag && row.tag === deployed.tag && movedOff(row, deployed.digest) ? { moved: true } : {}),
    }));
    if (deployed && !marked.some((row) => row.deployed)) {
        marked.push({ repository, tag: "", digest: deployed.digest, ...untaggedLabels, deployed: true, untagged: true });
    }
    return newestFirst(marked);
}

/** The labels of no image: an untagged deployed digest the registry no longer has. */
export const unknownLabels: UntaggedLabels = { description: null, created: null, revision: null, source: null };

/**
 * The labels of what the host runs should no tag name it, without asking the registry: the pin's when it is the
 * pin, else the description its deploy-info.yml recorded (printable), the rest unknown.
 */
export function deployedLabels(record: { digest: string; description: string | null } | null,
    pin: UntaggedLabels & { digest: string }): UntaggedLabels {
    if (record?.digest === pin.digest) {
        return { description: pin.description, created: pin.created, revision: pin.revision, source: pin.source };
    }
    return { ...unknownLabels, description: record?.description == null ? null : printable(record.description) };
}

/** The repository's rows as a stack keeps them: newest first, every label printable. */
export function printableRows(rows: TagRow[]): TagRow[] {
    return newestFirst(rows).map((row) => ({ ...row, ...printableLabels(row) }));
}

/**
 * Lists the repository around what the workspace runs, newest first (by the exact created label), labels printable:
 * an untagged deployed digest's labels are read from the registry (it may have deleted it: then unknown).
 */
export async function listOverview(inputs: ListingInputs, deployed: DeployedImage | null): Promise<OverviewRow[]> {
    const listed = await listOverviewTags(inputs);
    const untagged = deployed !== null && !listed.some((row) => row.digest === deployed.digest)
        ? await clientOf(inputs).imageMetadata(inputs.repository, deployed.digest, registryAccessOf(inputs).platform).catch(() => unknownLabels)
        : unknownLabels;
    return markDeployed(inputs.repository, listed, deployed, untagged).map((row) => ({ ...row, ...printableLabels(row) }));
}
