// The ImageDigest provider: a tag (or digest) resolved once to a digest that is then pinned in the state, the one
// place a tag is resolved. Check resolves a new tag or digest (a bad one fails the preview there), diff says what
// the move from the previous pin means (the change notice), update records it. Later runs compare config with the
// state and never ask the registry; only a refresh looks again, and then it reports drift instead of moving the pin.
// An app's pin also keeps its repository's listing (every tag with its digest and labels, the seed's
// images:overview), read with each new pin and on every refresh, never on a run that changes nothing; the program
// marks in it what the host runs. Run by the engine's dynamic-provider process (components/providers/load.js).
import type * as pulumi from "@pulumi/pulumi";
import { VersionFacts, pendingChange } from "../model/change-notice";
import { printableLabels } from "../model/overview";
import { printableRows } from "../model/overview-listing";
import { changedAccessKeys, registryAccessFields, registryAccessOf } from "../access/registry-access";
import { registryClient } from "../access/registry-client";
import { DigestCache } from "../registry/cache";
import { RegistryClient, defaultPlatform } from "../registry/client";
import { DigestMismatchError } from "../registry/errors";
import {
    parsePlatform, pinnedRef, validateDigest, validateRegistry, validateRepository, validateTag,
} from "../registry/reference";
import { TagRow } from "../registry/listing";
import { ImageLabels } from "../registry/types";
import { engineLog } from "./engine-log";
import { listingInFlight, sharedListing, sharedTagDigest } from "./shared-registry-reads";
import { stamped } from "./interface-version";

/** What a refresh found when the tag no longer points at the pinned digest. */
export interface TagDrift {
    tag: string;
    pinnedDigest: string;
    /** null when the tag no longer exists. */
    currentDigest: string | null;
    checkedAt: string;
}

/** The provider's plain inputs, as the engine hands them over. */
export interface ImageDigestInputs {
    registry: string;
    repository: string;
    tag?: string;
    digest?: string;
    platform?: string;
    insecure?: boolean;
    username?: string;
    password?: string;
    /** Whose deploy the change notice names (`<app>@<workspace>`), and the resource it is said on; none: no notice. */
    app?: string;
    workspace?: string;
    logUrn?: string;
    /** Keep the repository's listing (`tags`): an app's image, not the proxy's. */
    listTags?: boolean;
}

/** The image a tag or digest names: what a pin records of it. */
export interface ResolvedPin extends LabelOutputs {
    digest: string;
}

/** The state: the inputs as given, the pinned digest and the image's labels. */
export interface ImageDigestOutputs {
    registry: string;
    repository: string;
    tag: string | null;
    requestedDigest: string | null;
    platform: string;
    insecure: boolean;
    username: string | null;
    password: string | null;
    digest: string;
    ref: string;
    /** The labels as `pulumi up` may print them (in diffs, too): control characters escaped. */
    description: string | null;
    /** The description label exactly as built, UTF-8 in base64: for deploy-info.yml, never for a terminal. */
    descriptionBase64: string | null;
    created: string | null;
    revision: string | null;
    source: string | null;
    drift: TagDrift | null;
    /**
     * Absent in a state from before listings were kept here (an app's pin or the proxy's): such a pin lists on
     * refresh, and records whether it keeps a listing with its next new pin. A run that changes nothing asks nothing.
     */
    listTags?: boolean;
    /** Every tag of the repository, newest first, labels printable; null when not asked for. */
    tags?: TagRow[] | null;
    listedAt?: string | null;
}

/** The part of the state a listing writes. */
type Listing = Required<Pick<ImageDigestOutputs, "tags" | "listedAt">>;

type LabelOutputs = Pick<ImageDigestOutputs, "description" | "descriptionBase64" | "created" | "revision" | "source">;

/** The state shows every label printable; only descriptionBase64 keeps the description's exact bytes. */
export function labelOutputs(labels: ImageLabels): LabelOutputs {
    return {
        ...printableLabels(labels),
        descriptionBase64: labels.description === null ? null : Buffer.from(labels.description, "utf8").toString("base64"),
    };
}

/** Inputs whose change means another image, so a new pin. */
const identityKeys = ["registry", "repository", "tag", "digest", "platform"] as const;
/**
 * Of those, the ones that name another repository, which is another resource (its id names the repository). A new
 * tag, digest or platform pins again in place: an update is one provider call, where a replacement was a create,
 * a replace and a delete-replaced at the end of every deploy.
 */
const repositoryKeys: readonly string[] = ["registry", "repository"];

/**
 * A client from inputs or state (where unset credentials are null). It keeps what it fetches by digest in the
 * digest cache the overview reads (verified against the digest on every read), so the overview that follows a new
 * pin finds the manifest and config blob fetched here instead of asking the registry again.
 */
function clientFor(inputs: ImageDigestInputs | ImageDigestOutputs): RegistryClient {
    return registryClient(registryAccessOf(inputs), new DigestCache());
}

/** Grammar only, no network: a bad value stops the preview before anything is asked or changed. */
export function checkImageInputs(inputs: ImageDigestInputs): pulumi.dynamic.CheckFailure[] {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const validators: [keyof ImageDigestInputs, (value: string) => unknown][] = [
        ["registry", validateRegistry], ["repository", validateRepository], ["tag", validateTag],
        ["digest", validateDigest], ["platform", parsePlatform],
    ];
    for (const [property, validate] of validators) {
        const value = inputs[property];
        if (value === undefined || value === null) {
            continue;
        }
        try {
            validate(String(value));
        } catch (error) {
            failures.push({ property, reason: (error as Error).message });
        }
    }
    if (!inputs.tag && !inputs.digest) {
        failures.push({ property: "tag", reason: "neither a tag nor a digest is set: `pulumi config set <app>:tag <short sha>`" });
    }
    return failures;
}

/** The digest the inputs' tag or digest names, checked against each other, and its image's labels. */
export async function resolvePin(inputs: ImageDigestInputs): Promise<ResolvedPin> {
    const client = clientFor(inputs);
    const tag = inputs.tag;
    let digest: string;
    if (inputs.digest) {
        digest = await client.resolve(inputs.repository, inputs.digest);
        if (tag) {
            const tagged = await client.resolveTag(inputs.repository, tag);
            if (tagged !== digest) {
                throw new DigestMismatchError({ registry: inputs.registry, repository: inputs.repository, reference: tag },
                    digest, tagged, "the digest the tag points at (the configured digest wins only when they agree: " +
                    "unset one of <app>:tag and <app>:digest)");
            }
        }
    } else {
        digest = await client.resolveTag(inputs.repository, tag!);
    }
    const metadata = await client.imageMetadata(inputs.repository, digest, inputs.platform ?? defaultPlatform, tag);
    return { digest, ...labelOutputs(metadata) };
}

/** The state of a pin: the inputs as given (never what check added), the pinned digest and its labels. */
function pinnedState(inputs: ImageDigestInputs, pin: ResolvedPin): ImageDigestOutputs {
    return {
        registry: inputs.registry,
        repository: inputs.repository,
        tag: inputs.tag ?? null,
        requestedDigest: inputs.digest ?? null,
        platform: inputs.platform ?? defaultPlatform,
        insecure: inputs.insecure ?? false,
        username: inputs.username ?? null,
        password: inputs.password ?? null,
        digest: pin.digest,
        ref: pinnedRef(inputs.registry, inputs.repository, pin.digest),
        description: pin.description,
        descriptionBase64: pin.descriptionBase64,
        created: pin.created,
        revision: pin.revision,
        source: pin.source,
        drift: null,
        listTags: inputs.listTags ?? false,
    };
}

/** The inputs that name the image, as check compares this run's with the last run's (inputs both). */
function identityOf(inputs: Partial<ImageDigestInputs>): string {
    return JSON.stringify([inputs.registry, inputs.repository, inputs.tag ?? null, inputs.digest ?? null, inputs.platform ?? defaultPlatform]);
}

/**
 * The pins check resolved in this provider process, which lives for one engine run, by the inputs that name
 * them: diff words the notice from the pin check saw and update records it, so a run asks the registry once.
 * Never in the state or the inputs, so what a preview shows of the resource is its config.
 */
const resolvedThisRun = new Map<string, ResolvedPin>();

/** The state of the inputs' pin: the one check resolved in this run, or resolved now. */
export async function resolveImage(inputs: ImageDigestInputs): Promise<ImageDigestOutputs> {
    return pinnedState(inputs, resolvedThisRun.get(identityOf(inputs)) ?? await resolvePin(inputs));
}

const versionOf = (pin: { digest: string; description: string | null; created: string | null }, tag: string | null): VersionFacts =>
    ({ tag, digest: pin.digest, description: pin.description, created: pin.created });

/** The notice quotes the description as built (and escapes it once); the state's is escaped already. */
function exactLabels(pin: ResolvedPin): ResolvedPin {
    return pin.descriptionBase64 === null ? pin : { ...pin, description: Buffer.from(pin.descriptionBase64, "base64").toString("utf8") };
}

/**
 * What a move of the pin means, said in the engine's output on the app's component: an upgrade or a rollback,
 * with the images' descriptions. Nothing is said without an app to name.
 */
async function sayChange(inputs: ImageDigestInputs, from: VersionFacts | undefined, to: VersionFacts): Promise<void> {
    const message = inputs.app && inputs.workspace ? pendingChange(inputs.app, inputs.workspace, from, to) : undefined;
    if (message) {
        await engineLog("info", message, { urn: inputs.logUrn });
    }
}

/**
 * Check's part: a new tag or digest is resolved here, so an unknown tag or an unreadable image fails the preview
 * before anything changes, and diff (the notice) and update (the record) take that pin. A first pin is said here,
 * since no diff precedes a create. Nothing is asked when the image named is the last run's.
 */
export async function checkImage(olds: Partial<ImageDigestInputs>, news: ImageDigestInputs): Promise<pulumi.dynamic.CheckResult<ImageDigestInputs>> {
    const failures = checkImageInputs(news);
    const first = Object.keys(olds).length === 0;
    if (failures.length > 0 || (!first && identityOf(olds) === identityOf(news))) {
        return { inputs: news, failures };
    }
    let resolved: ResolvedPin;
    try {
        resolved = await resolvePin(news);
    } catch (error) {
        return { inputs: news, failures: [{ property: news.digest ? "digest" : "tag", reason: (error as Error).message }] };
    }
    resolvedThisRun.set(identityOf(news), resolved);
    if (first) {
        await sayChange(news, undefined, versionOf(exactLabels(resolved), news.tag ?? null));
    }
    return { inputs: news, failures: [] };
}

/** Which identity inputs differ from the state; pure, so a no-op run costs no registry request. */
export function changedIdentity(olds: ImageDigestOutputs, news: ImageDigestInputs): string[] {
    const previous: Record<(typeof identityKeys)[number], unknown> = {
        registry: olds.registry, repository: olds.repository, tag: olds.tag,
        digest: olds.requestedDigest, platform: olds.platform,
    };
    const next: Record<(typeof identityKeys)[number], unknown> = {
        registry: news.registry, repository: news.repository, tag: news.tag ?? null,
        digest: news.digest ?? null, platform: news.platform ?? defaultPlatform,
    };
    return identityKeys.filter((key) => previous[key] !== next[key]);
}

/**
 * What the listing says the tag points at: its digest, null when the tag is not listed (gone), undefined when the
 * listing could not read the tag's manifest (the tag's own HEAD then says why).
 */
function listedTagDigest(rows: TagRow[], tag: string): string | null | undefined {
    const row = rows.find((candidate) => candidate.tag === tag);
    return row !== undefined && row.digest === null && row.unreadable !== undefined ? undefined : row?.digest ?? null;
}

/**
 * The digest the tag points at now, null when it is gone: from the repository's listing when this read has one or
 * one is under way (another pin of the same repository read in the same refresh), else one HEAD of the tag, shared
 * by the pins on that tag read at the same time (./shared-registry-reads). The HEAD too when that listing failed or
 * could not read the tag's manifest, so its failure is said as a check of the tag alone says it.
 */
async function currentTagDigest(props: ImageDigestOutputs, tag: string, listed?: TagRow[]): Promise<string | null> {
    const rows = listed ?? await listingInFlight(props)?.catch(() => undefined);
    const digest = rows === undefined ? undefined : listedTagDigest(rows, tag);
    return digest !== undefined ? digest : sharedTagDigest(props, tag);
}

/** Looks at the tag again without moving the pin: a moved or deleted tag becomes `drift`. */
export async function checkDrift(props: ImageDigestOutputs, listed?: TagRow[]): Promise<TagDrift | null> {
    if (!props.tag) {
        return null;
    }
    const currentDigest = await currentTagDigest(props, props.tag, listed);
    return currentDigest === props.digest
        ? null
        : { tag: props.tag, pinnedDigest: props.digest, currentDigest, checkedAt: new Date().toISOString() };
}

/** The repository listed now when the pin keeps a listing (one under way for the same repository serves it). */
async function listingOf(inputs: ImageDigestInputs): Promise<Listing> {
    if (!inputs.listTags) {
        return { tags: null, listedAt: null };
    }
    return { tags: printableRows(await sharedListing(inputs)), listedAt: new Date().toISOString() };
}

export const imageDigestProvider: pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs> = stamped("ImageDigest", {
    async check(olds, news) {
        return checkImage(olds ?? {}, news);
    },

    async diff(_id, olds, news) {
        const changed = changedIdentity(olds, news);
        const resolved = changed.length > 0 ? resolvedThisRun.get(identityOf(news)) : undefined;
        if (resolved) {
            await sayChange(news, versionOf(olds, olds.tag), versionOf(exactLabels(resolved), news.tag ?? null));
        }
        // How the registry is reached (scheme, credentials) changes no pin, but is kept for refresh to use.
        const accessChanged = changedAccessKeys(olds, news).some((key) => !(identityKeys as readonly string[]).includes(key));
        // Never for a state from before listings were kept: a refresh lists then, as it refreshes any output.
        const listingChanged = olds.listTags !== undefined && (news.listTags ?? false) !== olds.listTags;
        return {
            changes: changed.length > 0 || accessChanged || listingChanged,
            replaces: changed.filter((key) => repositoryKeys.includes(key)),
            deleteBeforeReplace: false,
        };
    },

    async create(inputs) {
        const [pin, listing] = await Promise.all([resolveImage(inputs), listingOf(inputs)]);
        const outs = { ...pin, ...listing };
        // The repository, not the pinned ref: a new pin is an update, and an id never changes in an update.
        return { id: `${outs.registry}/${outs.repository}`, outs };
    },

    async update(_id, olds, news) {
        const listing = listingOf(news);
        if (changedIdentity(olds, news).length > 0) {
            // Another tag, digest or platform: resolved once more, exactly as a first pin.
            const [pin, listed] = await Promise.all([resolveImage(news), listing]);
            return { outs: { ...pin, ...listed } };
        }
        // Only how we reach the registry changed, or whether a listing is kept: the pin stays.
        return { outs: { ...olds, ...registryAccessFields(registryAccessOf(news)), listTags: news.listTags ?? false, ...await listing } };
    },

    async read(id, props) {
        if (!props) {
            throw new Error(`ImageDigest ${id} cannot be imported: declare it in the program with a tag or digest`);
        }
        if (props.listTags === false) {
            return { id, props: { ...props, drift: await checkDrift(props) } };
        }
        const rows = await sharedListing(props);
        return { id, props: { ...props, tags: printableRows(rows), listedAt: new Date().toISOString(), drift: await checkDrift(props, rows) } };
    },

    async delete() {
        // Forgetting a pin deletes nothing in the registry: cleanup is a separate, explicit step.
    },
});
