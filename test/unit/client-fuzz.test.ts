// The registry client against random answers from a scripted registry: any status, headers (Link,
// WWW-Authenticate, Docker-Content-Digest, Location, Retry-After, a lying Content-Length), bodies of any JSON or
// bytes, cut, dripping or never sent. Whatever comes, each call ends within a bound set by its deadlines and
// either succeeds or fails with one of the registry errors, naming the registry; another origin never
// receives a credential.
import * as assert from "assert";
import * as fc from "fast-check";
import * as http from "http";
import { RegistryClient } from "../../components/registry/client";
import { RegistryError } from "../../components/registry/errors";
import { labelKeys, mediaTypes } from "../../components/registry/types";
import { ScriptedRegistry, sha256 } from "../helpers/hostile-registry";

interface Answer {
    status: number;
    headers: Record<string, string>;
    /** `content` is the route's generated body; the others are ways of never delivering it whole. */
    delivery: "content" | "drip" | "silence" | "cut" | "short";
}

interface Scenario {
    manifest: Buffer;
    config: Buffer;
    listing: Buffer;
    token: Buffer;
    answers: { manifest: Answer; blob: Answer; listing: Answer; token: Answer };
    digestHeader: "honest" | "absent" | string;
    credentials: boolean;
    operation: number;
}

const timeoutMs = 200;
const retries = 1;
/**
 * One attempt takes at most the deadline, a retry waits at most the deadline too, a token request one more;
 * the deepest call (labels of an index) makes four requests after a HEAD, or a listing of fast pages.
 */
const perRequestMs = (retries + 1) * timeoutMs + retries * timeoutMs + timeoutMs;
const boundMs = 5 * perRequestMs + 2000;
const numRuns = 400;

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const anyJson = fc.jsonValue({ maxDepth: 3 }).map(json);
const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
const cutJson = (arb: fc.Arbitrary<Buffer>) => fc.tuple(arb, fc.nat()).map(([b, n]) => b.subarray(0, n % Math.max(b.length, 1)));
const tagLike = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/), fc.string({ maxLength: 10 }));

const configBody = fc.oneof(anyJson, bytes,
    fc.dictionary(fc.constantFrom(...Object.values(labelKeys), "other"), fc.jsonValue({ maxDepth: 2 }))
        .map((labels) => json({ config: { Labels: labels } })));

function manifestBody(configDigest: string): fc.Arbitrary<Buffer> {
    const descriptor = fc.oneof(fc.constant({ digest: configDigest, size: 1 }), fc.jsonValue({ maxDepth: 2 }));
    const platform = fc.oneof(fc.constant({ os: "linux", architecture: "amd64" }), fc.jsonValue({ maxDepth: 2 }));
    return fc.oneof(anyJson, bytes,
        fc.record({
            schemaVersion: fc.constant(2),
            mediaType: fc.oneof(fc.constantFrom(...Object.values(mediaTypes)), fc.jsonValue({ maxDepth: 1 })),
            config: descriptor,
        }, { requiredKeys: ["schemaVersion"] }).map(json),
        fc.record({
            schemaVersion: fc.constant(2),
            mediaType: fc.constant(mediaTypes.ociIndex),
            manifests: fc.oneof(fc.array(fc.record({ digest: fc.oneof(fc.constant(configDigest), fc.jsonValue()), platform })),
                fc.jsonValue({ maxDepth: 1 })),
        }).map(json));
}

const listingBody = fc.oneof(anyJson, bytes, fc.record({
    name: fc.constant("a/b"),
    tags: fc.oneof(fc.array(fc.oneof(tagLike, fc.jsonValue({ maxDepth: 1 })), { maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })),
    repositories: fc.array(tagLike, { maxLength: 5 }),
}, { requiredKeys: [] }).map(json));

const tokenBody = fc.oneof(anyJson, bytes, fc.record({
    token: fc.oneof(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 })),
    expires_in: fc.oneof(fc.integer(), fc.jsonValue({ maxDepth: 1 })),
}, { requiredKeys: [] }).map(json));

/** Header values refer to the scripted origins, filled in when answering. */
function answer(self: string, elsewhere: string): fc.Arbitrary<Answer> {
    const link = fc.oneof(fc.string({ maxLength: 30 }),
        fc.constantFrom("<{path}>; rel=\"next\"", "<?n=1&last=x>; rel=\"next\"", "<{next}>; rel=\"next\"",
            `<${elsewhere}/v2/a/b/tags/list>; rel="next"`, "<http://[::1>; rel=\"next\"", "<>; rel=next"));
    const challenge = fc.oneof(fc.string({ maxLength: 30 }),
        fc.constantFrom(`Bearer realm="${self}/token",service="s"`, 'Basic realm="r"', 'Bearer realm="::"',
            `Bearer realm="${self}/token",scope="repository:a/b:pull"`, "Bearer", "Basic"));
    return fc.record({
        status: fc.oneof({ weight: 8, arbitrary: fc.constant(200) }, fc.constantFrom(204, 301, 307, 400, 401, 403, 404, 429, 500, 503)),
        headers: fc.record({
            "link": link,
            "www-authenticate": challenge,
            "content-type": fc.oneof(fc.constantFrom(...Object.values(mediaTypes)), fc.string({ maxLength: 20 })),
            "retry-after": fc.oneof(fc.constantFrom("0", "1", "99999", "-1", "soon"), fc.string({ maxLength: 5 })),
            "location": fc.oneof(fc.constantFrom(`${elsewhere}/v2/a/b/manifests/v1`, "/v2/a/b/manifests/v1", "http://[::1"),
                fc.string({ maxLength: 20 })),
        }, { requiredKeys: [] }),
        delivery: fc.oneof({ weight: 24, arbitrary: fc.constant("content" as const) },
            fc.constantFrom("drip" as const, "silence" as const, "cut" as const, "short" as const)),
    });
}

function scenario(self: string, elsewhere: string): fc.Arbitrary<Scenario> {
    return configBody.chain((config) => fc.record({
        manifest: fc.oneof(manifestBody(sha256(config)), cutJson(manifestBody(sha256(config)))),
        config: fc.constant(config),
        listing: fc.oneof(listingBody, cutJson(listingBody)),
        token: tokenBody,
        answers: fc.record({
            manifest: answer(self, elsewhere), blob: answer(self, elsewhere),
            listing: answer(self, elsewhere), token: answer(self, elsewhere),
        }),
        digestHeader: fc.oneof(fc.constantFrom("honest", "absent"), fc.string({ maxLength: 71 })),
        credentials: fc.boolean(),
        operation: fc.nat(4),
    }));
}

function respond(req: http.IncomingMessage, res: http.ServerResponse, answer: Answer, content: Buffer, extra: Record<string, string>): void {
    if (answer.delivery === "silence") {
        return;
    }
    const url = new URL(req.url!, "http://x");
    const page = Number(url.searchParams.get("page") ?? 0);
    const headers: Record<string, string> = { ...extra };
    for (const [name, value] of Object.entries(answer.headers)) {
        headers[name] = value.replace("{path}", `${url.pathname}${url.search}`).replace("{next}", `${url.pathname}?page=${page + 1}`);
    }
    const body = req.method === "HEAD" ? Buffer.alloc(0) : content;
    if (answer.delivery === "drip") {
        res.writeHead(answer.status, headers).write(body.subarray(0, 1));
        const timer = setInterval(() => res.write(" "), 20);
        res.on("close", () => clearInterval(timer));
    } else if (answer.delivery === "cut") {
        res.writeHead(answer.status, { ...headers, "content-length": String(body.length + 10) });
        res.write(body.subarray(0, body.length >> 1), () => res.destroy());
    } else if (answer.delivery === "short") {
        // Promises more than it sends and keeps the connection open: only the deadline ends the wait.
        res.writeHead(answer.status, { ...headers, "content-length": String(body.length + 10) }).write(body);
    } else {
        res.writeHead(answer.status, headers).end(body);
    }
}

function script(s: Scenario): ScriptedRegistry["script"] {
    return (req, res) => {
        const path = new URL(req.url!, "http://x").pathname;
        if (path === "/token") {
            respond(req, res, s.answers.token, s.token, {});
        } else if (path.includes("/manifests/")) {
            const digest = s.digestHeader === "honest" ? sha256(s.manifest) : s.digestHeader;
            respond(req, res, s.answers.manifest, s.manifest, s.digestHeader === "absent" ? {} : { "docker-content-digest": digest });
        } else if (path.includes("/blobs/")) {
            respond(req, res, s.answers.blob, s.config, {});
        } else {
            respond(req, res, s.answers.listing, s.listing, {});
        }
    };
}

const operations: ((client: RegistryClient, s: Scenario) => Promise<unknown>)[] = [
    (client) => client.resolveTag("a/b", "v1"),
    (client) => client.getManifest("a/b", "v1"),
    (client, s) => client.imageMetadata("a/b", sha256(s.manifest)),
    (client) => client.listTags("a/b"),
    (client) => client.catalog(),
];

describe("registry client fuzzed with malformed answers", function () {
    this.timeout(180_000);
    let registry: ScriptedRegistry;
    let elsewhere: ScriptedRegistry;

    before(async () => {
        registry = await ScriptedRegistry.start(() => undefined);
        elsewhere = await ScriptedRegistry.start((_req, res) => res.writeHead(200).end("{}"), "127.0.0.2");
    });
    after(async () => {
        await registry?.stop();
        await elsewhere?.stop();
    });

    it("ends within its deadlines, and fails only with a registry error naming the registry", async () => {
        let slowest = 0;
        const outcomes = new Map<string, number>();
        await fc.assert(fc.asyncProperty(scenario(registry.origin, elsewhere.origin), async (s) => {
            registry.script = script(s);
            const client = new RegistryClient({
                registry: registry.address, insecure: true, timeoutMs, retries, retryDelayMs: 1,
                credentials: s.credentials ? { username: "u", password: "p" } : undefined,
            });
            const started = Date.now();
            let outcome = "ok";
            try {
                await operations[s.operation](client, s);
            } catch (error) {
                assert.ok(error instanceof RegistryError, `not a registry error: ${(error as Error).stack}`);
                assert.ok(error.message.includes(registry.address), `does not name the registry: ${error.message}`);
                outcome = error.name;
            }
            const elapsed = Date.now() - started;
            slowest = Math.max(slowest, elapsed);
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
            assert.ok(elapsed < boundMs, `took ${elapsed} ms, bound ${boundMs} ms`);
        }), { numRuns });
        assert.deepStrictEqual(elsewhere.requests.filter((r) => r.authorization !== undefined), []);
        // The generators must reach past the first check: successes and several kinds of failure.
        assert.ok((outcomes.get("ok") ?? 0) > 0 && outcomes.size >= 5, JSON.stringify([...outcomes]));
        console.log(`      ${numRuns} runs, slowest ${slowest} ms (bound ${boundMs} ms): ${JSON.stringify(Object.fromEntries(outcomes))}`);
    });
});
