// Every tag of a repository with its digest and labels: its manifest per tag, and the config blob once per
// distinct digest, a few requests at a time.
import { printable } from "../model/printable";
import { RegistryClient, defaultPlatform } from "./client";
import {
    BlobNotFoundError, DigestMismatchError, MalformedResponseError, ManifestNotFoundError, TagNotFoundError,
    UnreadableImageError,
} from "./errors";
import { ImageMetadata, Manifest } from "./types";

export interface TagRow {
    repository: string;
    tag: string;
    /** null when the tag disappeared between listing and resolving it, or its manifest is unreadable. */
    digest: string | null;
    created: string | null;
    description: string | null;
    revision: string | null;
    source: string | null;
    /**
     * Why the tag's image cannot be read (only with `unreadableAsRows`), in a few printable words; its labels are then
     * null. Absent on every other row, so the rows a stack kept before it existed compare equal.
     */
    unreadable?: string;
}

export const defaultConcurrency = 8;

/**
 * A bound on tasks running at once, shared by every caller that holds it: one bound on the requests in flight
 * while many repositories are listed together. A finished task hands its slot to the longest waiting one.
 */
export class ConcurrencyLimit {
    private running = 0;
    private readonly waiting: (() => void)[] = [];

    constructor(readonly limit: number) {}

    async run<T>(task: () => Promise<T>): Promise<T> {
        if (this.running < this.limit) {
            this.running++;
        } else {
            await new Promise<void>((resolve) => this.waiting.push(resolve));
        }
        try {
            return await task();
        } finally {
            const next = this.waiting.shift();
            if (next) {
                next();
            } else {
                this.running--;
            }
        }
    }
}

/** Runs `task` over `items`, at most `limit` at a time, keeping the order of `items`. */
export async function mapWithLimit<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await task(items[index]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/**
 * A tag deleted (or its image) between listing and reading it. A missing config blob or index entry counts as gone
 * where the listing does not ask for unreadable rows, as it always has: cleanup's inventory then leaves it alone.
 */
function isGone(error: unknown): boolean {
    return error instanceof TagNotFoundError || error instanceof ManifestNotFoundError || error instanceof BlobNotFoundError;
}

/** A manifest or blob request of one image, as RegistryRequest names it (a token service's path never matches). */
const imageRequestPath = /^\/v2\/.+\/(manifests|blobs)\/[^/]+$/;

/**
 * Why one tag's image cannot be read, when the failure concerns that image alone: an index without the platform, a
 * manifest without a config, a manifest or config the registry serves broken, or misses (a manifest, once the tag's
 * own was read, can only be the index's entry for the platform). Undefined for any other failure — the registry down,
 * refusing the credentials, timing out or failing (5xx), the repository gone — which fails the listing as a whole.
 * Exact classes: the serialized provider keeps instanceof for a class, not for its ancestors.
 */
function unreadableReason(error: unknown, platform: string): string | undefined {
    if (error instanceof UnreadableImageError) {
        return error.reason;
    }
    if (error instanceof BlobNotFoundError) {
        return `config blob missing: ${error.location?.reference}`;
    }
    if (error instanceof ManifestNotFoundError) {
        return `manifest missing: the index's ${platform} image ${error.location?.reference}`;
    }
    if (error instanceof DigestMismatchError) {
        return `unreadable: ${error.what} hash to ${error.actual}, not ${error.expected}`;
    }
    if (error instanceof MalformedResponseError && imageRequestPath.test(error.request.path)) {
        return `${error.request.path.includes("/blobs/") ? "config" : "manifest"} unreadable: ${error.problem}`;
    }
    return undefined;
}

/**
 * Every tag of `repository`. Its requests run within `options.limit` (default: a bound of its own), which callers
 * listing many repositories at once share; no more tasks are queued than the bound lets run, whatever the tag count.
 *
 * A tag is read with a GET of its manifest, not a HEAD: the GET verifies the manifest against its digest and hands
 * it to the labels lookup, which then needs only the config blob, once per distinct digest (a HEAD per tag would
 * need that manifest fetched again for each distinct digest).
 *
 * With `unreadableAsRows` (the overviews), a tag whose image cannot be read becomes a row saying why (`unreadable`),
 * so one bad tag hides none of the others; without it (cleanup's inventory) that failure fails the listing.
 */
export async function listRepositoryTags(client: RegistryClient, repository: string,
    options: { platform?: string; limit?: ConcurrencyLimit; unreadableAsRows?: boolean } = {}): Promise<TagRow[]> {
    const limit = options.limit ?? new ConcurrencyLimit(defaultConcurrency);
    const platform = options.platform ?? defaultPlatform;
    const tags = await limit.run(() => client.listTags(repository));
    // One lookup per distinct digest, shared by the tags on it, whichever of them gets there first (its error names
    // that tag). It holds only the labels, so memory follows the distinct digests, not the tags.
    const metadata = new Map<string, Promise<ImageMetadata>>();
    const labelsOf = (manifest: Manifest, tag: string): Promise<ImageMetadata> => {
        let found = metadata.get(manifest.digest);
        if (!found) {
            found = limit.run(() => client.imageMetadataOf(repository, manifest, platform, tag));
            metadata.set(manifest.digest, found);
        }
        return found;
    };
    return mapWithLimit(tags, limit.limit, async (tag): Promise<TagRow> => {
        let manifest: Manifest | undefined;
        try {
            manifest = await limit.run(() => client.getManifest(repository, tag));
            const found = await labelsOf(manifest, tag);
            return {
                repository, tag,
                digest: manifest.digest,
                created: found.created ?? null,
                description: found.description ?? null,
                revision: found.revision ?? null,
                source: found.source ?? null,
            };
        } catch (error) {
            const reason = options.unreadableAsRows ? unreadableReason(error, platform) : undefined;
            if (reason !== undefined) {
                return { ...withoutImage(repository, tag), digest: manifest?.digest ?? null, unreadable: printable(reason) };
            }
            if (isGone(error)) {
                return withoutImage(repository, tag);
            }
            throw error;
        }
    });
}

/** A row without an image: the tag gone, or (with `unreadable` set) its image unreadable. */
function withoutImage(repository: string, tag: string): TagRow {
    return { repository, tag, digest: null, created: null, description: null, revision: null, source: null };
}

/** Newest first by a created label, as a time (labels may carry offsets or fractions); none or unparseable last. */
export function compareNewestFirst(a: string | null, b: string | null): number {
    const time = (created: string | null) => {
        const parsed = created ? Date.parse(created) : NaN;
        return Number.isNaN(parsed) ? -Infinity : parsed;
    };
    const [ta, tb] = [time(a), time(b)];
    return ta === tb ? 0 : tb > ta ? 1 : -1;
}

/** Newest first by the created label, then by tag. */
export function newestFirst<Row extends TagRow>(rows: Row[]): Row[] {
    return [...rows].sort((a, b) => compareNewestFirst(a.created, b.created) || a.tag.localeCompare(b.tag));
}
