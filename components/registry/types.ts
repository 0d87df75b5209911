// The OCI image-spec and Docker v2 shapes this project reads, and nothing more.

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

export interface ImageConfigBody {
    config?: { Labels?: Record<string, string> | null };
}

export function labelsOf(config: ImageConfigBody): ImageLabels {
    const labels = config.config?.Labels ?? {};
    return {
        description: labels[labelKeys.description] ?? null,
        created: labels[labelKeys.created] ?? null,
        revision: labels[labelKeys.revision] ?? null,
        source: labels[labelKeys.source] ?? null,
    };
}
