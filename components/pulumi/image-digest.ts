// ImageDigest: a tag (or digest) resolved once to a digest that is then pinned in the state. Later runs
// compare config with the state and never ask the registry; only a refresh looks again, and then it
// reports drift instead of moving the pin.
import type * as pulumi from "@pulumi/pulumi";
import { secret } from "@pulumi/pulumi/output";
import { CachedDynamicResource } from "./dynamic-resource";
import { printableLabels } from "../model/overview";
import { credentialsOf } from "../registry/auth";
import { DigestCache } from "../registry/cache";
import { RegistryClient, defaultPlatform } from "../registry/client";
import { DigestMismatchError, TagNotFoundError } from "../registry/errors";
import {
    parsePlatform, pinnedRef, validateDigest, validateRegistry, validateRepository, validateTag,
} from "../registry/reference";
import { ImageLabels } from "../registry/types";

export interface ImageDigestArgs {
    /** host[:port] of the registry. */
    registry: pulumi.Input<string>;
    repository: pulumi.Input<string>;
    /** The human-facing tag (a short SHA). */
    tag?: pulumi.Input<string>;
    /** Deploy by digest: wins over the tag; when both are given the tag must point at it. */
    digest?: pulumi.Input<string>;
    /** Which image of a multi-platform index to read labels from; default linux/amd64. */
    platform?: pulumi.Input<string>;
    /** Plain http (a registry on loopback). */
    insecure?: pulumi.Input<boolean>;
    username?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
}

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
}

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
function clientFor(inputs: { registry: string; insecure?: boolean; username?: string | null; password?: string | null }): RegistryClient {
    return new RegistryClient({
        registry: inputs.registry,
        insecure: inputs.insecure ?? false,
        credentials: credentialsOf(inputs.username, inputs.password),
        cache: new DigestCache(),
    });
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

export async function resolveImage(inputs: ImageDigestInputs): Promise<ImageDigestOutputs> {
    const client = clientFor(inputs);
    const platform = inputs.platform ?? defaultPlatform;
    const tag = inputs.tag ?? null;
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
    const metadata = await client.imageMetadata(inputs.repository, digest, platform, tag ?? undefined);
    return {
        registry: inputs.registry,
        repository: inputs.repository,
        tag,
        requestedDigest: inputs.digest ?? null,
        platform,
        insecure: inputs.insecure ?? false,
        username: inputs.username ?? null,
        password: inputs.password ?? null,
        digest,
        ref: pinnedRef(inputs.registry, inputs.repository, digest),
        ...labelOutputs(metadata),
        drift: null,
    };
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

/** Looks at the tag again without moving the pin: a moved or deleted tag becomes `drift`. */
export async function checkDrift(props: ImageDigestOutputs): Promise<TagDrift | null> {
    if (!props.tag) {
        return null;
    }
    let currentDigest: string | null;
    try {
        currentDigest = await clientFor(props)
            .resolveTag(props.repository, props.tag);
    } catch (error) {
        // Exactly this class: the serialized provider keeps instanceof for a class, not for its ancestors.
        if (!(error instanceof TagNotFoundError)) {
            throw error;
        }
        currentDigest = null;
    }
    return currentDigest === props.digest
        ? null
        : { tag: props.tag, pinnedDigest: props.digest, currentDigest, checkedAt: new Date().toISOString() };
}

export const imageDigestProvider: pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs> = {
    async check(_olds, news) {
        return { inputs: news, failures: checkImageInputs(news) };
    },

    async diff(_id, olds, news) {
        const changed = changedIdentity(olds, news);
        const credentialsChanged = (news.username ?? null) !== olds.username || (news.password ?? null) !== olds.password ||
            (news.insecure ?? false) !== olds.insecure;
        return {
            changes: changed.length > 0 || credentialsChanged,
            replaces: changed.filter((key) => repositoryKeys.includes(key)),
            deleteBeforeReplace: false,
        };
    },

    async create(inputs) {
        const outs = await resolveImage(inputs);
        // The repository, not the pinned ref: a new pin is an update, and an id never changes in an update.
        return { id: `${outs.registry}/${outs.repository}`, outs };
    },

    async update(_id, olds, news) {
        if (changedIdentity(olds, news).length > 0) {
            // Another tag, digest or platform: resolved once more, exactly as a first pin.
            return { outs: await resolveImage(news) };
        }
        // Only how we reach the registry changed; the pin stays.
        return {
            outs: {
                ...olds, insecure: news.insecure ?? false,
                username: news.username ?? null, password: news.password ?? null,
            },
        };
    },

    async read(id, props) {
        if (!props) {
            throw new Error(`ImageDigest ${id} cannot be imported: declare it in the program with a tag or digest`);
        }
        return { id, props: { ...props, drift: await checkDrift(props) } };
    },

    async delete() {
        // Forgetting a pin deletes nothing in the registry: cleanup is a separate, explicit step.
    },
};

/**
 * A tag resolved to a digest, pinned in the stack's state with the image's OCI labels.
 */
export class ImageDigest extends CachedDynamicResource {
    declare readonly registry: pulumi.Output<string>;
    declare readonly repository: pulumi.Output<string>;
    declare readonly tag: pulumi.Output<string | null>;
    declare readonly requestedDigest: pulumi.Output<string | null>;
    declare readonly platform: pulumi.Output<string>;
    declare readonly insecure: pulumi.Output<boolean>;
    declare readonly digest: pulumi.Output<string>;
    /** registry/repository@sha256:…, what hosts run. */
    declare readonly ref: pulumi.Output<string>;
    /** Printable: control characters escaped. */
    declare readonly description: pulumi.Output<string | null>;
    /** The exact description label, UTF-8 in base64, for what must hold it byte for byte (deploy-info.yml). */
    declare readonly descriptionBase64: pulumi.Output<string | null>;
    declare readonly created: pulumi.Output<string | null>;
    declare readonly revision: pulumi.Output<string | null>;
    declare readonly source: pulumi.Output<string | null>;
    declare readonly drift: pulumi.Output<TagDrift | null>;

    constructor(name: string, args: ImageDigestArgs, opts?: pulumi.CustomResourceOptions) {
        super(imageDigestProvider, name, {
            registry: args.registry,
            repository: args.repository,
            tag: args.tag,
            digest: args.digest,
            platform: args.platform,
            insecure: args.insecure,
            username: args.username,
            password: args.password ? secret(args.password) : undefined,
            requestedDigest: undefined,
            ref: undefined,
            description: undefined,
            descriptionBase64: undefined,
            created: undefined,
            revision: undefined,
            source: undefined,
            drift: undefined,
        }, { ...opts, additionalSecretOutputs: ["password"] }, "iac", "ImageDigest");
    }
}
