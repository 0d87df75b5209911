// Typed errors: each message names the registry, repository and tag/digest involved and says what to do
// next. None ever carries a credential: messages are built from names only, never from request options.
// Whatever the registry itself wrote (error bodies, values it sent) is made printable before it is shown.
import { printable } from "../model/printable";

/** Where in a registry something went wrong: `127.0.0.1:5000/rednaw/hello-world:eb53023`. */
export interface RegistryLocation {
    registry: string;
    repository?: string;
    reference?: string;
}

export function describeLocation(location: RegistryLocation): string {
    let text = location.registry;
    if (location.repository) {
        text += `/${location.repository}`;
        if (location.reference) {
            text += location.reference.includes(":") ? `@${location.reference}` : `:${location.reference}`;
        }
    }
    return text;
}

/** One HTTP request to a registry or its token service, as messages name it. */
export interface RegistryRequest {
    location: RegistryLocation;
    method: string;
    /** The path and query on the registry; the URL without its query for a token service. */
    path: string;
    timeoutMs: number;
}

/** What the registry sent may be anything; a message quotes only a short, printable start of it. */
const maxQuotedLength = 300;

function quoted(text: string): string {
    const shown = printable(text);
    return shown.length <= maxQuotedLength ? shown : `${shown.slice(0, maxQuotedLength)}…`;
}

export class RegistryError extends Error {
    constructor(message: string, public readonly location?: RegistryLocation) {
        super(message);
        this.name = this.constructor.name;
    }
}

export class InvalidReferenceError extends RegistryError {
    constructor(public readonly kind: string, public readonly value: string, expected: string) {
        super(`invalid ${kind} ${quoted(JSON.stringify(value))}: ${expected}`);
    }
}

export class TagNotFoundError extends RegistryError {
    constructor(location: RegistryLocation & { reference: string }, public readonly closest: string[]) {
        const hint = closest.length > 0
            ? `closest existing tags: ${closest.join(", ")}`
            : "the repository has no tags";
        super(`tag ${location.reference} not found in ${location.registry}/${location.repository} (${hint}); ` +
            "check the tag with `npm run registry:overview`, then `pulumi config set <app>:tag <tag>`", location);
    }
}

export class ManifestNotFoundError extends RegistryError {
    constructor(location: RegistryLocation & { reference: string }) {
        super(`manifest ${describeLocation(location)} not found: the digest may have been deleted by cleanup; ` +
            "pick an existing one with `npm run registry:overview`", location);
    }
}

/** A blob a manifest names (for this project, always an image's config) is not in the repository. */
export class BlobNotFoundError extends RegistryError {
    constructor(location: RegistryLocation & { reference: string }) {
        super(`blob ${describeLocation(location)} not found: the image that names it is incomplete in the registry ` +
            "(its config deleted from storage, or never pushed); push the image again, or pick another with " +
            "`npm run registry:overview`", location);
    }
}

/**
 * What a tag or digest names is not an image this project can read for the platform, though the registry answered:
 * an index without that platform, a manifest without a config. `reason` says so in a few words, for an overview row.
 */
export class UnreadableImageError extends RegistryError {
    readonly reason: string;

    constructor(location: RegistryLocation & { reference: string }, reason: string, next: string) {
        super(`${describeLocation(location)}: ${quoted(reason)}; ${next}`, location);
        this.reason = quoted(reason);
    }
}

export class RepositoryNotFoundError extends RegistryError {
    constructor(location: RegistryLocation & { repository: string }) {
        super(`repository ${location.repository} not found in ${location.registry}: check the app's image ` +
            "(`pulumi config get <app>:image`) against `npm run registry:overview`", location);
    }
}

export class RegistryAuthError extends RegistryError {
    constructor(location: RegistryLocation, status: number, hasCredentials: boolean) {
        const what = hasCredentials
            ? "refused the configured credentials"
            : "requires credentials and none are configured";
        super(`registry ${location.registry} ${what} (HTTP ${status}) for ${describeLocation(location)}; ` +
            "set them with `pulumi config set iac:registryUsername <user>` and " +
            "`pulumi config set --secret iac:registryPassword`, or `docker login " + location.registry + "`", location);
    }
}

export class RegistryUnreachableError extends RegistryError {
    constructor(location: RegistryLocation, cause: string) {
        super(`registry ${location.registry} could not be reached (${quoted(cause)}) while reading ${describeLocation(location)}; ` +
            "check that it is running and that iac:registry (and iac:registryInsecure for plain http) are right", location);
    }
}

export class DigestMismatchError extends RegistryError {
    constructor(location: RegistryLocation, public readonly expected: string, public readonly actual: string, public readonly what: string) {
        super(`${what} for ${describeLocation(location)} is ${actual}, expected ${expected}`, location);
    }
}

export class RegistryResponseError extends RegistryError {
    constructor(location: RegistryLocation, public readonly status: number, method: string, detail: string) {
        super(`registry ${location.registry} answered HTTP ${status} to ${method} for ${describeLocation(location)}` +
            (detail ? `: ${quoted(detail)}` : ""), location);
    }
}

/** A registry (or token service) answered in a way no OCI distribution registry does. */
export class MalformedResponseError extends RegistryError {
    constructor(public readonly request: RegistryRequest, public readonly problem: string) {
        super(`registry ${request.location.registry} sent an unusable answer to ${request.method} ${quoted(request.path)} ` +
            `while reading ${describeLocation(request.location)}: ${quoted(problem)}; check that iac:registry names an OCI ` +
            "distribution registry, and its logs (or any proxy in front of it)", request.location);
    }
}

/** The request's deadline passed before the answer, body included, was complete. */
export class RegistryTimeoutError extends RegistryError {
    constructor(public readonly request: RegistryRequest) {
        super(`registry ${request.location.registry} did not complete its answer to ${request.method} ${quoted(request.path)} ` +
            `within ${request.timeoutMs / 1000} s while reading ${describeLocation(request.location)}; check the registry's ` +
            "load and the network to it, then run again", request.location);
    }
}

export class DeleteNotSupportedError extends RegistryError {
    constructor(location: RegistryLocation) {
        super(`registry ${location.registry} does not allow deleting ${describeLocation(location)}: ` +
            "enable it in the registry's config (storage.delete.enabled: true) and restart it", location);
    }
}
