// The OCI Distribution API over HTTP: one client per registry, with the auth handshake, timeouts and
// bounded retries. Names are validated (./reference) before they are put in a URL.
import * as crypto from "crypto";
import { closest } from "fastest-levenshtein";
import { Credentials, basicAuthorization, catalogScope, parseChallenges, repositoryScope } from "./auth";
import { DigestCache } from "./cache";
import {
    DeleteNotSupportedError, DigestMismatchError, ManifestNotFoundError, RegistryAuthError, RegistryLocation,
    RegistryResponseError, RegistryUnreachableError, RepositoryNotFoundError, TagNotFoundError,
} from "./errors";
import {
    Platform, digestAlgorithm, isDigest, parsePlatform, validateDigest, validateManifestReference, validateRegistry,
    validateRepository, validateTag,
} from "./reference";
import {
    Descriptor, ImageConfigBody, ImageManifestBody, ImageMetadata, Manifest, isIndex, labelsOf, manifestAccept,
} from "./types";

export interface RegistryClientOptions {
    /** host[:port], e.g. 127.0.0.1:5000 */
    registry: string;
    /** Plain http instead of https (a registry on loopback). */
    insecure?: boolean;
    credentials?: Credentials;
    /** Per request, in milliseconds. */
    timeoutMs?: number;
    /** Further attempts after a 429, a 5xx or a connection error. */
    retries?: number;
    /** First backoff delay in milliseconds; doubles with each retry. */
    retryDelayMs?: number;
    /** Where manifests fetched by digest and blobs are kept between runs; none when absent. */
    cache?: DigestCache;
}

export const defaultPlatform = "linux/amd64";

interface RequestOptions {
    location: RegistryLocation;
    scope: string;
    accept?: string;
}

interface BearerRealm {
    realm: string;
    service?: string;
}

interface CachedToken {
    authorization: string;
    expiresAt: number;
}

const maxRetryAfterMs = 10_000;
const tokenLifetimeMarginMs = 10_000;

export class RegistryClient {
    readonly registry: string;
    private readonly baseUrl: string;
    private readonly credentials?: Credentials;
    private readonly timeoutMs: number;
    private readonly retries: number;
    private readonly retryDelayMs: number;
    private readonly cache?: DigestCache;
    /** Learnt from the first challenge, so later requests authenticate up front instead of after a 401. */
    private scheme: "basic" | "bearer" | undefined;
    private bearerRealm: BearerRealm | undefined;
    private readonly tokens = new Map<string, CachedToken>();

    constructor(options: RegistryClientOptions) {
        this.registry = validateRegistry(options.registry);
        this.baseUrl = `${options.insecure ? "http" : "https"}://${this.registry}`;
        this.credentials = options.credentials;
        this.timeoutMs = options.timeoutMs ?? 30_000;
        this.retries = options.retries ?? 3;
        this.retryDelayMs = options.retryDelayMs ?? 250;
        this.cache = options.cache;
    }

    /** The digest a tag (or digest) points at, from a HEAD; a GET hashes the bytes where the header is missing. */
    async resolve(repository: string, reference: string): Promise<string> {
        validateRepository(repository);
        validateManifestReference(reference);
        const location = { registry: this.registry, repository, reference };
        const response = await this.send("HEAD", `/v2/${repository}/manifests/${reference}`,
            { location, scope: repositoryScope(repository, "pull"), accept: manifestAccept });
        if (response.status === 404) {
            throw await this.notFound(location);
        }
        await this.expectOk(response, "HEAD", location);
        const header = response.headers.get("docker-content-digest");
        if (header) {
            validateDigest(header);
            if (isDigest(reference) && header !== reference) {
                throw new DigestMismatchError(location, reference, header, "the registry's Docker-Content-Digest");
            }
            return header;
        }
        return (await this.getManifest(repository, reference)).digest;
    }

    async resolveTag(repository: string, tag: string): Promise<string> {
        return this.resolve(repository, validateTag(tag));
    }

    /** A manifest by tag or digest, its bytes verified against the digest asked for or announced. */
    async getManifest(repository: string, reference: string): Promise<Manifest> {
        validateRepository(repository);
        validateManifestReference(reference);
        const cached = isDigest(reference) ? this.cache?.get(reference) : undefined;
        if (cached) {
            return parseManifest(cached, reference, undefined);
        }
        const location = { registry: this.registry, repository, reference };
        const response = await this.send("GET", `/v2/${repository}/manifests/${reference}`,
            { location, scope: repositoryScope(repository, "pull"), accept: manifestAccept });
        if (response.status === 404) {
            throw await this.notFound(location);
        }
        await this.expectOk(response, "GET", location);
        const bytes = Buffer.from(await response.arrayBuffer());
        const announced = response.headers.get("docker-content-digest");
        const expected = isDigest(reference) ? reference : announced ? validateDigest(announced) : undefined;
        const digest = expected ? verifyDigest(bytes, expected, location, "manifest") : hashOf(bytes, "sha256");
        this.cache?.put(digest, bytes);
        return parseManifest(bytes, digest, response.headers.get("content-type"));
    }

    /** A blob by digest, verified. */
    async getBlob(repository: string, digest: string): Promise<Buffer> {
        validateRepository(repository);
        validateDigest(digest);
        const cached = this.cache?.get(digest);
        if (cached) {
            return cached;
        }
        const location = { registry: this.registry, repository, reference: digest };
        const response = await this.send("GET", `/v2/${repository}/blobs/${digest}`,
            { location, scope: repositoryScope(repository, "pull") });
        if (response.status === 404) {
            await response.body?.cancel();
            throw new ManifestNotFoundError(location);
        }
        await this.expectOk(response, "GET", location);
        const bytes = Buffer.from(await response.arrayBuffer());
        verifyDigest(bytes, digest, location, "blob");
        this.cache?.put(digest, bytes);
        return bytes;
    }

    /**
     * The OCI labels of the image a digest names; for an index, of the image for `platform`.
     */
    async imageMetadata(repository: string, digest: string, platform = defaultPlatform): Promise<ImageMetadata> {
        const wanted = parsePlatform(platform);
        const top = await this.getManifest(repository, validateDigest(digest));
        let image = top;
        if (isIndex(top)) {
            const entry = selectPlatform(top.body.manifests ?? [], wanted);
            if (!entry) {
                const available = (top.body.manifests ?? []).map(formatPlatform).join(", ");
                throw new RegistryResponseError({ registry: this.registry, repository, reference: digest }, 200, "GET",
                    `the index has no ${platform} image (it has: ${available || "none"}); set iac:platform to one of those`);
            }
            image = await this.getManifest(repository, entry.digest);
        }
        const configDigest = image.body.config?.digest;
        if (!configDigest) {
            throw new RegistryResponseError({ registry: this.registry, repository, reference: image.digest }, 200, "GET",
                "the manifest has no config descriptor, so it is not an image");
        }
        const config = JSON.parse((await this.getBlob(repository, configDigest)).toString("utf8")) as ImageConfigBody;
        return { digest: top.digest, imageDigest: image.digest, configDigest, ...labelsOf(config) };
    }

    async listTags(repository: string): Promise<string[]> {
        validateRepository(repository);
        const location = { registry: this.registry, repository };
        const pages = await this.paginate<{ tags?: string[] | null }>(`/v2/${repository}/tags/list`,
            { location, scope: repositoryScope(repository, "pull") }, () => new RepositoryNotFoundError(location));
        return pages.flatMap((page) => page.tags ?? []);
    }

    async catalog(): Promise<string[]> {
        const pages = await this.paginate<{ repositories?: string[] | null }>("/v2/_catalog",
            { location: { registry: this.registry }, scope: catalogScope }, undefined);
        return pages.flatMap((page) => page.repositories ?? []);
    }

    /** Deletes a manifest by digest: every tag on it goes too. Blobs are reclaimed by the registry's GC. */
    async deleteManifest(repository: string, digest: string): Promise<void> {
        await this.deleteReference(repository, validateDigest(digest), [405],
            (location) => new ManifestNotFoundError(location));
    }

    /** Removes one tag, leaving the manifest and its other tags (Registry v3; older registries refuse). */
    async deleteTag(repository: string, tag: string): Promise<void> {
        await this.deleteReference(repository, validateTag(tag), [405, 400],
            (location) => new TagNotFoundError(location, []));
    }

    /** DELETE of a manifest reference; `unsupported` are the statuses by which a registry says it won't. */
    private async deleteReference(repository: string, reference: string, unsupported: number[],
        notFound: (location: RegistryLocation & { reference: string }) => Error): Promise<void> {
        validateRepository(repository);
        const location = { registry: this.registry, repository, reference };
        const response = await this.send("DELETE", `/v2/${repository}/manifests/${reference}`,
            { location, scope: repositoryScope(repository, "pull,delete") });
        if (response.status === 404) {
            await response.body?.cancel();
            throw notFound(location);
        }
        if (unsupported.includes(response.status)) {
            await response.body?.cancel();
            throw new DeleteNotSupportedError(location);
        }
        await this.expectOk(response, "DELETE", location);
        await response.body?.cancel();
    }

    private async paginate<T>(firstPath: string, options: RequestOptions,
        onNotFound: (() => Error) | undefined): Promise<T[]> {
        const pages: T[] = [];
        let next: string | undefined = firstPath;
        while (next) {
            const response = await this.send("GET", next, options);
            if (response.status === 404 && onNotFound) {
                await response.body?.cancel();
                throw onNotFound();
            }
            await this.expectOk(response, "GET", options.location);
            pages.push(await response.json() as T);
            next = nextLink(response.headers.get("link"));
        }
        return pages;
    }

    /** A 404 on a tag: say whether the repository exists, and if so which tags are closest. */
    private async notFound(location: RegistryLocation & { repository: string; reference: string }): Promise<Error> {
        if (isDigest(location.reference)) {
            return new ManifestNotFoundError(location);
        }
        const tags = await this.listTags(location.repository);
        return new TagNotFoundError(location, closestTags(location.reference, tags));
    }

    private async expectOk(response: Response, method: string, location: RegistryLocation): Promise<void> {
        if (response.ok) {
            return;
        }
        const detail = method === "HEAD" ? "" : errorDetail(await response.text().catch(() => ""));
        if (response.status === 401 || response.status === 403) {
            throw new RegistryAuthError(location, response.status, this.credentials !== undefined);
        }
        throw new RegistryResponseError(location, response.status, method, detail);
    }

    private async send(method: string, pathOrUrl: string, options: RequestOptions): Promise<Response> {
        const url = new URL(pathOrUrl, this.baseUrl).toString();
        let authenticated = false;
        for (let attempt = 0; ; attempt++) {
            const headers: Record<string, string> = {};
            if (options.accept) {
                headers.accept = options.accept;
            }
            const authorization = await this.authorizationFor(options);
            if (authorization) {
                headers.authorization = authorization;
            }
            let response: Response;
            try {
                response = await fetch(url, { method, headers, signal: AbortSignal.timeout(this.timeoutMs) });
            } catch (error) {
                if (attempt < this.retries) {
                    await sleep(this.backoff(attempt));
                    continue;
                }
                throw new RegistryUnreachableError(options.location, describeFetchError(error, this.timeoutMs));
            }
            if (response.status === 401 && !authenticated) {
                const challenge = response.headers.get("www-authenticate");
                await response.body?.cancel();
                authenticated = true;
                if (challenge && this.learnChallenge(challenge, options)) {
                    attempt--; // the handshake is not a retry
                    continue;
                }
                throw new RegistryAuthError(options.location, 401, this.credentials !== undefined);
            }
            if ((response.status === 429 || response.status >= 500) && attempt < this.retries) {
                const retryAfter = Number(response.headers.get("retry-after"));
                await response.body?.cancel();
                await sleep(Number.isFinite(retryAfter) && retryAfter > 0
                    ? Math.min(retryAfter * 1000, maxRetryAfterMs) : this.backoff(attempt));
                continue;
            }
            return response;
        }
    }

    /** Remembers how the registry wants to be spoken to; false when we have nothing it would accept. */
    private learnChallenge(header: string, options: RequestOptions): boolean {
        for (const challenge of parseChallenges(header)) {
            if (challenge.scheme === "bearer" && challenge.params.realm) {
                this.scheme = "bearer";
                this.bearerRealm = { realm: challenge.params.realm, service: challenge.params.service };
                this.tokens.delete(challenge.params.scope ?? options.scope);
                return true;
            }
            if (challenge.scheme === "basic" && this.credentials) {
                this.scheme = "basic";
                return true;
            }
        }
        return false;
    }

    private async authorizationFor(options: RequestOptions): Promise<string | undefined> {
        if (this.scheme === "basic" && this.credentials) {
            return basicAuthorization(this.credentials);
        }
        if (this.scheme !== "bearer" || !this.bearerRealm) {
            return undefined;
        }
        const cached = this.tokens.get(options.scope);
        if (cached && cached.expiresAt > Date.now()) {
            return cached.authorization;
        }
        const token = await this.fetchToken(this.bearerRealm, options);
        this.tokens.set(options.scope, token);
        return token.authorization;
    }

    private async fetchToken(realm: BearerRealm, options: RequestOptions): Promise<CachedToken> {
        const url = new URL(realm.realm);
        if (realm.service) {
            url.searchParams.set("service", realm.service);
        }
        url.searchParams.set("scope", options.scope);
        const headers: Record<string, string> = {};
        if (this.credentials) {
            headers.authorization = basicAuthorization(this.credentials);
        }
        let response: Response;
        try {
            response = await fetch(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
        } catch (error) {
            throw new RegistryUnreachableError(options.location,
                `token service ${url.host}: ${describeFetchError(error, this.timeoutMs)}`);
        }
        if (!response.ok) {
            await response.body?.cancel();
            throw new RegistryAuthError(options.location, response.status, this.credentials !== undefined);
        }
        const body = await response.json() as { token?: string; access_token?: string; expires_in?: number };
        const token = body.token ?? body.access_token;
        if (!token) {
            throw new RegistryAuthError(options.location, response.status, this.credentials !== undefined);
        }
        // The token spec's default lifetime is 60 s.
        const lifetimeMs = (body.expires_in ?? 60) * 1000;
        return { authorization: `Bearer ${token}`, expiresAt: Date.now() + lifetimeMs - tokenLifetimeMarginMs };
    }

    private backoff(attempt: number): number {
        return this.retryDelayMs * 2 ** attempt * (0.5 + Math.random() / 2);
    }
}

/** The manifest's own mediaType wins; the Content-Type header is the fallback (older Docker manifests). */
function parseManifest(bytes: Buffer, digest: string, contentType: string | null | undefined): Manifest {
    const body = JSON.parse(bytes.toString("utf8")) as ImageManifestBody;
    const mediaType = body.mediaType ?? contentType?.split(";")[0] ?? "";
    return { digest, mediaType, bytes, body };
}

function hashOf(bytes: Buffer, algorithm: string): string {
    return `${algorithm}:${crypto.createHash(algorithm).update(bytes).digest("hex")}`;
}

function verifyDigest(bytes: Buffer, expected: string, location: RegistryLocation, what: string): string {
    const actual = hashOf(bytes, digestAlgorithm(expected));
    if (actual !== expected) {
        throw new DigestMismatchError(location, expected, actual, `the ${what} bytes served`);
    }
    return expected;
}

/** The `rel="next"` target of a Link header (RFC 8288), as the registry sends it for pagination. */
export function nextLink(header: string | null): string | undefined {
    if (!header) {
        return undefined;
    }
    for (const link of header.split(/,(?=\s*<)/)) {
        const match = /^\s*<([^>]*)>(.*)$/.exec(link);
        if (match && /;\s*rel="?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2])) {
            return match[1];
        }
    }
    return undefined;
}

export function closestTags(tag: string, tags: string[], count = 5): string[] {
    const remaining = [...tags];
    const found: string[] = [];
    while (found.length < count && remaining.length > 0) {
        const best = closest(tag, remaining);
        found.push(best);
        remaining.splice(remaining.indexOf(best), 1);
    }
    return found;
}

function selectPlatform(manifests: Descriptor[], wanted: Platform): Descriptor | undefined {
    return manifests.find((entry) => entry.platform?.os === wanted.os &&
        entry.platform.architecture === wanted.architecture &&
        (wanted.variant === undefined || entry.platform.variant === wanted.variant));
}

function formatPlatform(entry: Descriptor): string {
    const platform = entry.platform;
    return platform ? [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/") : "unknown";
}

/** The registry's own words from an error body ({"errors":[{"code","message"}]}), kept short. */
function errorDetail(body: string): string {
    try {
        const errors = (JSON.parse(body) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
        return errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ").slice(0, 300);
    } catch {
        return body.slice(0, 300);
    }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
    const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (err.name === "TimeoutError" || err.name === "AbortError") {
        return `no answer within ${timeoutMs / 1000} s`;
    }
    return err.cause?.code ?? err.cause?.message ?? err.message ?? String(error);
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
