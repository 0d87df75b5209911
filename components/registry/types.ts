// The OCI image-spec and Docker v2 shapes this project reads, and nothing more. A registry may send any
// JSON at all, so each shape comes with the check that a parsed value has it.
import { validateDigest } from "./reference";

export const mediaTypes = {
    ociIndex: "application/vnd.oci.image.index.v1+json",
    ociManifest: "application/vnd.oci.image.manifest.v1+json",
    dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
    dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
    ociConfig: "application/vnd.oci.image.config.v1+json",
    dockerConfig: "application/vnd.docker.container.image.v1+json",
} as const;

/** What a manifest request accepts: indexes first, so a multi-platform image is never narrowed by the registry. */
export const manifestAccept = [
    mediaTypes.ociIndex,
    mediaTypes.dockerManifestList,
    mediaTypes.ociManifest,
    mediaTypes.dockerManifest,
].join(", ");

export interface Descriptor {
    mediaType?: string;
    digest: string;
    size: number;
    platform?: { os: string; architecture: string; variant?: string };
    annotations?: Record<string, string>;
}

export interface ImageManifestBody {
    schemaVersion: number;
    mediaType?: string;
    config?: Descriptor;
    layers?: Descriptor[];
    manifests?: Descriptor[];
}

/** A manifest as served, with the exact bytes its digest is computed over. */
export interface Manifest {
    digest: string;
    mediaType: string;
    bytes: Buffer;
    body: ImageManifestBody;
}

export function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Why a parsed manifest is not one this project can read (only the fields it reads are checked); undefined when it is. */
export function manifestProblem(body: unknown): string | undefined {
    if (!isObject(body)) {
        return "the manifest is not a JSON object";
    }
    if (body.mediaType !== undefined && typeof body.mediaType !== "string") {
        return "the manifest's mediaType is not a string";
    }
    if (body.config !== undefined) {
        const problem = descriptorProblem(body.config);
        if (problem) {
            return `the manifest's config ${problem}`;
        }
    }
    if (body.manifests !== undefined) {
        if (!Array.isArray(body.manifests)) {
            return "the index's manifests are not a list";
        }
        for (const [i, entry] of body.manifests.entries()) {
            const problem = descriptorProblem(entry);
            if (problem) {
                return `the index's manifests[${i}] ${problem}`;
            }
        }
    }
    return undefined;
}

function descriptorProblem(descriptor: unknown): string | undefined {
    if (!isObject(descriptor)) {
        return "is not a JSON object";
    }
    const digest = descriptor.digest;
    try {
        validateDigest(typeof digest === "string" ? digest : "");
    } catch {
        return `has no valid digest (${String(JSON.stringify(digest)).slice(0, 150)})`;
    }
    const platform = descriptor.platform;
    const text = (value: unknown) => typeof value === "string";
    if (platform !== undefined && !(isObject(platform) && text(platform.os) && text(platform.architecture) &&
        (platform.variant === undefined || text(platform.variant)))) {
        return "has a malformed platform";
    }
    return undefined;
}

export function isIndex(manifest: Manifest): boolean {
    return manifest.mediaType === mediaTypes.ociIndex || manifest.mediaType === mediaTypes.dockerManifestList ||
        Array.isArray(manifest.body.manifests);
}

export const labelKeys = {
    description: "org.opencontainers.image.description",
    created: "org.opencontainers.image.created",
    revision: "org.opencontainers.image.revision",
    source: "org.opencontainers.image.source",
} as const;

/** The CI-time metadata baked into an image (seed: "Image Metadata"); a missing label is null. */
export interface ImageLabels {
    description: string | null;
    created: string | null;
    revision: string | null;
    source: string | null;
}

export interface ImageMetadata extends ImageLabels {
    /** The digest the tag points at: an index's digest for a multi-platform image. */
    digest: string;
    /** The platform image the labels were read from (equal to `digest` for a single-platform image). */
    imageDigest: string;
    configDigest: string;
}

/**
 * The labels of a parsed image config. A label's value should be a string; a number or boolean is shown as
 * text, anything else (null, a list, an object) as no label: an odd label never stops a deploy.
 */
export function labelsOf(config: Record<string, unknown>): ImageLabels {
    const labels = isObject(config.config) && isObject(config.config.Labels) ? config.config.Labels : {};
    const label = (key: string): string | null => {
        const value = Object.hasOwn(labels, key) ? labels[key] : undefined;
        return typeof value === "string" ? value
            : typeof value === "number" || typeof value === "boolean" ? String(value) : null;
    };
    return {
        description: label(labelKeys.description),
        created: label(labelKeys.created),
        revision: label(labelKeys.revision),
        source: label(labelKeys.source),
    };
}
