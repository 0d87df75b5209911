// HTTP exchanges for the registry client, on node's http and https with keep-alive agents: one request, its
// redirects and its deadline, and nothing about registries (auth, retries and what a body means are the
// client's). fetch did all of this for us, at twice the CPU per request (docs/performance.md, "The commands").
//
// The client is serialized into dynamic providers' text, so this module holds no live values: agents are made
// on a Transport's first request, and builtins are required, which the serializer turns back into requires.
import * as http from "http";
import * as https from "https";
import { Readable, pipeline } from "stream";
import * as zlib from "zlib";

export interface TransportRequest {
    method: string;
    url: URL;
    /** Lower-case names. An authorization header goes to the request's origin only, never across a redirect. */
    headers: Record<string, string>;
    /** From sending the request to the last byte of the final answer's body, redirects included. */
    timeoutMs: number;
}

export interface TransportResponse {
    status: number;
    ok: boolean;
    /** The header's value; several of one name are joined by ", ". */
    header(name: string): string | undefined;
    /**
     * Decoded when the server compressed it anyway. Whoever gets a response reads its body to the end, destroys
     * it or discards it: until then its connection is not free for another request.
     */
    body: Readable;
}

/** The deadline passed. Named as AbortSignal.timeout's error is, which is what body.ts's isTimeout knows. */
export class TransportTimeoutError extends Error {
    constructor(timeoutMs: number) {
        super(`no complete answer within ${timeoutMs} ms`);
        this.message = `no complete answer within ${timeoutMs} ms`;
        this.name = "TimeoutError";
    }
}

/** A redirect that is not followed: too many, or to somewhere a request must not go. */
export class RedirectError extends Error {
    constructor(message: string) {
        super(message);
        this.message = message;
        this.name = "RedirectError";
    }
}

/** As fetch: enough for a registry that sends blob GETs to storage, and a CDN behind that. */
const maxRedirects = 20;
const redirectStatuses = [301, 302, 303, 307, 308];
/** Of a body nobody wants, what is read to keep its connection; a larger remainder closes the connection instead. */
const discardBytes = 64 * 1024;
/** The codes of a kept connection the server closed while we reused it: the request never reached the server. */
const staleConnectionCodes = ["ECONNRESET", "EPIPE", "ECONNABORTED"];

const ignore = () => undefined;

export class Transport {
    private httpAgent?: http.Agent;
    private httpsAgent?: https.Agent;

    /** The answer once its headers are in; redirects are followed, and the deadline goes on into its body. */
    async request(options: TransportRequest): Promise<TransportResponse> {
        let timedOut = false;
        let pending: { destroy(error: Error): void } | undefined;
        // Whatever is in progress when the deadline passes is destroyed with the timeout, so its reader sees that,
        // not the broken connection it leaves behind.
        const track = <T extends { destroy(error: Error): void }>(stream: T): T => {
            pending = stream;
            if (timedOut) {
                stream.destroy(new TransportTimeoutError(options.timeoutMs));
            }
            return stream;
        };
        const timer = setTimeout(() => {
            timedOut = true;
            pending?.destroy(new TransportTimeoutError(options.timeoutMs));
        }, options.timeoutMs);
        let url = options.url;
        let method = options.method;
        const headers = { ...options.headers };
        try {
            for (let redirects = 0; ; redirects++) {
                const response = track(await this.exchange(method, url, headers, track));
                const location = redirectStatuses.includes(response.statusCode!) ? response.headers.location : undefined;
                if (location === undefined) {
                    const body = track(decoded(response));
                    const done = () => clearTimeout(timer);
                    body.once("end", done).once("close", done).once("error", done);
                    if (method === "HEAD") {
                        body.resume();
                    }
                    return answer(response, body);
                }
                await discard(response);
                if (redirects >= maxRedirects) {
                    throw new RedirectError(`more than ${maxRedirects} redirects`);
                }
                const next = redirectTarget(location, url);
                if (next.origin !== url.origin) {
                    delete headers.authorization;
                }
                if (response.statusCode === 303 && method !== "GET" && method !== "HEAD") {
                    method = "GET";
                }
                url = next;
            }
        } catch (error) {
            clearTimeout(timer);
            throw timedOut ? new TransportTimeoutError(options.timeoutMs) : error;
        }
    }

    /**
     * One request and its response headers. A kept connection the server closed while it sat idle fails on its
     * first write; the request is then sent again on another (all of the client's methods are idempotent), as Go's
     * transport does.
     */
    private async exchange(method: string, url: URL, headers: Record<string, string>,
        started: (request: http.ClientRequest) => void): Promise<http.IncomingMessage> {
        for (;;) {
            const request = (url.protocol === "https:" ? https : http).request(url, { method, headers, agent: this.agent(url) });
            started(request);
            try {
                return await new Promise<http.IncomingMessage>((resolve, reject) => {
                    request.on("response", (response) => {
                        response.on("error", ignore);
                        resolve(response);
                    });
                    request.on("error", reject);
                    request.end();
                });
            } catch (error) {
                const code = (error as { code?: string }).code;
                if (!(request.reusedSocket && code && staleConnectionCodes.includes(code))) {
                    throw error;
                }
            }
        }
    }

    private agent(url: URL): http.Agent {
        if (url.protocol === "https:") {
            return this.httpsAgent ??= new https.Agent({ keepAlive: true });
        }
        return this.httpAgent ??= new http.Agent({ keepAlive: true });
    }
}

function redirectTarget(location: string, current: URL): URL {
    let next: URL;
    try {
        next = new URL(location, current);
    } catch {
        throw new RedirectError(`a redirect to something that is not a URL: ${location}`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new RedirectError(`a redirect to ${next.protocol} URL, not http(s)`);
    }
    if (next.username || next.password) {
        throw new RedirectError(`a redirect to ${next.host} with user info in the URL`);
    }
    return next;
}

function answer(response: http.IncomingMessage, body: Readable): TransportResponse {
    const status = response.statusCode!;
    return {
        status,
        ok: status >= 200 && status < 300,
        header(name: string): string | undefined {
            const value = response.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(", ") : value;
        },
        body,
    };
}

/** No accept-encoding is sent, but fetch decoded what came compressed regardless, and so does this. */
function decoded(response: http.IncomingMessage): Readable {
    const coding = response.headers["content-encoding"]?.trim().toLowerCase();
    const decoder = coding === "gzip" || coding === "x-gzip" ? zlib.createGunzip()
        : coding === "deflate" ? zlib.createInflate()
            : coding === "br" ? zlib.createBrotliDecompress() : undefined;
    if (!decoder) {
        return response;
    }
    pipeline(response, decoder, ignore);
    decoder.on("error", ignore);
    return decoder;
}

/**
 * Done with a body unread: a small rest is read so that its connection is kept, and free for the next request when
 * this resolves; a larger one closes the connection. Either way within the request's deadline, which ends it too.
 */
export function discard(body: Readable): Promise<void> {
    if (body.destroyed || body.readableEnded) {
        return Promise.resolve();
    }
    return new Promise((resolve) => {
        let left = discardBytes;
        body.on("data", (chunk: Buffer) => {
            left -= chunk.length;
            if (left < 0) {
                body.destroy();
            }
        });
        body.once("end", resolve).once("close", resolve);
        body.resume();
    });
}
