// listRepositoryTags against a scripted registry (a real HTTP server): what it asks for, per tag and per digest,
// and over how many connections.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DigestCache } from "../../components/registry/cache";
import { RegistryClient } from "../../components/registry/client";
import { listRepositoryTags } from "../../components/registry/listing";
import { ScriptedRegistry, imageWithLabels, ociManifestType } from "../helpers/hostile-registry";

describe("listRepositoryTags", () => {
    const images = [0, 1].map((i) => imageWithLabels({
        "org.opencontainers.image.description": `build ${i}`, "org.opencontainers.image.created": `2026-01-0${i + 1}T00:00:00Z` }));
    const tags = Array.from({ length: 40 }, (_, i) => `v${i}`);
    const imageOf = (tag: string) => images[Number(tag.slice(1)) % 2];
    let registry: ScriptedRegistry;
    let cacheDir: string;

    beforeEach(async () => {
        cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-listing-"));
        registry = await ScriptedRegistry.start((req, res) => {
            const url = new URL(req.url!, "http://x").pathname;
            const manifest = /^\/v2\/a\/b\/manifests\/(v\d+)$/.exec(url);
            const blob = images.find((image) => url === `/v2/a/b/blobs/${image.configDigest}`);
            if (url === "/v2/a/b/tags/list") {
                res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "a/b", tags }));
            } else if (manifest) {
                const image = imageOf(manifest[1]);
                res.writeHead(200, { "content-type": ociManifestType, "docker-content-digest": image.digest });
                res.end(req.method === "HEAD" ? undefined : image.manifest);
            } else if (blob) {
                res.writeHead(200).end(blob.config);
            } else {
                res.writeHead(404).end();
            }
        });
    });
    afterEach(async () => {
        await registry.stop();
        fs.rmSync(cacheDir, { recursive: true, force: true });
    });

    it("reads each tag's manifest once and each digest's config once, over kept connections", async () => {
        const client = new RegistryClient({ registry: registry.address, insecure: true, cache: new DigestCache(cacheDir) });
        const rows = await listRepositoryTags(client, "a/b");
        assert.deepStrictEqual(rows.map((r) => [r.tag, r.digest, r.description]),
            tags.map((tag) => [tag, imageOf(tag).digest, `build ${Number(tag.slice(1)) % 2}`]));
        const paths = registry.requests.map((r) => `${r.method} ${r.url}`);
        assert.strictEqual(paths.filter((p) => p.includes("/manifests/")).length, tags.length, "one manifest request per tag");
        for (const image of images) {
            assert.strictEqual(paths.filter((p) => p === `GET /v2/a/b/blobs/${image.configDigest}`).length, 1, "one config per digest");
        }
        // 8 in flight at most, on connections kept from request to request: not a connection per tag. A request
        // starts when another's body is read to its end, which has put that connection back already.
        assert.ok(registry.connections <= 8, `${registry.connections} connections for ${paths.length} requests`);
    });

    it("reads configs from the cache on the next run: one request per tag and the tag list", async () => {
        const cache = new DigestCache(cacheDir);
        await listRepositoryTags(new RegistryClient({ registry: registry.address, insecure: true, cache }), "a/b");
        const before = registry.requests.length;
        const rows = await listRepositoryTags(new RegistryClient({ registry: registry.address, insecure: true, cache }), "a/b");
        assert.strictEqual(rows.filter((r) => r.created !== null).length, tags.length);
        assert.strictEqual(registry.requests.length - before, tags.length + 1);
    });
});
