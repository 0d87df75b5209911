// Reading what a registry sends, within a size cap. The deadline is the AbortSignal the request's fetch was
// given: it aborts the body stream too, so a registry that drips its answer ends here with a timeout that
// names the request, like a registry that never answers.
import { MalformedResponseError, RegistryRequest, RegistryTimeoutError, RegistryUnreachableError } from "./errors";

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
export async function readBody(response: Response, request: RegistryRequest, cap: BodyCap): Promise<Buffer> {
    const declared = Number(response.headers.get("content-length"));
    if (declared > cap.bytes) {
        await response.body?.cancel().catch(() => undefined);
        throw new MalformedResponseError(request, `${cap.what} (Content-Length ${declared})`);
    }
    const bytes = await readAtMost(response, request, cap.bytes + 1);
    if (bytes.length > cap.bytes) {
        throw new MalformedResponseError(request, cap.what);
    }
    return bytes;
}

export async function readJson(response: Response, request: RegistryRequest, cap: BodyCap, what: string): Promise<unknown> {
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
export async function readErrorText(response: Response, request: RegistryRequest): Promise<string> {
    try {
        return (await readAtMost(response, request, errorBodyBytes)).toString("utf8");
    } catch {
        return "";
    }
}

/** Up to `limit` bytes; the rest of the body is cancelled unread. */
async function readAtMost(response: Response, request: RegistryRequest, limit: number): Promise<Buffer> {
    if (!response.body) {
        return Buffer.alloc(0);
    }
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let length = 0;
    try {
        while (length < limit) {
            const { done, value } = await reader.read();
            if (done) {
                break;
            }
            chunks.push(value);
            length += value.byteLength;
        }
    } catch (error) {
        throw isTimeout(error)
            ? new RegistryTimeoutError(request)
            : new RegistryUnreachableError(request.location, `the connection broke during ${request.method} ${request.path}`);
    } finally {
        await reader.cancel().catch(() => undefined);
    }
    return Buffer.concat(chunks);
}
