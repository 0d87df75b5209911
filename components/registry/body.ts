// Reading what a registry sends, within a size cap. The request's deadline (./transport) goes on into its
// body and destroys it when it passes, so a registry that drips its answer ends here with a timeout that
// names the request, like a registry that never answers.
import { Readable } from "stream";
import { MalformedResponseError, RegistryRequest, RegistryTimeoutError, RegistryUnreachableError } from "./errors";
import { TransportResponse } from "./transport";

/** A response with the request it answers, so whatever reads its body can name that request. */
export interface Exchange {
    response: TransportResponse;
    request: RegistryRequest;
}

/** How much of one kind of answer is read, and how the excess is described: "a manifest larger than 4 MiB". */
export interface BodyCap {
    bytes: number;
    what: string;
}

/** An error body is only ever quoted, never parsed whole. */
const errorBodyBytes = 64 * 1024;

export function isTimeout(error: unknown): boolean {
    const name = (error as { name?: string } | undefined)?.name;
    return name === "TimeoutError" || name === "AbortError";
}

/** The body whole, or an error naming the request when it is larger than `cap` or not complete in time. */
export async function readBody(response: TransportResponse, request: RegistryRequest, cap: BodyCap): Promise<Buffer> {
    const declared = Number(response.header("content-length"));
    if (declared > cap.bytes) {
        response.body.destroy();
        throw new MalformedResponseError(request, `${cap.what} (Content-Length ${declared})`);
    }
    const bytes = await readAtMost(response, request, cap.bytes + 1);
    if (bytes.length > cap.bytes) {
        throw new MalformedResponseError(request, cap.what);
    }
    return bytes;
}

export async function readJson(response: TransportResponse, request: RegistryRequest, cap: BodyCap, what: string): Promise<unknown> {
    return parseJson(await readBody(response, request, cap), request, what);
}

export function parseJson(bytes: Buffer, request: RegistryRequest, what: string): unknown {
    try {
        return JSON.parse(bytes.toString("utf8"));
    } catch (error) {
        throw new MalformedResponseError(request, `the ${what} is not JSON (${(error as Error).message})`);
    }
}

/** The start of an error body, to quote; nothing when it cannot be read. */
export async function readErrorText(response: TransportResponse, request: RegistryRequest): Promise<string> {
    try {
        return (await readAtMost(response, request, errorBodyBytes)).toString("utf8");
    } catch {
        return "";
    }
}

/**
 * Up to `limit` bytes. The rest of the body is destroyed unread, which closes its connection; a body read to its
 * end leaves the connection to the next request.
 */
async function readAtMost(response: TransportResponse, request: RegistryRequest, limit: number): Promise<Buffer> {
    try {
        return await collect(response.body, limit);
    } catch (error) {
        throw isTimeout(error)
            ? new RegistryTimeoutError(request)
            : new RegistryUnreachableError(request.location, `the connection broke during ${request.method} ${request.path}`);
    }
}

function collect(body: Readable, limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        if (body.destroyed) {
            reject(body.errored ?? new Error("the body was closed before it was read"));
            return;
        }
        if (body.readableEnded) {
            resolve(Buffer.alloc(0));
            return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        // Declared before the handlers that remove them: the closure serializer takes a name used before its
        // declaration for a variable of an outer scope, and refuses the function.
        const listeners: [string, Parameters<Readable["on"]>[1]][] = [];
        const settle = (error?: Error) => {
            for (const [event, listener] of listeners) {
                body.off(event, listener);
            }
            if (error) {
                reject(error);
            } else {
                resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
            }
        };
        listeners.push(
            ["data", (chunk: Buffer) => {
                chunks.push(chunk);
                length += chunk.length;
                if (length >= limit) {
                    settle();
                    body.destroy();
                }
            }],
            ["end", () => settle()],
            ["error", (error: Error) => settle(error)],
            // A close without an end or an error: the connection went before the body was whole.
            ["close", () => settle(body.errored ?? new Error("the connection closed before the body ended"))],
        );
        for (const [event, listener] of listeners) {
            body.on(event, listener);
        }
    });
}
