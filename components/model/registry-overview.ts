// registry:overview's listing: every repository of a registry in catalog order, a window of them at a time so
// that a registry of many small repositories keeps the request bound busy, and the tag --mark points at.
import { RegistryClient } from "../registry/client";
import { ConcurrencyLimit, TagRow, defaultConcurrency, listRepositoryTags, newestFirst } from "../registry/listing";

/** The digest `tag` names in `rows`; a tag that is not there fails the command rather than mark nothing. */
export function markedDigest(repository: string, rows: TagRow[], tag: string | undefined): string | null {
    if (tag === undefined) {
        return null;
    }
    const row = rows.find((candidate) => candidate.tag === tag);
    if (row?.digest == null) {
        throw new Error(`${repository}:${tag} is not among the repository's readable tags: was it pushed to this registry?`);
    }
    return row.digest;
}

/** Repositories listed at once: enough to keep the request bound busy when each has only a few tags. */
const listingWindow = 16;

/**
 * Lists `listingWindow` repositories at a time, all their requests within one bound (defaultConcurrency in
 * flight), and hands each one's rows, newest first, to `emit` in catalog order.
 */
export async function listRepositoriesInOrder(client: RegistryClient, repositories: string[],
    emit: (repository: string, rows: TagRow[], index: number) => void): Promise<void> {
    const limit = new ConcurrencyLimit(defaultConcurrency);
    const listings: Promise<TagRow[]>[] = [];
    const start = (i: number) => {
        if (i < repositories.length) {
            listings[i] = listRepositoryTags(client, repositories[i], { limit, unreadableAsRows: true });
            // Awaited in turn below; until then a failure must not count as unhandled.
            listings[i].catch(() => undefined);
        }
    };
    for (let i = 0; i < listingWindow; i++) {
        start(i);
    }
    for (let i = 0; i < repositories.length; i++) {
        const rows = newestFirst(await listings[i]);
        delete listings[i];
        start(i + listingWindow);
        emit(repositories[i], rows, i);
    }
}
