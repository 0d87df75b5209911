// Every tag of a repository with its digest and labels: a HEAD per tag, and the manifest and config blob once
// per distinct digest, a few requests at a time.
import { RegistryClient, defaultPlatform } from "./client";
import { ManifestNotFoundError, TagNotFoundError } from "./errors";
import { ImageMetadata } from "./types";

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
 */
export async function listRepositoryTags(client: RegistryClient, repository: string,
    options: { platform?: string; limit?: ConcurrencyLimit } = {}): Promise<TagRow[]> {
    const limit = options.limit ?? new ConcurrencyLimit(defaultConcurrency);
    const tags = await limit.run(() => client.listTags(repository));
    const digests = await mapWithLimit(tags, limit.limit, async (tag) => {
        try {
            return await limit.run(() => client.resolveTag(repository, tag));
        } catch (error) {
            if (isGone(error)) {
                return null;
            }
            throw error;
        }
    });
    const distinct = [...new Set(digests.filter((d): d is string => d !== null))];
    const metadata = new Map<string, ImageMetadata | null>();
    await mapWithLimit(distinct, limit.limit, async (digest) => {
        try {
            metadata.set(digest, await limit.run(() => client.imageMetadata(repository, digest, options.platform ?? defaultPlatform)));
        } catch (error) {
            if (!isGone(error)) {
                throw error;
            }
            metadata.set(digest, null);
        }
    });
    return tags.map((tag, i) => {
        const found = digests[i] === null ? null : metadata.get(digests[i]!) ?? null;
        return {
            repository, tag,
            digest: found ? digests[i] : null,
            created: found?.created ?? null,
            description: found?.description ?? null,
            revision: found?.revision ?? null,
            source: found?.source ?? null,
        };
    });
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
