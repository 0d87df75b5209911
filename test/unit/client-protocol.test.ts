// The client's side of the protocol against a scripted HTTP server on loopback: the bearer-token handshake,
// retries, and digest checks on bytes a real registry would never get wrong.
import * as assert from "assert";
import { authMethods } from "../../components/registry/auth/authenticator";
import { AuthMethod } from "../../components/registry/auth/method";
import { RegistryClient } from "../../components/registry/client";
import { DigestMismatchError, RegistryAuthError, RegistryResponseError } from "../../components/registry/errors";
import { ScriptedRegistry, Script, sha256 } from "../helpers/hostile-registry";

async function withServer(script: Script, run: (server: ScriptedRegistry) => Promise<void>): Promise<void> {
    const server = await ScriptedRegistry.start(script);
    try {
        await run(server);
    } finally {
        await server.stop();
    }
}

const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json" }));
const manifestDigest = sha256(manifest);

describe("registry client protocol", () => {
    it("does the bearer handshake once per scope, sending credentials only to the token service", async () => {
        let tokensIssued = 0;
        await withServer((req, res) => {
            const url = new URL(req.url!, "http://x");
            if (url.pathname === "/token") {
                assert.strictEqual(req.headers.authorization, "Basic " + Buffer.from("u:p").toString("base64"));
                tokensIssued++;
                res.end(JSON.stringify({ token: `tok-${url.searchParams.get("scope")}`, expires_in: 300 }));
            } else if (!req.headers.authorization?.startsWith("Bearer tok-repository:")) {
                res.writeHead(401, { "www-authenticate": `Bearer realm="http://${req.headers.host}/token",service="test"` }).end();
            } else {
                res.writeHead(200, { "docker-content-digest": manifestDigest }).end();
            }
        }, async ({ address, requests }) => {
            const client = new RegistryClient({ registry: address, insecure: true, credentials: { username: "u", password: "p" } });
            assert.strictEqual(await client.resolveTag("a/b", "v1"), manifestDigest);
            assert.strictEqual(await client.resolveTag("a/b", "v2"), manifestDigest);
            assert.strictEqual(await client.resolveTag("c/d", "v1"), manifestDigest);
            assert.strictEqual(tokensIssued, 2, "one token per repository scope");
            const registryRequests = requests.filter((r) => r.url.startsWith("/v2/"));
            assert.ok(registryRequests.every((r) => !r.authorization?.startsWith("Basic")), "the registry itself never sees the password");
            assert.strictEqual(registryRequests.length, 4, "one 401, then one request per resolve");
        });
    });

    it("reports a refused token request as an auth error", async () => {
        await withServer((req, res) => {
            if (req.url!.startsWith("/token")) {
                res.writeHead(401).end();
            } else {
                res.writeHead(401, { "www-authenticate": `Bearer realm="http://${req.headers.host}/token"` }).end();
            }
        }, async ({ address }) => {
            const client = new RegistryClient({ registry: address, insecure: true, credentials: { username: "u", password: "wrong" } });
            await assert.rejects(client.resolveTag("a/b", "v1"), (e: Error) => e instanceof RegistryAuthError && !e.message.includes("wrong"));
        });
    });

    it("takes a new authentication method as one module, picked by the registry's challenge", async () => {
        // A stand-in scheme: the registry names a key, the method answers with that key and the username.
        const standIn: AuthMethod = {
            scheme: "x-stand-in",
            answer(challenge, { credentials }) {
                return credentials && challenge.params.key
                    ? { authorization: async (scope) => `X-Stand-In ${challenge.params.key}/${credentials.username}/${scope}` }
                    : undefined;
            },
        };
        await withServer((req, res) => {
            if (req.headers.authorization?.startsWith("X-Stand-In k1/u/repository:a/b:pull")) {
                res.writeHead(200, { "docker-content-digest": manifestDigest }).end();
            } else {
                res.writeHead(401, { "www-authenticate": 'X-Stand-In key="k1", Basic realm="r"' }).end();
            }
        }, async ({ address, requests }) => {
            const credentials = { username: "u", password: "p" };
            const client = new RegistryClient({ registry: address, insecure: true, credentials, authMethods: [...authMethods, standIn] });
            assert.strictEqual(await client.resolveTag("a/b", "v1"), manifestDigest);
            assert.strictEqual(await client.resolveTag("a/b", "v2"), manifestDigest);
            assert.deepStrictEqual(requests.map((r) => r.authorization?.split(" ")[0] ?? null), [null, "X-Stand-In", "X-Stand-In"],
                "one challenge, then the stand-in on every request");
            // Without it, the same challenge falls to the next method the client knows: basic.
            const without = new RegistryClient({ registry: address, insecure: true, credentials });
            await assert.rejects(without.resolveTag("a/b", "v1"), RegistryAuthError);
            assert.strictEqual(requests.at(-1)?.authorization, "Basic " + Buffer.from("u:p").toString("base64"));
        });
    });

    it("retries 503 and 429 a bounded number of times, and never a 400", async () => {
        let calls = 0;
        await withServer((req, res) => {
            calls++;
            if (req.url!.includes("flaky") && calls < 3) {
                res.writeHead(calls === 1 ? 503 : 429, { "retry-after": "0" }).end();
            } else if (req.url!.includes("bad")) {
                res.writeHead(400).end(JSON.stringify({ errors: [{ code: "NAME_INVALID", message: "nope" }] }));
            } else if (req.url!.includes("down")) {
                res.writeHead(503).end();
            } else {
                res.writeHead(200, { "docker-content-digest": manifestDigest }).end();
            }
        }, async ({ address }) => {
            const client = new RegistryClient({ registry: address, insecure: true, retries: 2, retryDelayMs: 1 });
            assert.strictEqual(await client.resolveTag("flaky/x", "v1"), manifestDigest);
            assert.strictEqual(calls, 3);
            calls = 0;
            await assert.rejects(client.getManifest("bad/x", "v1"), /HTTP 400 to GET .*NAME_INVALID: nope/);
            assert.strictEqual(calls, 1);
            calls = 0;
            await assert.rejects(client.resolveTag("down/x", "v1"), RegistryResponseError);
            assert.strictEqual(calls, 3);
        });
    });

    it("hashes the bytes when the digest header is missing, and refuses bytes that do not match a digest", async () => {
        await withServer((req, res) => {
            if (req.method === "HEAD") {
                res.writeHead(200).end();
            } else if (req.url!.includes("tampered")) {
                res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end(Buffer.concat([manifest, Buffer.from(" ")]));
            } else {
                res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end(manifest);
            }
        }, async ({ address }) => {
            const client = new RegistryClient({ registry: address, insecure: true });
            assert.strictEqual(await client.resolveTag("plain/x", "v1"), manifestDigest);
            await assert.rejects(client.getManifest("tampered/x", manifestDigest), DigestMismatchError);
            await assert.rejects(client.getBlob("tampered/x", manifestDigest), DigestMismatchError);
        });
    });
});
