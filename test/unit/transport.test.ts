// The registry client's HTTP layer against real servers on loopback (http, and https with a certificate made for
// the test): redirects and where the Authorization header goes, the deadline over headers and body, kept
// connections, a kept connection the server dropped, compressed bodies, and certificate checks.
import * as assert from "assert";
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { RegistryClient } from "../../components/registry/client";
import { ManifestNotFoundError, MalformedResponseError, RegistryUnreachableError } from "../../components/registry/errors";
import { RedirectError, Transport, TransportResponse } from "../../components/registry/transport";
import { ScriptedRegistry, ociManifestType, sha256 } from "../helpers/hostile-registry";

const projectRoot = path.resolve(__dirname, "../..");

async function text(response: TransportResponse): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
}

describe("registry transport", function () {
    this.timeout(30_000);
    let server: ScriptedRegistry;
    let elsewhere: ScriptedRegistry;
    const get = (transport: Transport, url: string, headers: Record<string, string> = {}, timeoutMs = 5000, method = "GET") =>
        transport.request({ method, url: new URL(url), headers, timeoutMs });

    beforeEach(async () => {
        server = await ScriptedRegistry.start(() => assert.fail("unscripted"));
        elsewhere = await ScriptedRegistry.start((req, res) => res.end(`elsewhere ${req.url}`), "127.0.0.2");
    });
    afterEach(async () => {
        await server.stop();
        await elsewhere.stop();
    });

    describe("redirects", () => {
        it("keeps the Authorization header on the same origin and drops it on another", async () => {
            server.script = (req, res) => {
                if (req.url === "/start") {
                    res.writeHead(307, { location: "/moved" }).end();
                } else if (req.url === "/moved") {
                    res.writeHead(302, { location: `${elsewhere.origin}/storage?sig=1` }).end();
                } else {
                    assert.fail(req.url);
                }
            };
            const response = await get(new Transport(), `${server.origin}/start`, { authorization: "Bearer secret" });
            assert.strictEqual(response.status, 200);
            assert.strictEqual(await text(response), "elsewhere /storage?sig=1");
            assert.deepStrictEqual(server.requests.map((r) => [r.url, r.authorization]),
                [["/start", "Bearer secret"], ["/moved", "Bearer secret"]]);
            assert.deepStrictEqual(elsewhere.requests.map((r) => r.authorization), [undefined]);
        });

        it("does not give the header back when a later redirect returns to the first origin", async () => {
            server.script = (req, res) => req.url === "/start"
                ? res.writeHead(302, { location: `${elsewhere.origin}/bounce` }).end()
                : res.end("back");
            elsewhere.script = (_req, res) => res.writeHead(302, { location: `${server.origin}/back` }).end();
            assert.strictEqual(await text(await get(new Transport(), `${server.origin}/start`, { authorization: "Basic x" })), "back");
            assert.deepStrictEqual(server.requests.map((r) => r.authorization), ["Basic x", undefined]);
        });

        it("follows at most 20, then fails with a RedirectError", async () => {
            server.script = (req, res) => res.writeHead(302, { location: `/hop?${Number(req.url!.split("?")[1] ?? 0) + 1}` }).end();
            await assert.rejects(get(new Transport(), `${server.origin}/hop?0`), (error: Error) =>
                error instanceof RedirectError && /more than 20 redirects/.test(error.message));
            assert.strictEqual(server.requests.length, 21);
        });

        it("refuses a redirect to another scheme or to a URL with user info, sending nothing there", async () => {
            for (const location of ["file:///etc/passwd", `http://u:p@${elsewhere.address}/x`, "http://[::1"]) {
                server.script = (_req, res) => res.writeHead(301, { location }).end();
                await assert.rejects(get(new Transport(), `${server.origin}/x`), RedirectError, location);
            }
            assert.deepStrictEqual(elsewhere.requests, []);
        });

        it("turns a DELETE into a GET on a 303, and keeps it on a 307", async () => {
            server.script = (req, res) => req.url === "/see-other" ? res.writeHead(303, { location: "/done" }).end()
                : req.url === "/temporary" ? res.writeHead(307, { location: "/done" }).end() : res.writeHead(202).end();
            await text(await get(new Transport(), `${server.origin}/see-other`, {}, 5000, "DELETE"));
            await text(await get(new Transport(), `${server.origin}/temporary`, {}, 5000, "DELETE"));
            assert.deepStrictEqual(server.requests.map((r) => `${r.method} ${r.url}`),
                ["DELETE /see-other", "GET /done", "DELETE /temporary", "DELETE /done"]);
        });

        it("names a redirect loop as the registry's unusable answer, through the client", async () => {
            server.script = (req, res) => res.writeHead(302, { location: req.url }).end();
            const client = new RegistryClient({ registry: server.address, insecure: true, retries: 2 });
            await assert.rejects(client.getManifest("a/b", "v1"), (error: Error) =>
                error instanceof MalformedResponseError && error.message.includes(server.address) &&
                /GET \/v2\/a\/b\/manifests\/v1.*redirects with more than 20 redirects/.test(error.message));
            assert.strictEqual(server.requests.length, 21, "not retried");
        });
    });

    describe("the deadline", () => {
        it("covers the headers", async () => {
            server.script = () => undefined;
            const started = Date.now();
            await assert.rejects(get(new Transport(), `${server.origin}/slow`, {}, 300), { name: "TimeoutError" });
            assert.ok(Date.now() - started < 1500);
        });

        it("covers the body, from the request on", async () => {
            server.script = (_req, res) => {
                res.writeHead(200);
                const timer = setInterval(() => res.write("x"), 50);
                res.on("close", () => clearInterval(timer));
            };
            const started = Date.now();
            const response = await get(new Transport(), `${server.origin}/drip`, {}, 400);
            await assert.rejects(text(response), { name: "TimeoutError" });
            const elapsed = Date.now() - started;
            assert.ok(elapsed >= 400 && elapsed < 1500, `${elapsed} ms`);
        });

        it("covers all the redirects together", async () => {
            server.script = (req, res) => {
                setTimeout(() => res.writeHead(302, { location: `${req.url}x` }).end(), 150);
            };
            const started = Date.now();
            await assert.rejects(get(new Transport(), `${server.origin}/x`, {}, 500), { name: "TimeoutError" });
            assert.ok(Date.now() - started < 1500);
            assert.ok(server.requests.length <= 4, `${server.requests.length} requests`);
        });
    });

    describe("connections", () => {
        it("keeps them: GETs and HEADs in sequence over one, 8 at a time over 8", async () => {
            server.script = (req, res) => res.writeHead(200, { "content-length": 5 }).end(req.method === "HEAD" ? undefined : "hello");
            const transport = new Transport();
            for (let i = 0; i < 20; i++) {
                const method = i % 2 ? "HEAD" : "GET";
                const response = await get(transport, `${server.origin}/${i}`, {}, 5000, method);
                assert.strictEqual(await text(response), method === "HEAD" ? "" : "hello");
            }
            assert.strictEqual(server.connections, 1);
            for (let round = 0; round < 5; round++) {
                await Promise.all(Array.from({ length: 8 }, async (_, i) => text(await get(transport, `${server.origin}/p${i}`))));
            }
            assert.strictEqual(server.connections, 8);
        });

        it("sends a request again on a new connection when the server dropped the kept one", async () => {
            // Each connection answers one request, then drops the next as it arrives: a server that closed it idle.
            const answered = new WeakSet<object>();
            server.script = (req, res) => {
                if (answered.has(req.socket)) {
                    req.socket.destroy();
                    return;
                }
                answered.add(req.socket);
                res.end("ok");
            };
            const transport = new Transport();
            for (let i = 0; i < 3; i++) {
                assert.strictEqual(await text(await get(transport, `${server.origin}/${i}`)), "ok");
            }
            assert.strictEqual(server.connections, 3);
        });

        it("keeps a connection whose unread body is small, and closes one whose body is large", async () => {
            let large = false;
            server.script = (_req, res) => res.writeHead(404).end(large ? Buffer.alloc(1024 * 1024) : "{}");
            const client = new RegistryClient({ registry: server.address, insecure: true, retries: 0 });
            const missing = () => assert.rejects(client.getManifest("a/b", `sha256:${"0".repeat(64)}`), ManifestNotFoundError);
            for (let i = 0; i < 3; i++) {
                await missing();
            }
            assert.strictEqual(server.connections, 1);
            large = true;
            await missing();
            large = false;
            await missing();
            assert.strictEqual(server.connections, 2);
        });

        it("keeps the connection through a redirect on the same origin and a 401 challenge", async () => {
            server.script = (req, res) => {
                if (!req.headers.authorization) {
                    res.writeHead(401, { "www-authenticate": 'Basic realm="r"' }).end("{}");
                } else if (req.url!.startsWith("/v2/a/b/")) {
                    res.writeHead(307, { location: "/v2/moved/b/tags/list" }).end("{}");
                } else {
                    res.end(JSON.stringify({ name: "a/b", tags: ["v1"] }));
                }
            };
            const client = new RegistryClient({ registry: server.address, insecure: true, credentials: { username: "u", password: "p" } });
            assert.deepStrictEqual(await client.listTags("a/b"), ["v1"]);
            assert.strictEqual(server.requests.length, 3);
            assert.strictEqual(server.connections, 1);
        });
    });

    it("decodes a body the server compressed although nobody asked", async () => {
        const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociManifestType }));
        for (const [coding, encode] of [["gzip", zlib.gzipSync], ["deflate", zlib.deflateSync], ["br", zlib.brotliCompressSync]] as const) {
            server.script = (req, res) => {
                assert.strictEqual(req.headers["accept-encoding"], undefined);
                res.writeHead(200, { "content-encoding": coding, "content-type": ociManifestType }).end(encode(manifest));
            };
            const client = new RegistryClient({ registry: server.address, insecure: true });
            assert.strictEqual((await client.getManifest("a/b", sha256(manifest))).digest, sha256(manifest), coding);
        }
    });
});

describe("registry transport over TLS", function () {
    this.timeout(60_000);
    let dir: string;
    let server: https.Server;
    let address: string;
    let connections = 0;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociManifestType }));

    before(async function () {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-tls-"));
        try {
            execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=iac test registry",
                "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
        } catch (error) {
            throw new Error(`openssl could not make the test certificate (scripts/install-tools installs it): ${(error as Error).message}`);
        }
        server = https.createServer({ key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) },
            (_req, res) => res.writeHead(200, { "content-type": ociManifestType, "docker-content-digest": sha256(manifest) }).end(manifest));
        server.on("secureConnection", () => connections++);
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
        server?.closeAllConnections();
        await new Promise((resolve) => server ? server.close(resolve) : resolve(undefined));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("refuses a certificate nobody trusts, naming why", async () => {
        const client = new RegistryClient({ registry: address, retries: 0 });
        await assert.rejects(client.getManifest("a/b", "v1"), (error: Error) =>
            error instanceof RegistryUnreachableError && error.message.includes(address) && /SELF_SIGNED/.test(error.message));
    });

    it("trusts what node trusts (NODE_EXTRA_CA_CERTS here), over kept connections", async () => {
        connections = 0;
        // Node reads NODE_EXTRA_CA_CERTS at its start only, so the client runs in a process of its own.
        const script = `
            const { RegistryClient } = require("./components/registry/client");
            const client = new RegistryClient({ registry: ${JSON.stringify(address)} });
            (async () => {
                for (let i = 0; i < 10; i++) await client.getManifest("a/b", "v" + i);
                console.log((await client.getManifest("a/b", "v1")).digest);
            })().catch((error) => { console.error(error.message); process.exit(1); });`;
        const stdout = await new Promise<string>((resolve, reject) => execFile(process.execPath,
            ["-r", "ts-node/register/transpile-only", "-e", script],
            { cwd: projectRoot, env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, "cert.pem") } },
            (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))));
        assert.strictEqual(stdout.trim(), sha256(manifest));
        assert.strictEqual(connections, 1);
    });
});
