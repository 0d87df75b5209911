// ImageDigest: a tag (or digest) resolved once to a digest that is then pinned in the state. Later runs
// compare config with the state and never ask the registry; only a refresh looks again, and then it
// reports drift instead of moving the pin. An app's pin also keeps its repository's listing, read with each new pin
// and on refresh. The provider is components/providers/image-digest.ts.
import type * as pulumi from "@pulumi/pulumi";
import { LoadedDynamicResource } from "./dynamic-resource";
import { RegistryAccessInput, registryAccessInputs } from "./registry-access-inputs";
import type { TagDrift } from "../providers/image-digest";
import type { TagRow } from "../registry/listing";

export interface ImageDigestArgs {
    /** The workspace's registry access: registry, scheme, platform (which image of an index), credentials. */
    access: RegistryAccessInput;
    repository: pulumi.Input<string>;
    /** The human-facing tag (a short SHA). */
    tag?: pulumi.Input<string>;
    /** Deploy by digest: wins over the tag; when both are given the tag must point at it. */
    digest?: pulumi.Input<string>;
    /** The app and workspace the change notice names, and the resource it is said on (the app's component). */
    notice?: { app: string; workspace: string; urn: pulumi.Input<string> };
    /** Keep every tag of the repository in `tags` (the overview of an app's image). */
    listTags?: boolean;
}

/**
 * A tag resolved to a digest, pinned in the stack's state with the image's OCI labels.
 */
export class ImageDigest extends LoadedDynamicResource {
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
    /** Every tag of the repository, newest first, labels printable (as of the last new pin or refresh); null unless `listTags`. */
    declare readonly tags: pulumi.Output<TagRow[] | null>;
    declare readonly listedAt: pulumi.Output<string | null>;

    constructor(name: string, args: ImageDigestArgs, opts?: pulumi.CustomResourceOptions) {
        super("ImageDigest", name, {
            ...registryAccessInputs(args.access),
            repository: args.repository,
            tag: args.tag,
            digest: args.digest,
            app: args.notice?.app,
            workspace: args.notice?.workspace,
            logUrn: args.notice?.urn,
            listTags: args.listTags,
            requestedDigest: undefined,
            ref: undefined,
            description: undefined,
            descriptionBase64: undefined,
            created: undefined,
            revision: undefined,
            source: undefined,
            drift: undefined,
            tags: undefined,
            listedAt: undefined,
        }, { ...opts, additionalSecretOutputs: ["password"] });
    }
}
