// The distribution reference grammar (github.com/distribution/reference, regexp.go), enforced before any
// request and before any value reaches a shell: a value that passes here contains no shell metacharacter.
import { InvalidReferenceError } from "./errors";

const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6Address = "\\[(?:[a-fA-F0-9:]+)\\]";
const hostPattern = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6Address})`;

const repositoryPattern = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const registryPattern = new RegExp(`^${hostPattern}(?::([0-9]{1,5}))?$`);
const maxPort = 65535;
const tagPattern = /^[\w][\w.-]{0,127}$/;
// Only algorithms whose bytes we can verify: a digest we could not check is no better than a tag.
const digestPatterns: Record<string, RegExp> = {
    sha256: /^sha256:[a-f0-9]{64}$/,
    sha512: /^sha512:[a-f0-9]{128}$/,
};
const maxRepositoryLength = 255;

export type DigestAlgorithm = "sha256" | "sha512";

export function validateRegistry(registry: string): string {
    const match = registryPattern.exec(registry);
    if (!match) {
        throw new InvalidReferenceError("registry", registry,
            "expected a host name or IP address with an optional port, e.g. registry.example.com or 127.0.0.1:5000");
    }
    // Five digits pass the grammar; only a real port may reach a URL.
    const port = match[1] === undefined ? undefined : Number(match[1]);
    if (port !== undefined && (port < 1 || port > maxPort)) {
        throw new InvalidReferenceError("registry", registry,
            `port ${match[1]} is out of range: expected 1-${maxPort}, or no port for the scheme's default`);
    }
    return registry;
}

/** A host name or IP address without a port (an SSH host: its port is configured apart). */
export function validateHost(host: string): string {
    if (!new RegExp(`^${hostPattern}$`).test(host)) {
        throw new InvalidReferenceError("host", host, "expected a host name or IP address without a port, e.g. deploy.example.com or 127.0.0.1");
    }
    return host;
}

export function validateRepository(repository: string): string {
    if (repository.length > maxRepositoryLength || !repositoryPattern.test(repository)) {
        throw new InvalidReferenceError("repository", repository,
            "expected lowercase path components of [a-z0-9] joined by '.', '_', '__' or '-', separated by '/', " +
            `at most ${maxRepositoryLength} characters, e.g. rednaw/hello-world`);
    }
    return repository;
}

export function validateTag(tag: string): string {
    if (!tagPattern.test(tag)) {
        throw new InvalidReferenceError("tag", tag,
            "expected 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-', e.g. eb53023");
    }
    return tag;
}

export function validateDigest(digest: string): string {
    const algorithm = digest.split(":", 1)[0];
    const pattern = digestPatterns[algorithm];
    if (!pattern || !pattern.test(digest)) {
        throw new InvalidReferenceError("digest", digest,
            "expected sha256:<64 lowercase hex> (or sha512:<128 lowercase hex>), as printed by the registry or scripts/build-image");
    }
    return digest;
}

export function isDigest(reference: string): boolean {
    return /^[a-z0-9]+:/.test(reference);
}

export function digestAlgorithm(digest: string): DigestAlgorithm {
    return validateDigest(digest).split(":", 1)[0] as DigestAlgorithm;
}

/** A tag or a digest, validated as whichever it looks like. */
export function validateManifestReference(reference: string): string {
    return isDigest(reference) ? validateDigest(reference) : validateTag(reference);
}

export function shortDigest(digest: string): string {
    return digest.replace(/^(sha256|sha512):/, "").slice(0, 12);
}

/** `registry/repository@digest`, the only form that ever reaches a host. */
export function pinnedRef(registry: string, repository: string, digest: string): string {
    return `${validateRegistry(registry)}/${validateRepository(repository)}@${validateDigest(digest)}`;
}

export interface Platform {
    os: string;
    architecture: string;
    variant?: string;
}

export function parsePlatform(platform: string): Platform {
    const match = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/.exec(platform);
    if (!match) {
        throw new InvalidReferenceError("platform", platform, "expected os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8");
    }
    return { os: match[1], architecture: match[2], variant: match[3] };
}

/** `repository:tag` or `repository@digest` (no registry: the workspace's), split and validated. */
export function parseRepositoryReference(reference: string): { repository: string; tag?: string; digest?: string } {
    const at = reference.indexOf("@");
    if (at >= 0) {
        return { repository: validateRepository(reference.slice(0, at)), digest: validateDigest(reference.slice(at + 1)) };
    }
    const colon = reference.lastIndexOf(":");
    if (colon < 0) {
        throw new InvalidReferenceError("reference", reference, "expected repository:tag or repository@sha256:…");
    }
    return { repository: validateRepository(reference.slice(0, colon)), tag: validateTag(reference.slice(colon + 1)) };
}
