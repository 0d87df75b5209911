// The registry reads this provider process shares between the resources that ask at the same time: in a refresh
// the engine reads many resources at once, and the overviews of one repository (and the drift checks of pins on
// one tag) then join the request already under way instead of asking the registry each. Only a request in flight
// is shared: one asked for after the last finished asks again, so a later read never gets an older answer,
// whatever the process's lifetime.
import { ListingInputs, listOverviewTags } from "../model/overview-listing";
import { registryAccessFields, registryAccessOf } from "../access/registry-access";
import { registryClient } from "../access/registry-client";
import { DigestCache, defaultCacheDir } from "../registry/cache";
import { TagNotFoundError } from "../registry/errors";
import { TagRow } from "../registry/listing";

const inFlight = new Map<string, Promise<unknown>>();

/** `task`'s answer, or the answer of the same task already under way. */
function shared<T>(key: string, task: () => Promise<T>): Promise<T> {
    let pending = inFlight.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
        pending = task().finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
    }
    return pending;
}

/** Same registry, reached the same way, same repository and cache: the same answers. */
const repositoryKey = (inputs: ListingInputs) =>
    JSON.stringify([registryAccessFields(registryAccessOf(inputs)), inputs.repository, inputs.cacheDir ?? defaultCacheDir()]);

/** The repository's tags as the overview lists them; the listing already under way for the same inputs, if any. */
export function sharedListing(inputs: ListingInputs): Promise<TagRow[]> {
    return shared(`tags ${repositoryKey(inputs)}`, () => listOverviewTags(inputs));
}

/** The listing of the repository under way now, if any (never starts one: it costs a request per tag). */
export function listingInFlight(inputs: ListingInputs): Promise<TagRow[]> | undefined {
    return inFlight.get(`tags ${repositoryKey(inputs)}`) as Promise<TagRow[]> | undefined;
}

/** The digest the tag points at, from a HEAD (the one under way for the same tag, if any); null when it is gone. */
export function sharedTagDigest(inputs: ListingInputs, tag: string): Promise<string | null> {
    return shared(`tag ${JSON.stringify(tag)} ${repositoryKey(inputs)}`, async () => {
        try {
            return await registryClient(registryAccessOf(inputs), new DigestCache(inputs.cacheDir)).resolveTag(inputs.repository, tag);
        } catch (error) {
            if (error instanceof TagNotFoundError) {
                return null;
            }
            throw error;
        }
    });
}
