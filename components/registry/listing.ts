// Every tag of a repository with its digest and labels: its manifest per tag, and the config blob once per
// distinct digest, a few requests at a time.
import { RegistryClient, defaultPlatform } from "./client";
import { ManifestNotFoundError, TagNotFoundError } from "./errors";
import { ImageMetadata, Manifest } from "./types";

export interface TagRow {
    repository: string;
    tag: string;
    /** null when the tag disappeared between listing and resolving it. */
    digest: string | null;
    created: string | null;
    description: string | null;
    revision: string | null;
    source: string | null;
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

function isGone(error: unknown): boolean {
    return error instanceof TagNotFoundError || error instanceof ManifestNotFoundError;
}

/**
 * Every tag of `repository`. Its requests run within `options.limit` (default: a bound of its own), which callers
 * listing many repositories at once share; no more tasks are queued than the bound lets run, whatever the tag count.
 *
 * A tag is read with a GET of its manifest, not a HEAD: the GET verifies the manifest against its digest and hands
 * it to the labels lookup, which then needs only the config blob, once per distinct digest (a HEAD per tag would
 * need that manifest fetched again for each distinct digest).
 */
export async function listRepositoryTags(client: RegistryClient, repository: string,
    options: { platform?: string; limit?: ConcurrencyLimit } = {}): Promise<TagRow[]> {
    const limit = options.limit ?? new ConcurrencyLimit(defaultConcurrency);
    const platform = options.platform ?? defaultPlatform;
    const tags = await limit.run(() => client.listTags(repository));
    // One lookup per distinct digest, shared by the tags on it, whichever of them gets there first. It holds only
    // the labels, so memory follows the distinct digests, not the tags.
    const metadata = new Map<string, Promise<ImageMetadata | null>>();
    const labelsOf = (manifest: Manifest): Promise<ImageMetadata | null> => {
        let found = metadata.get(manifest.digest);
        if (!found) {
            found = limit.run(() => client.imageMetadataOf(repository, manifest, platform))
                .catch((error) => (isGone(error) ? null : Promise.reject(error)));
            metadata.set(manifest.digest, found);
        }
        return found;
    };
    const rows = await mapWithLimit(tags, limit.limit, async (tag): Promise<TagRow> => {
        let manifest: Manifest;
        try {
            manifest = await limit.run(() => client.getManifest(repository, tag));
        } catch (error) {
            if (isGone(error)) {
                return gone(repository, tag);
            }
            throw error;
        }
        const found = await labelsOf(manifest);
        return found === null ? gone(repository, tag) : {
            repository, tag,
            digest: manifest.digest,
            created: found.created ?? null,
            description: found.description ?? null,
            revision: found.revision ?? null,
            source: found.source ?? null,
        };
    });
    return rows;
}

/** A tag deleted (or its image) between listing and reading it. */
function gone(repository: string, tag: string): TagRow {
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
