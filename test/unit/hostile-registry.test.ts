// The registry client, the ImageDigest provider and the overview against a registry that lies, loops, drips,
// floods and points elsewhere: each case ends quickly, with a typed error naming the registry and the
// request, and no credential ever reaches another origin.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ImageDigestInputs, ImageDigestOutputs } from "../../components/providers/image-digest";
import { listOverview } from "../../components/model/overview-listing";
import { RegistryClient } from "../../components/registry/client";
import {
    MalformedResponseError, RegistryError, RegistryTimeoutError, TagNotFoundError,
} from "../../components/registry/errors";
import {
    ScriptedRegistry, drip, imageWithConfig, imageWithLabels, ociManifestType, serveImage, sha256,
} from "../helpers/hostile-registry";
import { loadedProvider } from "../helpers/loaded-provider";

const credentials = { username: "deployer", password: "s3cret-Pa55word" };
const basic = "Basic " + Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
const MiB = 1024 * 1024;

/** A registry that wants basic auth, then answers with `script`. */
const behindBasicAuth = (script: ScriptedRegistry["script"]): ScriptedRegistry["script"] => (req, res) => {
    if (req.headers.authorization !== basic) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="scripted"' }).end();
    } else {
        script(req, res);
    }
};

function rejectsNaming(promise: Promise<unknown>, errorClass: new (...args: never[]) => RegistryError,
    registry: ScriptedRegistry, ...patterns: RegExp[]): Promise<void> {
    return assert.rejects(promise, (error: Error) => {
        assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${error.name}: ${error.message}`);
        assert.ok(error.message.includes(registry.address), `the message names the registry: ${error.message}`);
        for (const pattern of patterns) {
            assert.match(error.message, pattern);
        }
        return true;
    });
}

describe("registry client against a hostile registry", function () {
    this.timeout(30_000);
    let registry: ScriptedRegistry;
    let elsewhere: ScriptedRegistry;
    const client = (options: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) =>
        new RegistryClient({ registry: registry.address, insecure: true, retries: 0, ...options });

    beforeEach(async () => {
        registry = await ScriptedRegistry.start(() => assert.fail("unscripted"));
        // Another origin that would gladly take whatever is sent to it.
        elsewhere = await ScriptedRegistry.start((_req, res) => {
            res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "a/b", tags: ["stolen"] }));
        }, "127.0.0.2");
    });
    afterEach(async () => {
        await registry.stop();
        await elsewhere.stop();
    });

    describe("pagination", () => {
        it("stops at a Link that points back at the page just read", async () => {
            registry.script = behindBasicAuth((req, res) => res.writeHead(200, { link: `<${req.url}>; rel="next"` })
                .end(JSON.stringify({ name: "a/b", tags: ["v1"] })));
            await rejectsNaming(client({ credentials }).listTags("a/b"), MalformedResponseError, registry,
                /GET \/v2\/a\/b\/tags\/list/, /points back at \/v2\/a\/b\/tags\/list, a page already read/);
            assert.strictEqual(registry.requests.filter((r) => r.authorization === basic).length, 1);
        });

        it("stops at a page seen two pages ago, given as a relative reference", async () => {
            registry.script = (req, res) => {
                const page = new URL(req.url!, "http://x").searchParams.get("last") ?? "start";
                res.writeHead(200, { link: `<?n=1&last=${page === "a" ? "b" : "a"}>; rel="next"` })
                    .end(JSON.stringify({ name: "a/b", tags: [`t-${page}`] }));
            };
            await rejectsNaming(client().listTags("a/b"), MalformedResponseError, registry, /last=a, a page already read/);
            assert.strictEqual(registry.requests.length, 3);
        });

        it("gives up after 1,000 distinct pages", async () => {
            registry.script = (req, res) => {
                const page = Number(new URL(req.url!, "http://x").searchParams.get("page") ?? 0);
                res.writeHead(200, { link: `</v2/a/b/tags/list?page=${page + 1}>; rel="next"` })
                    .end(JSON.stringify({ name: "a/b", tags: [`t${page}`] }));
            };
            await rejectsNaming(client().listTags("a/b"), MalformedResponseError, registry, /past 1000 pages/);
            assert.strictEqual(registry.requests.length, 1000);
        });

        it("never follows a Link to another origin, so its server receives nothing, least of all credentials", async () => {
            const foreign = [
                `${elsewhere.origin}/v2/a/b/tags/list?last=v1`,
                `http://127.0.0.1:${elsewhere.address.split(":")[1]}/v2/a/b/tags/list`, // same host, another port
                `https://${registry.address}/v2/a/b/tags/list?last=v1`, // same host and port, another scheme
                `//${elsewhere.address}/v2/a/b/tags/list`, // scheme-relative
                `http://${credentials.username}:x@${registry.address}/v2/a/b/tags/list`,
            ];
            for (const link of foreign) {
                registry.script = behindBasicAuth((_req, res) => res.writeHead(200, { link: `<${link}>; rel="next"` })
                    .end(JSON.stringify({ name: "a/b", tags: ["v1"] })));
                await rejectsNaming(client({ credentials }).listTags("a/b"), MalformedResponseError, registry,
                    /Link header points at .*, not at the registry/);
            }
            assert.deepStrictEqual(elsewhere.requests, []);
        });

        it("lets a redirect to another origin through without the credentials", async () => {
            const image = imageWithLabels({ "org.opencontainers.image.description": "moved" });
            registry.script = behindBasicAuth((req, res) => {
                res.writeHead(307, { location: `${elsewhere.origin}${req.url}` }).end();
            });
            elsewhere.script = serveImage(image);
            const metadata = await client({ credentials }).imageMetadata("a/b", image.digest);
            assert.strictEqual(metadata.description, "moved");
            assert.ok(elsewhere.requests.length > 0);
            assert.deepStrictEqual(elsewhere.requests.map((r) => r.authorization), elsewhere.requests.map(() => undefined));
        });

        it("reads 100,000 tags from one page, and finds the closest among them", async () => {
            const tags = Array.from({ length: 100_000 }, (_, i) => `build-${i}`);
            registry.script = (req, res) => {
                if (req.url!.includes("/tags/list")) {
                    res.writeHead(200).end(JSON.stringify({ name: "a/b", tags }));
                } else {
                    res.writeHead(404).end();
                }
            };
            const started = Date.now();
            assert.deepStrictEqual(await client().listTags("a/b"), tags);
            await assert.rejects(client().resolveTag("a/b", "build-99999x"), (error: Error) =>
                error instanceof TagNotFoundError && error.closest[0] === "build-99999");
            assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
        });
    });

    describe("responses", () => {
        it("refuses a manifest over 4 MiB, announced or not, without reading it all", async () => {
            const huge = Buffer.alloc(5 * MiB, " ");
            for (const announced of [true, false]) {
                registry.script = (_req, res) => {
                    res.writeHead(200, { "content-type": ociManifestType, ...(announced ? { "content-length": huge.length } : {}) });
                    res.end(huge);
                };
                await rejectsNaming(client().getManifest("a/b", "v1"), MalformedResponseError, registry,
                    /GET \/v2\/a\/b\/manifests\/v1/, /a manifest larger than 4 MiB/);
            }
        });

        it("refuses an image config over 8 MiB and a listing over 32 MiB", async () => {
            const image = imageWithConfig(Buffer.alloc(9 * MiB, " "));
            registry.script = serveImage(image);
            await rejectsNaming(client().imageMetadata("a/b", image.digest), MalformedResponseError, registry,
                new RegExp(`GET /v2/a/b/blobs/${image.configDigest}`), /an image config larger than 8 MiB/);

            const page = Buffer.from(JSON.stringify({ name: "a/b", tags: Array.from({ length: 600_000 }, (_, i) => `t${i}`.padEnd(40, "x")) }));
            assert.ok(page.length > 16 * MiB);
            registry.script = (req, res) => {
                const last = new URL(req.url!, "http://x").searchParams.get("last");
                res.writeHead(200, last ? {} : { link: '</v2/a/b/tags/list?last=1>; rel="next"' }).end(page);
            };
            await rejectsNaming(client().listTags("a/b"), MalformedResponseError, registry, /a listing larger than 32 MiB over all its pages/);
        });

        it("names the registry and the path when the JSON is malformed", async () => {
            registry.script = (_req, res) => res.writeHead(200, { "content-type": ociManifestType }).end('{"schemaVersion": 2,');
            await rejectsNaming(client().getManifest("a/b", "v1"), MalformedResponseError, registry,
                /GET \/v2\/a\/b\/manifests\/v1/, /the manifest is not JSON/);
            registry.script = (_req, res) => res.writeHead(200).end('{"tags": "v1"}');
            await rejectsNaming(client().listTags("a/b"), MalformedResponseError, registry, /not a JSON object with a list of tags/);
            registry.script = (_req, res) => res.writeHead(200).end('{"tags": ["v1", "; rm -rf /"]}');
            await rejectsNaming(client().listTags("a/b"), MalformedResponseError, registry, /its tags: invalid tag "; rm -rf \/"/);
            registry.script = (_req, res) => res.writeHead(200, { "docker-content-digest": "sha256:nope" }).end();
            await rejectsNaming(client().resolveTag("a/b", "v1"), MalformedResponseError, registry, /Docker-Content-Digest header/);
            const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 5, platform: "linux" }] }));
            registry.script = (_req, res) => res.writeHead(200, { "content-type": ociManifestType }).end(index);
            await rejectsNaming(client().imageMetadata("a/b", sha256(index)), MalformedResponseError, registry,
                /manifests\[0\] has no valid digest \(5\)/);
        });

        it("ends a dripping body at the request's deadline with an error naming the request", async () => {
            registry.script = (_req, res) => drip(res, 50);
            const started = Date.now();
            await rejectsNaming(client({ timeoutMs: 500 }).getManifest("a/b", "v1"), RegistryTimeoutError, registry,
                /did not complete its answer to GET \/v2\/a\/b\/manifests\/v1 within 0.5 s/);
            const elapsed = Date.now() - started;
            assert.ok(elapsed >= 500 && elapsed < 2000, `took ${elapsed} ms`);
        });

        it("ends a request whose headers never come, after its retries", async () => {
            registry.script = () => undefined;
            const started = Date.now();
            await rejectsNaming(client({ timeoutMs: 300, retries: 1, retryDelayMs: 1 }).resolveTag("a/b", "v1"),
                RegistryTimeoutError, registry, /HEAD \/v2\/a\/b\/manifests\/v1 within 0.3 s/);
            assert.ok(Date.now() - started < 2000);
        });

        it("reads labels of any JSON type: numbers and booleans as text, the rest as no label", async () => {
            const image = imageWithLabels({
                "org.opencontainers.image.description": 42,
                "org.opencontainers.image.created": true,
                "org.opencontainers.image.revision": { sha: "abc" },
                "org.opencontainers.image.source": ["https://example.invalid"],
            });
            registry.script = serveImage(image);
            const metadata = await client().imageMetadata("a/b", image.digest);
            assert.deepStrictEqual([metadata.description, metadata.created, metadata.revision, metadata.source],
                ["42", "true", null, null]);
            for (const config of [{ config: { Labels: "x" } }, { config: null }, {}]) {
                const odd = imageWithConfig(config);
                registry.script = serveImage(odd);
                assert.strictEqual((await client().imageMetadata("a/b", odd.digest)).description, null);
            }
            const notAnObject = imageWithConfig([1, 2]);
            registry.script = serveImage(notAnObject);
            await rejectsNaming(client().imageMetadata("a/b", notAnObject.digest), MalformedResponseError, registry,
                /the image config is not a JSON object/);
        });

        it("keeps what the registry wrote in an error printable", async () => {
            registry.script = (_req, res) => res.writeHead(400).end(JSON.stringify({ errors: [{ code: "X", message: "\x1b[2J\x1b]0;pwned\x07" }] }));
            await assert.rejects(client().getManifest("a/b", "v1"), (error: Error) => {
                assert.ok(!/[\x00-\x1f\x7f-\x9f]/.test(error.message), JSON.stringify(error.message));
                assert.match(error.message, /HTTP 400/);
                return true;
            });
        });
    });

    describe("bearer tokens", () => {
        const challenge = (realm: string) => (req: Parameters<ScriptedRegistry["script"]>[0], res: Parameters<ScriptedRegistry["script"]>[1]) => {
            if (req.url!.startsWith("/v2/") && !req.headers.authorization?.startsWith("Bearer ")) {
                res.writeHead(401, { "www-authenticate": `Bearer realm="${realm}",service="scripted"` }).end();
                return false;
            }
            return true;
        };

        it("sends the credentials to the realm the challenge names, and the token only to the registry", async () => {
            const image = imageWithLabels({ "org.opencontainers.image.description": "behind a token" });
            elsewhere.script = (_req, res) => res.writeHead(200).end(JSON.stringify({ token: "tok-1", expires_in: 300 }));
            const serve = serveImage(image);
            const ask = challenge(`${elsewhere.origin}/token`);
            registry.script = (req, res) => ask(req, res) && serve(req, res);
            assert.strictEqual((await client({ credentials }).imageMetadata("a/b", image.digest)).description, "behind a token");
            assert.deepStrictEqual([...new Set(elsewhere.requests.map((r) => r.authorization))], [basic]);
            assert.ok(elsewhere.requests.every((r) => r.url.startsWith("/token?service=scripted&scope=repository%3Aa%2Fb%3Apull")));
            assert.ok(registry.requests.every((r) => r.authorization === undefined || r.authorization === "Bearer tok-1"));
        });

        it("refuses a realm that is not an http(s) URL, or carries user info, before sending anything there", async () => {
            for (const realm of ["file:///etc/passwd", `http://x:y@${elsewhere.address}/token`, "not a url"]) {
                const ask = challenge(realm);
                registry.script = (req, res) => ask(req, res) && res.writeHead(500).end();
                await rejectsNaming(client({ credentials }).resolveTag("a/b", "v1"), MalformedResponseError, registry,
                    /bearer challenge names/);
            }
            assert.deepStrictEqual(elsewhere.requests, []);
        });

        it("names the token service when its answer is unusable", async () => {
            for (const answer of ["<html>", JSON.stringify({ token: "a\r\nX-Injected: 1" }), JSON.stringify({ token: 5 })]) {
                const ask = challenge(`${registry.origin}/token`);
                registry.script = (req, res) => {
                    if (req.url!.startsWith("/token")) {
                        res.writeHead(200).end(answer);
                    } else if (ask(req, res)) {
                        res.writeHead(500).end();
                    }
                };
                await rejectsNaming(client({ credentials }).resolveTag("a/b", "v1"), MalformedResponseError, registry,
                    /GET \/token\?service=scripted/, /token response/);
            }
        });
    });
});

type Provider = Required<pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs>>;

describe("labels with control characters, from a scripted registry", function () {
    this.timeout(30_000);
    const hostile = "fix \x1b[2J\x1b]0;pwned\x07 \u009b31m\u202e\0 `$(id)` __IAC_DEPLOYED_AT__ ✓";
    let registry: ScriptedRegistry;
    const image = imageWithLabels({
        "org.opencontainers.image.description": hostile,
        "org.opencontainers.image.created": "2026-01-25T01:10:00Z\x1b[31m",
        "org.opencontainers.image.revision": "abc\u0085",
        "org.opencontainers.image.source": "https://example.invalid/\x07",
    });
    const controls = /[\x00-\x1f\x7f-\x9f\u202a-\u202e]/;

    before(async () => {
        const serve = serveImage(image);
        registry = await ScriptedRegistry.start((req, res) => req.url!.includes("/tags/list")
            ? res.writeHead(200).end(JSON.stringify({ name: "a/b", tags: ["v1"] }))
            : serve(req, res));
    });
    after(async () => registry.stop());

    it("ImageDigest (loaded as the engine loads it) outputs them printable, and the exact description in descriptionBase64", async () => {
        const provider = loadedProvider<Provider>("ImageDigest");
        const outs = (await provider.create({ registry: registry.address, repository: "a/b", tag: "v1", insecure: true })).outs!;
        for (const key of ["description", "created", "revision", "source"] as const) {
            assert.ok(outs[key] && !controls.test(outs[key]!), `${key}: ${JSON.stringify(outs[key])}`);
        }
        assert.match(outs.description!, /^fix \\u001b\]0;pwned\\u0007 \\u009b31m\\u202e\\u0000 `\$\(id\)` __IAC_DEPLOYED_AT__ ✓$/);
        assert.strictEqual(Buffer.from(outs.descriptionBase64!, "base64").toString("utf8"), hostile);
    });

    it("the overview's rows are printable: the command's, and those an app's pin keeps", async () => {
        const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-hostile-"));
        try {
            const listing = await listOverview({ registry: registry.address, repository: "a/b", insecure: true, cacheDir }, { digest: image.digest, tag: null });
            assert.strictEqual(listing.length, 1);
            assert.ok(listing[0].deployed);
            const pinned = (await loadedProvider<Provider>("ImageDigest").create({ registry: registry.address, repository: "a/b", tag: "v1", insecure: true, listTags: true })).outs!;
            assert.strictEqual(pinned.tags?.length, 1);
            for (const row of [listing[0], pinned.tags![0]]) {
                const shown = Object.values(row).filter((v) => typeof v === "string").join("");
                assert.match(shown, /pwned/, "the hostile description is shown, escaped");
                assert.ok(!controls.test(shown), JSON.stringify(shown));
            }
        } finally {
            fs.rmSync(cacheDir, { recursive: true, force: true });
        }
    });
});
