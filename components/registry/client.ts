// The OCI Distribution API over HTTP: one client per registry, with timeouts and bounded retries, over the auth
// layer (./auth/authenticator) and the transport (./transport). Names are validated (./reference) before they are put in a URL; whatever the registry
// sends back is capped, timed and checked before it is used, and requests go to the registry's own origin
// only (see docs/registry-security.md for what is sent where).
import * as crypto from "crypto";
import { closest } from "fastest-levenshtein";
import { Authenticator } from "./auth/authenticator";
import { Credentials } from "./auth/credentials";
import { AuthMethod } from "./auth/method";
import { catalogScope, repositoryScope } from "./auth/scope";
import { BodyCap, Exchange, isTimeout, parseJson, readBody, readErrorText } from "./body";
import { DigestCache } from "./cache";
import {
    BlobNotFoundError, DeleteNotSupportedError, DigestMismatchError, MalformedResponseError, ManifestNotFoundError,
    RegistryAuthError, RegistryLocation, RegistryRequest, RegistryResponseError, RegistryTimeoutError,
    RegistryUnreachableError, RepositoryNotFoundError, TagNotFoundError, UnreadableImageError,
} from "./errors";
import {
    Platform, digestAlgorithm, isDigest, parsePlatform, validateDigest, validateManifestReference, validateRegistry,
    validateRepository, validateTag,
} from "./reference";
import {
    Descriptor, ImageManifestBody, ImageMetadata, Manifest, isIndex, isObject, labelsOf, manifestAccept, manifestProblem,
} from "./types";
import { RedirectError, Transport, TransportResponse, discard } from "./transport";

export interface RegistryClientOptions {
    /** host[:port], e.g. 127.0.0.1:5000 */
    registry: string;
    /** Plain http instead of https (a registry on loopback). */
    insecure?: boolean;
    credentials?: Credentials;
    /** Per request, in milliseconds, from sending it to the last byte of its answer. */
    timeoutMs?: number;
    /** Further attempts after a 429, a 5xx or a connection error. */
    retries?: number;
    /** First backoff delay in milliseconds; doubles with each retry. */
    retryDelayMs?: number;
    /** Where manifests fetched by digest and blobs are kept between runs; none when absent. */
    cache?: DigestCache;
    /** The methods a registry's challenge may pick; default ./auth/authenticator's authMethods. */
    authMethods?: readonly AuthMethod[];
}

export const defaultPlatform = "linux/amd64";

interface RequestOptions {
    location: RegistryLocation;
    scope: string;
    accept?: string;
}

const MiB = 1024 * 1024;
const manifestCap: BodyCap = { bytes: 4 * MiB, what: "a manifest larger than 4 MiB, the limit distribution itself enforces" };
// Blobs are only read for image configs (layers never are): labels, history and a digest per layer.
const blobCap: BodyCap = { bytes: 8 * MiB, what: "an image config larger than 8 MiB" };
/** All pages of one tag list or catalog together; 32 MiB holds well over 200,000 of the longest tags. */
const listingBytes = 32 * MiB;
/** Distribution pages its catalog by 100 to 1,000 entries: 1,000 pages is far more than any honest registry sends. */
const maxPages = 1000;
const maxRetryAfterMs = 10_000;

export class RegistryClient {
    readonly registry: string;
    private readonly baseUrl: URL;
    private readonly insecure: boolean;
    private readonly credentials?: Credentials;
    private readonly timeoutMs: number;
    private readonly retries: number;
    private readonly retryDelayMs: number;
    private readonly cache?: DigestCache;
    private readonly auth: Authenticator;
    /**
     * Digests this client has already put in (or read from) the cache: a listing fetches the same manifest once
     * per tag on it, and writing the same file again each time cost more than the request.
     */
    private readonly cached = new Set<string>();
    /** Made on the first request, not in the constructor: a serialized client must not carry live sockets. */
    private connections?: Transport;

    constructor(options: RegistryClientOptions) {
        this.registry = validateRegistry(options.registry);
        this.insecure = options.insecure ?? false;
        this.baseUrl = new URL(`${this.insecure ? "http" : "https"}://${this.registry}`);
        this.credentials = options.credentials;
        this.timeoutMs = options.timeoutMs ?? 30_000;
        this.retries = options.retries ?? 3;
        this.retryDelayMs = options.retryDelayMs ?? 250;
        this.cache = options.cache;
        this.auth = new Authenticator({
            credentials: this.credentials,
            insecure: this.insecure,
            get: (url, headers, location) => this.exchange("GET", url, headers, this.describe("GET", url, location)),
        }, options.authMethods);
    }

    /** The digest a tag (or digest) points at, from a HEAD; a GET hashes the bytes where the header is missing. */
    async resolve(repository: string, reference: string): Promise<string> {
        validateRepository(repository);
        validateManifestReference(reference);
        const location = { registry: this.registry, repository, reference };
        const exchange = await this.send("HEAD", manifestPath(repository, reference),
            { location, scope: repositoryScope(repository, "pull"), accept: manifestAccept });
        if (exchange.response.status === 404) {
            throw await this.notFound(location);
        }
        await this.expectOk(exchange);
        const header = exchange.response.header("docker-content-digest");
        if (header) {
            const digest = sentValue(validateDigest, header, exchange.request, "its Docker-Content-Digest header");
            if (isDigest(reference) && digest !== reference) {
                throw new DigestMismatchError(location, reference, digest, "the registry's Docker-Content-Digest");
            }
            return digest;
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
        const location = { registry: this.registry, repository, reference };
        const path = manifestPath(repository, reference);
        const cached = isDigest(reference) ? this.cache?.get(reference) : undefined;
        if (cached) {
            return parseManifest(cached, reference, undefined, this.describe("GET", this.url(path), location));
        }
        const exchange = await this.send("GET", path,
            { location, scope: repositoryScope(repository, "pull"), accept: manifestAccept });
        const { response, request } = exchange;
        if (response.status === 404) {
            await discard(response.body);
            throw await this.notFound(location);
        }
        await this.expectOk(exchange);
        const bytes = await readBody(response, request, manifestCap);
        const announced = response.header("docker-content-digest");
        const expected = isDigest(reference) ? reference
            : announced ? sentValue(validateDigest, announced, request, "its Docker-Content-Digest header") : undefined;
        const digest = expected ? verifyDigest(bytes, expected, location, "manifest") : hashOf(bytes, "sha256");
        const manifest = parseManifest(bytes, digest, response.header("content-type"), request);
        this.keep(digest, bytes);
        return manifest;
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
        const exchange = await this.send("GET", blobPath(repository, digest),
            { location, scope: repositoryScope(repository, "pull") });
        if (exchange.response.status === 404) {
            await discard(exchange.response.body);
            throw new BlobNotFoundError(location);
        }
        await this.expectOk(exchange);
        const bytes = await readBody(exchange.response, exchange.request, blobCap);
        verifyDigest(bytes, digest, location, "blob");
        this.keep(digest, bytes);
        return bytes;
    }

    private keep(digest: string, bytes: Buffer): void {
        if (this.cache && !this.cached.has(digest)) {
            this.cache.put(digest, bytes);
            this.cached.add(digest);
        }
    }

    /**
     * The OCI labels of the image a digest names; for an index, of the image for `platform`. `tag`, the tag the
     * digest was resolved from, is what an error names: the operator asked for it.
     */
    async imageMetadata(repository: string, digest: string, platform = defaultPlatform, tag?: string): Promise<ImageMetadata> {
        parsePlatform(platform);
        return this.imageMetadataOf(repository, await this.getManifest(repository, validateDigest(digest)), platform, tag);
    }

    /** imageMetadata of a manifest already fetched (and verified), e.g. by tag: its own GET is not repeated. */
    async imageMetadataOf(repository: string, top: Manifest, platform = defaultPlatform, tag?: string): Promise<ImageMetadata> {
        validateRepository(repository);
        const wanted = parsePlatform(platform);
        const asked = { registry: this.registry, repository, reference: tag ?? top.digest };
        let image = top;
        if (isIndex(top)) {
            const entry = selectPlatform(top.body.manifests ?? [], wanted);
            if (!entry) {
                const available = (top.body.manifests ?? []).map(formatPlatform).join(", ") || "none";
                throw new UnreadableImageError(asked, `no ${platform} image in this index: ${available}`,
                    `deploy a tag built for ${platform} (\`npm run registry:overview\` lists the tags), or, if the ` +
                    "workspace's hosts run one of those platforms, set iac:platform to it");
            }
            image = await this.getManifest(repository, entry.digest);
        }
        const configDigest = image.body.config?.digest;
        if (!configDigest) {
            throw new UnreadableImageError(asked, "not an image: its manifest has no config",
                "deploy a tag that names a container image (`npm run registry:overview` lists the tags)");
        }
        const location = { registry: this.registry, repository, reference: configDigest };
        const request = this.describe("GET", this.url(blobPath(repository, configDigest)), location);
        const config = parseJson(await this.getBlob(repository, configDigest), request, "image config");
        if (!isObject(config)) {
            throw new MalformedResponseError(request, "the image config is not a JSON object");
        }
        return { digest: top.digest, imageDigest: image.digest, configDigest, ...labelsOf(config) };
    }

    async listTags(repository: string): Promise<string[]> {
        validateRepository(repository);
        const location = { registry: this.registry, repository };
        return this.paginate(`/v2/${repository}/tags/list`, { location, scope: repositoryScope(repository, "pull") },
            () => new RepositoryNotFoundError(location), { key: "tags", validate: validateTag });
    }

    async catalog(): Promise<string[]> {
        return this.paginate("/v2/_catalog", { location: { registry: this.registry }, scope: catalogScope },
            undefined, { key: "repositories", validate: validateRepository });
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
        const exchange = await this.send("DELETE", manifestPath(repository, reference),
            { location, scope: repositoryScope(repository, "pull,delete") });
        const { response } = exchange;
        if (response.status === 404) {
            await discard(response.body);
            throw notFound(location);
        }
        if (unsupported.includes(response.status)) {
            await discard(response.body);
            throw new DeleteNotSupportedError(location);
        }
        await this.expectOk(exchange);
        await discard(response.body);
    }

    /**
     * Every name of a paginated listing. The next page must be on the registry's own origin (it gets our
     * credentials), must not repeat one already read, and all pages together are capped in count and size.
     */
    private async paginate(firstPath: string, options: RequestOptions, onNotFound: (() => Error) | undefined,
        names: { key: string; validate: (name: string) => string }): Promise<string[]> {
        const pages: string[][] = [];
        const seen = new Set<string>();
        let bytesRead = 0;
        let next: URL | undefined = this.url(firstPath);
        while (next) {
            seen.add(next.href);
            const exchange = await this.send("GET", next, options);
            const { response, request } = exchange;
            if (response.status === 404 && onNotFound) {
                await discard(response.body);
                throw onNotFound();
            }
            await this.expectOk(exchange);
            const bytes = await readBody(response, request,
                { bytes: listingBytes - bytesRead, what: `a listing larger than ${listingBytes / MiB} MiB over all its pages` });
            bytesRead += bytes.length;
            pages.push(namesOf(parseJson(bytes, request, "listing"), names.key, names.validate, request));
            const link = nextLink(response.header("link") ?? null);
            next = link === undefined ? undefined : this.nextPage(link, next, request, seen);
        }
        // Joined once at the end: spreading a page of hundreds of thousands of names into push overflows the stack.
        return pages.flat();
    }

    private nextPage(link: string, current: URL, request: RegistryRequest, seen: Set<string>): URL {
        let next: URL;
        try {
            next = new URL(link, current);
        } catch {
            throw new MalformedResponseError(request, `its Link header names no URL: <${link}>`);
        }
        if (next.origin !== this.baseUrl.origin || next.username || next.password) {
            throw new MalformedResponseError(request, `its Link header points at ${next.origin}, not at the registry ` +
                `(${this.baseUrl.origin}): the next page is not followed, so no credential goes there`);
        }
        if (seen.has(next.href)) {
            throw new MalformedResponseError(request,
                `its Link header points back at ${next.pathname}${next.search}, a page already read: the listing would never end`);
        }
        if (seen.size >= maxPages) {
            throw new MalformedResponseError(request, `the listing goes on past ${maxPages} pages`);
        }
        return next;
    }

    /** A 404 on a tag: say whether the repository exists, and if so which tags are closest. */
    private async notFound(location: RegistryLocation & { repository: string; reference: string }): Promise<Error> {
        if (isDigest(location.reference)) {
            return new ManifestNotFoundError(location);
        }
        const tags = await this.listTags(location.repository);
        return new TagNotFoundError(location, closestTags(location.reference, tags));
    }

    private async expectOk({ response, request }: Exchange): Promise<void> {
        if (response.ok) {
            return;
        }
        const detail = request.method === "HEAD" ? "" : errorDetail(await readErrorText(response, request));
        if (response.status === 401 || response.status === 403) {
            throw new RegistryAuthError(request.location, response.status, this.credentials !== undefined);
        }
        throw new RegistryResponseError(request.location, response.status, request.method, detail);
    }

    private url(path: string): URL {
        return new URL(path, this.baseUrl);
    }

    private describe(method: string, url: URL, location: RegistryLocation): RegistryRequest {
        const path = url.origin === this.baseUrl.origin ? `${url.pathname}${url.search}` : `${url.origin}${url.pathname}`;
        return { location, method, path, timeoutMs: this.timeoutMs };
    }

    /**
     * One request with its retries. Each attempt has its own deadline (./transport), which also ends a body
     * still being read when it passes.
     */
    private async send(method: string, pathOrUrl: string | URL, options: RequestOptions): Promise<Exchange> {
        const url = typeof pathOrUrl === "string" ? this.url(pathOrUrl) : pathOrUrl;
        const request = this.describe(method, url, options.location);
        let challenged = false;
        for (let attempt = 0; ; attempt++) {
            const headers: Record<string, string> = {};
            if (options.accept) {
                headers.accept = options.accept;
            }
            const authorization = await this.auth.authorization(options.scope, options.location);
            if (authorization) {
                headers.authorization = authorization;
            }
            let response: TransportResponse;
            try {
                ({ response } = await this.exchange(method, url, headers, request));
            } catch (error) {
                if (error instanceof MalformedResponseError || attempt >= this.retries) {
                    throw error;
                }
                await sleep(this.backoff(attempt));
                continue;
            }
            if (response.status === 401 && !challenged) {
                const challenge = response.header("www-authenticate");
                await discard(response.body);
                challenged = true;
                if (this.auth.follow(challenge, request)) {
                    attempt--; // the handshake is not a retry
                    continue;
                }
                throw new RegistryAuthError(options.location, 401, this.credentials !== undefined);
            }
            if ((response.status === 429 || response.status >= 500) && attempt < this.retries) {
                const retryAfter = Number(response.header("retry-after"));
                await discard(response.body);
                // Never waits longer than a request may take: a registry cannot stretch one call indefinitely.
                await sleep(Number.isFinite(retryAfter) && retryAfter > 0
                    ? Math.min(retryAfter * 1000, maxRetryAfterMs, this.timeoutMs) : this.backoff(attempt));
                continue;
            }
            return { response, request };
        }
    }

    /**
     * One attempt over the transport, for the registry and for the auth layer alike: the one place a failure to
     * get an answer becomes a typed error. A redirect refused is the registry's fault and never retried.
     */
    private async exchange(method: string, url: URL, headers: Record<string, string>, request: RegistryRequest): Promise<Exchange> {
        try {
            return { response: await this.transport().request({ method, url, headers, timeoutMs: this.timeoutMs }), request };
        } catch (error) {
            if (error instanceof RedirectError) {
                throw new MalformedResponseError(request, `it redirects with ${error.message}`);
            }
            if (isTimeout(error)) {
                throw new RegistryTimeoutError(request);
            }
            // Every request the client makes itself goes to the registry's origin: another one is the token service.
            const service = url.origin === this.baseUrl.origin ? "" : `token service ${url.host}: `;
            throw new RegistryUnreachableError(request.location, service + describeConnectionError(error));
        }
    }

    private transport(): Transport {
        return this.connections ??= new Transport();
    }

    private backoff(attempt: number): number {
        return this.retryDelayMs * 2 ** attempt * (0.5 + Math.random() / 2);
    }
}

function manifestPath(repository: string, reference: string): string {
    return `/v2/${repository}/manifests/${reference}`;
}

function blobPath(repository: string, digest: string): string {
    return `/v2/${repository}/blobs/${digest}`;
}

/** A value the registry sent, checked by our grammar: a bad one is the registry's fault and is said so. */
function sentValue(validate: (value: string) => string, value: string, request: RegistryRequest, what: string): string {
    try {
        return validate(value);
    } catch (error) {
        throw new MalformedResponseError(request, `${what}: ${(error as Error).message}`);
    }
}

/** The names a listing page holds under `key` (absent or null: none), each checked by the grammar. */
function namesOf(page: unknown, key: string, validate: (name: string) => string, request: RegistryRequest): string[] {
    const list = isObject(page) ? page[key] ?? [] : undefined;
    if (!Array.isArray(list)) {
        throw new MalformedResponseError(request, `the listing is not a JSON object with a list of ${key}`);
    }
    return list.map((name) => {
        if (typeof name !== "string") {
            throw new MalformedResponseError(request, `its ${key} hold ${JSON.stringify(name)}, not a name`);
        }
        return sentValue(validate, name, request, `its ${key}`);
    });
}

/** The manifest's own mediaType wins; the Content-Type header is the fallback (older Docker manifests). */
function parseManifest(bytes: Buffer, digest: string, contentType: string | null | undefined, request: RegistryRequest): Manifest {
    const parsed = parseJson(bytes, request, "manifest");
    const problem = manifestProblem(parsed);
    if (problem) {
        throw new MalformedResponseError(request, problem);
    }
    const body = parsed as ImageManifestBody;
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

/** The system's code (ECONNREFUSED, CERT_HAS_EXPIRED, ...), which says more in a message than its text does. */
function describeConnectionError(error: unknown): string {
    const err = error as { code?: string; message?: string };
    return err.code ?? err.message ?? String(error);
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
