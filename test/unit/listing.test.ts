// listRepositoryTags against a scripted registry (a real HTTP server): what it asks for, per tag and per digest,
// and over how many connections; what becomes of a tag whose image cannot be read.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ServerResponse } from "http";
import { imageDigestProvider } from "../../components/providers/image-digest";
import { markDeployed, unknownLabels } from "../../components/model/overview-listing";
import { formatImageTable } from "../../components/model/overview";
import { DigestCache } from "../../components/registry/cache";
import { RegistryClient } from "../../components/registry/client";
import {
    DigestMismatchError, MalformedResponseError, RegistryAuthError, RegistryResponseError, RegistryTimeoutError,
    RepositoryNotFoundError, UnreadableImageError,
} from "../../components/registry/errors";
import { TagRow, listRepositoryTags } from "../../components/registry/listing";
import { ScriptedRegistry, drip, imageWithLabels, ociManifestType, sha256 } from "../helpers/hostile-registry";
import { loadedProvider } from "../helpers/loaded-provider";

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

// One bad tag among good ones: an index without the platform, a broken manifest, a missing config. The overviews
// list it as a row that says why; only a failure of the registry or the repository as a whole fails the listing.
describe("listRepositoryTags with tags whose image cannot be read", function () {
    this.timeout(30_000);
    const indexType = "application/vnd.oci.image.index.v1+json";
    const good = imageWithLabels({ "org.opencontainers.image.description": "good build", "org.opencontainers.image.created": "2026-01-02T00:00:00Z" });
    const arm64 = imageWithLabels({ "org.opencontainers.image.description": "arm64 build" });
    const index = (platforms: { os: string; architecture: string; digest: string }[]) => Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: indexType,
        manifests: platforms.map(({ os, architecture, digest }) => ({ mediaType: ociManifestType, digest, size: 1, platform: { os, architecture } })),
    }));
    const missingDigest = sha256(Buffer.from("never pushed"));
    const noConfigBlob = imageWithLabels({ "org.opencontainers.image.description": "config deleted" });
    const noConfigDescriptor = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociManifestType, layers: [] }));
    const brokenJson = Buffer.from('{"schemaVersion": 2,');
    /** What each tag's manifest GET answers: bytes, media type, and the digest announced for them. */
    const manifests: Record<string, { bytes: Buffer; type: string; digest?: string }> = {
        good: { bytes: good.manifest, type: ociManifestType },
        "good-too": { bytes: good.manifest, type: ociManifestType },
        arm64only: { bytes: index([{ os: "linux", architecture: "arm64", digest: arm64.digest }]), type: indexType },
        hostile: { bytes: index([{ os: "linux\x1b[2J", architecture: "arm\u202e64", digest: arm64.digest }]), type: indexType },
        orphan: { bytes: index([{ os: "linux", architecture: "amd64", digest: missingDigest }]), type: indexType },
        "no-config": { bytes: noConfigBlob.manifest, type: ociManifestType },
        "not-an-image": { bytes: noConfigDescriptor, type: ociManifestType },
        broken: { bytes: brokenJson, type: ociManifestType },
        tampered: { bytes: good.manifest, type: ociManifestType, digest: missingDigest },
    };
    const byDigest = new Map([good, arm64].map((image) => [image.digest, image.manifest]));
    const blobs = new Map([good, arm64].map((image) => [image.configDigest, image.config]));
    /** Per path, what to answer instead: a failure of the registry itself. */
    let override: (path: string, res: ServerResponse) => boolean = () => false;
    let registry: ScriptedRegistry;

    before(async () => {
        registry = await ScriptedRegistry.start((req, res) => {
            const path = new URL(req.url!, "http://x").pathname;
            const reference = /^\/v2\/a\/b\/manifests\/(.+)$/.exec(path)?.[1];
            const blob = /^\/v2\/a\/b\/blobs\/(.+)$/.exec(path)?.[1];
            if (override(path, res)) {
                return;
            }
            if (path === "/v2/a/b/tags/list") {
                res.writeHead(200).end(JSON.stringify({ name: "a/b", tags: Object.keys(manifests) }));
            } else if (reference && manifests[reference]) {
                const { bytes, type, digest } = manifests[reference];
                res.writeHead(200, { "content-type": type, "docker-content-digest": digest ?? sha256(bytes) }).end(bytes);
            } else if (reference && byDigest.has(reference)) {
                res.writeHead(200, { "content-type": ociManifestType, "docker-content-digest": reference }).end(byDigest.get(reference));
            } else if (blob && blobs.has(blob)) {
                res.writeHead(200).end(blobs.get(blob));
            } else {
                res.writeHead(404, { "content-type": "application/json" })
                    .end(JSON.stringify({ errors: [{ code: reference ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN", message: "unknown" }] }));
            }
        });
    });
    beforeEach(() => {
        override = () => false;
    });
    after(async () => registry.stop());

    const client = () => new RegistryClient({ registry: registry.address, insecure: true, retries: 0, timeoutMs: 2_000 });
    const list = () => listRepositoryTags(client(), "a/b", { unreadableAsRows: true });
    const byTag = <Row extends TagRow>(rows: Row[]) => Object.fromEntries(rows.map((row) => [row.tag, row]));
    const expectedReasons: Record<string, RegExp | undefined> = {
        good: undefined,
        "good-too": undefined,
        arm64only: /^no linux\/amd64 image in this index: linux\/arm64$/,
        hostile: /^no linux\/amd64 image in this index: linux\/arm\\u202e64$/,
        orphan: new RegExp(`^manifest missing: the index's linux/amd64 image ${missingDigest}$`),
        "no-config": new RegExp(`^config blob missing: ${noConfigBlob.configDigest}$`),
        "not-an-image": /^not an image: its manifest has no config$/,
        broken: /^manifest unreadable: the manifest is not JSON/,
        tampered: new RegExp(`^unreadable: the manifest bytes served hash to ${good.digest}, not ${missingDigest}$`),
    };

    it("lists every good tag as before and each unreadable one as a row that says why", async () => {
        const rows = byTag(await list());
        assert.deepStrictEqual(Object.keys(rows).sort(), Object.keys(manifests).sort());
        for (const tag of ["good", "good-too"]) {
            assert.deepStrictEqual(rows[tag], {
                repository: "a/b", tag, digest: good.digest, created: "2026-01-02T00:00:00Z", description: "good build", revision: null, source: null,
            });
        }
        for (const [tag, reason] of Object.entries(expectedReasons).filter(([, reason]) => reason)) {
            assert.match(rows[tag].unreadable ?? "(none)", reason!, `${tag}: ${rows[tag].unreadable}`);
            assert.deepStrictEqual([rows[tag].created, rows[tag].description], [null, null], tag);
            assert.ok(!/[\x00-\x1f\x7f-\x9f\u202a-\u202e]/.test(rows[tag].unreadable!), JSON.stringify(rows[tag].unreadable));
        }
        // The digest, where the tag's own manifest was read: not when that manifest is what is broken.
        assert.strictEqual(rows.arm64only.digest, sha256(manifests.arm64only.bytes));
        assert.strictEqual(rows["no-config"].digest, noConfigBlob.digest);
        assert.strictEqual(rows.broken.digest, null);
        assert.strictEqual(rows.tampered.digest, null);
    });

    it("fails as a whole, with the registry's error, when the registry fails or refuses on one tag", async () => {
        const failures: [number, new (...args: never[]) => Error][] = [[500, RegistryResponseError], [401, RegistryAuthError], [403, RegistryAuthError]];
        for (const [status, errorClass] of failures) {
            override = (path, res) => path === "/v2/a/b/manifests/good-too" && !!res.writeHead(status).end();
            await assert.rejects(list(), errorClass, `HTTP ${status}`);
        }
        override = (path, res) => path === `/v2/a/b/blobs/${good.configDigest}` && !!res.writeHead(503).end();
        await assert.rejects(list(), RegistryResponseError);
        override = (path, res) => path === "/v2/a/b/manifests/good" && (drip(res, 50), true);
        await assert.rejects(list(), RegistryTimeoutError);
        override = (path, res) => path === "/v2/a/b/tags/list" && !!res.writeHead(404).end();
        await assert.rejects(list(), RepositoryNotFoundError);
    });

    it("without unreadableAsRows (cleanup's inventory) keeps failing on such a tag, and a missing image is gone as before", async () => {
        await assert.rejects(listRepositoryTags(client(), "a/b"), (error: Error) => {
            assert.ok(error instanceof UnreadableImageError || error instanceof MalformedResponseError ||
                error instanceof DigestMismatchError, `${error.name}: ${error.message}`);
            return true;
        });
        const only = async (tag: string) => {
            override = (path, res) => path === "/v2/a/b/tags/list" && !!res.writeHead(200).end(JSON.stringify({ name: "a/b", tags: [tag] }));
            return listRepositoryTags(client(), "a/b");
        };
        await assert.rejects(only("arm64only"), (error: Error) => {
            assert.ok(error instanceof UnreadableImageError, error.message);
            assert.match(error.message, /a\/b:arm64only: no linux\/amd64 image in this index: linux\/arm64; deploy a tag built for linux\/amd64/);
            return true;
        });
        assert.deepStrictEqual((await only("no-config")).map((row) => [row.digest, row.unreadable]), [[null, undefined]]);
        assert.deepStrictEqual((await only("orphan")).map((row) => [row.digest, row.unreadable]), [[null, undefined]]);
    });

    it("shows them in the overview table and in the rows an app's pin keeps (loaded as the engine loads it), marked as the program marks them", async () => {
        const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-unreadable-"));
        const previousCache = process.env.XDG_CACHE_HOME;
        process.env.XDG_CACHE_HOME = cacheDir;
        try {
            const provider = loadedProvider<Required<typeof imageDigestProvider>>("ImageDigest");
            const { outs } = await provider.create({ registry: registry.address, repository: "a/b", insecure: true, tag: "good", listTags: true });
            assert.strictEqual(outs!.digest, good.digest);
            const marked = markDeployed("a/b", outs!.tags!, { digest: good.digest, tag: "good" }, unknownLabels);
            const rows = byTag(marked);
            for (const [tag, reason] of Object.entries(expectedReasons)) {
                if (reason) {
                    assert.match(rows[tag].unreadable ?? "(none)", reason, tag);
                    assert.strictEqual(rows[tag].deployed, false);
                } else {
                    assert.strictEqual(rows[tag].unreadable, undefined);
                    assert.strictEqual(rows[tag].deployed, true);
                }
            }
            const lines = formatImageTable("a/b", marked, good.digest).split("\n").slice(4);
            assert.deepStrictEqual(lines.slice(0, 2), [
                "→ good          2026-01-02 00:00     good build",
                "→ good-too      2026-01-02 00:00     good build",
            ]);
            assert.ok(lines.includes("  arm64only                          (no linux/amd64 image in this index: linux/arm64)"), lines.join("\n"));
            assert.strictEqual(lines.length, Object.keys(manifests).length);
            assert.ok(!/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/.test(lines.join("\n")), JSON.stringify(lines));
        } finally {
            if (previousCache === undefined) {
                delete process.env.XDG_CACHE_HOME;
            } else {
                process.env.XDG_CACHE_HOME = previousCache;
            }
            fs.rmSync(cacheDir, { recursive: true, force: true });
        }
    });
});
