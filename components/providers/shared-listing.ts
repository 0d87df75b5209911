// A repository's tags as this provider process lists them, shared by the readers that ask at the same time: in
// a refresh the engine reads every resource at once, so each app's overview and the drift check of its pin (and
// every other app on the same repository) join one listing instead of asking the registry each. Only a listing
// in flight is shared: one asked for after the last finished lists again, so a later read never gets an older
// answer, whatever the process's lifetime.
import { ListingInputs, listOverviewTags } from "../model/overview-listing";
import { registryAccessFields, registryAccessOf } from "../access/registry-access";
import { defaultCacheDir } from "../registry/cache";
import { TagRow } from "../registry/listing";

const inFlight = new Map<string, Promise<TagRow[]>>();

/** Same registry, reached the same way, same repository and cache: the same listing. */
function listingKey(inputs: ListingInputs): string {
    return JSON.stringify([registryAccessFields(registryAccessOf(inputs)), inputs.repository, inputs.cacheDir ?? defaultCacheDir()]);
}

/** The repository's tags as the overview lists them; the listing already under way for the same inputs, if any. */
export function sharedListing(inputs: ListingInputs): Promise<TagRow[]> {
    const key = listingKey(inputs);
    let listing = inFlight.get(key);
    if (listing === undefined) {
        listing = listOverviewTags(inputs).finally(() => inFlight.delete(key));
        inFlight.set(key, listing);
    }
    return listing;
}
