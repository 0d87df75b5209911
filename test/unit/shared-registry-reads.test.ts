// A refresh reads many resources at once: the app pins of one repository then share one listing of it (each keeps
// it, and takes its drift from it), a pin that keeps no listing (the proxy's) takes its tag from a listing under
// way, and the pins on one tag share one HEAD (components/providers/shared-registry-reads.ts); a read that comes
// after those finished asks again. And how an app's pin keeps its listing: read with a new pin and on refresh,
// never on a run that changes nothing, and read once, the pin kept, for a pin from before listings were kept.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { ImageDigestInputs, ImageDigestOutputs, imageDigestProvider, resolveImage } from "../../components/providers/image-digest";
import { ScriptedImage, ScriptedRegistry, imageWithLabels, serveImage } from "../helpers/hostile-registry";

type DigestProvider = Required<pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs>>;

describe("a refresh's registry reads: shared while they run", function () {
    this.timeout(30_000);
    const first = imageWithLabels({ "org.opencontainers.image.description": "first", "org.opencontainers.image.created": "2026-01-25T01:01:00Z" });
    const second = imageWithLabels({ "org.opencontainers.image.description": "second", "org.opencontainers.image.created": "2026-01-25T01:10:00Z" });
    /** What each tag points at now; a test moves one. */
    let tags: Record<string, ScriptedImage>;
    let tagListFails: boolean;
    let registry: ScriptedRegistry;
    let cacheHome: string;
    let previousCacheHome: string | undefined;
    const digestProvider = imageDigestProvider as DigestProvider;
    const access = () => ({ registry: registry.address, insecure: true, platform: "linux/amd64" });

    before(async () => {
        // The digest cache the providers use by default: this test's own, so what it counts starts cold.
        cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), "iac-shared-listing-"));
        previousCacheHome = process.env.XDG_CACHE_HOME;
        process.env.XDG_CACHE_HOME = cacheHome;
        registry = await ScriptedRegistry.start((req, res) => {
            const url = new URL(req.url!, "http://x").pathname;
            const tag = /\/manifests\/(v\d)$/.exec(url)?.[1];
            const image = tag ? tags[tag] : [first, second].find((i) => url.includes(i.digest) || url.includes(i.configDigest));
            if (url.endsWith("/tags/list")) {
                res.writeHead(tagListFails ? 500 : 200).end(JSON.stringify({ name: "a/b", tags: Object.keys(tags) }));
            } else if (image) {
                serveImage(image)(req, res);
            } else {
                res.writeHead(404).end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "no such tag" }] }));
            }
        });
    });
    beforeEach(() => {
        tags = { v1: first, v2: second };
        tagListFails = false;
    });
    after(async () => {
        await registry.stop();
        if (previousCacheHome === undefined) {
            delete process.env.XDG_CACHE_HOME;
        } else {
            process.env.XDG_CACHE_HOME = previousCacheHome;
        }
        fs.rmSync(cacheHome, { recursive: true, force: true });
    });

    /** A pin that keeps no listing, as the proxy's. */
    const pin = () => resolveImage({ ...access(), repository: "a/b", tag: "v1" });
    /** An app's pin, which keeps the repository's listing. */
    const listingPin = async () => (await digestProvider.create({ ...access(), repository: "a/b", tag: "v1", listTags: true })).outs!;
    const requestsDuring = async <T>(task: () => Promise<T>): Promise<{ result: T; requests: string[] }> => {
        const before = registry.requests.length;
        const result = await task();
        return { result, requests: registry.requests.slice(before).map((r) => `${r.method} ${r.url}`) };
    };
    const driftOf = (read: { props?: unknown }) => {
        const drift = (read.props as ImageDigestOutputs).drift;
        return drift && [drift.pinnedDigest, drift.currentDigest];
    };

    it("lists a repository once for the app pins of it read together, and a pin without a listing then takes its tag from it", async () => {
        const pinned = await pin();
        const app = await listingPin();
        const alone = await requestsDuring(() => digestProvider.read("a/b", app));
        assert.ok(alone.requests.some((request) => request.endsWith("/tags/list")), "an app's pin lists the repository");
        assert.ok(!alone.requests.some((request) => request.startsWith("HEAD ")), "and takes its drift from that listing");

        const together = await requestsDuring(() => Promise.all([
            digestProvider.read("a/b", app), digestProvider.read(pinned.ref, pinned),
            digestProvider.read("a/b", app), digestProvider.read(pinned.ref, pinned),
        ]));
        assert.deepStrictEqual(together.requests, alone.requests, "two app pins and two pins without a listing: one listing, no HEAD");
        assert.deepStrictEqual(together.result.map(driftOf), [null, null, null, null]);
        assert.deepStrictEqual((together.result[0].props as ImageDigestOutputs).tags!.map((row) => [row.tag, row.digest]),
            [["v2", second.digest], ["v1", first.digest]]);
        assert.strictEqual((together.result[1].props as ImageDigestOutputs).tags, undefined, "a pin without a listing keeps none");
    });

    it("asks one HEAD for the pins on one tag read together, as one pin alone asks", async () => {
        const pinned = await pin();
        const alone = await requestsDuring(() => digestProvider.read(pinned.ref, pinned));
        const together = await requestsDuring(() => Promise.all([1, 2, 3].map(() => digestProvider.read(pinned.ref, pinned))));
        assert.deepStrictEqual(together.requests, alone.requests);
        assert.deepStrictEqual(alone.requests.filter((request) => request.startsWith("HEAD ")).length, 1);
        assert.deepStrictEqual(together.result.map(driftOf), [null, null, null]);
    });

    it("asks again for a read after the last request finished: a tag moved or deleted since is drift", async () => {
        const pinned = await pin();
        const app = await listingPin();
        assert.strictEqual(driftOf(await digestProvider.read(pinned.ref, pinned)), null);
        tags.v1 = second;
        const [listed, moved] = await Promise.all([digestProvider.read("a/b", app), digestProvider.read(pinned.ref, pinned)]);
        assert.deepStrictEqual(driftOf(moved), [pinned.digest, second.digest]);
        assert.deepStrictEqual(driftOf(listed), [app.digest, second.digest]);
        assert.strictEqual((listed.props as ImageDigestOutputs).tags!.find((row) => row.tag === "v1")?.digest, second.digest);
        assert.strictEqual((listed.props as ImageDigestOutputs).digest, app.digest, "the pin stays");
        delete tags.v1;
        assert.deepStrictEqual(driftOf(await digestProvider.read(pinned.ref, pinned)), [pinned.digest, null]);
        const [goneFromListing, gone] = await Promise.all([digestProvider.read("a/b", app), digestProvider.read(pinned.ref, pinned)]);
        assert.deepStrictEqual([driftOf(goneFromListing), driftOf(gone)], [[app.digest, null], [pinned.digest, null]]);
    });

    it("checks the tag with its own HEAD when the listing under way fails", async () => {
        const pinned = await pin();
        const app = await listingPin();
        tags.v1 = second;
        tagListFails = true;
        const { result: [listed, read], requests } = await requestsDuring(() =>
            Promise.allSettled([digestProvider.read("a/b", app), digestProvider.read(pinned.ref, pinned)]));
        assert.strictEqual(listed.status, "rejected", "an app's pin fails with its listing");
        assert.deepStrictEqual(read.status === "fulfilled" && driftOf(read.value), [pinned.digest, second.digest]);
        assert.deepStrictEqual(requests.filter((request) => request.startsWith("HEAD ")).length, 1);
    });


    describe("an app's pin keeps its repository's listing", () => {
        it("lists with a new pin, and not when nothing changed", async () => {
            const app = await listingPin();
            assert.deepStrictEqual(app.tags!.map((row) => row.tag), ["v2", "v1"]);
            assert.ok(app.listedAt);
            const same = { ...access(), repository: "a/b", tag: "v1", listTags: true };
            const unchanged = await requestsDuring(() => digestProvider.diff("a/b", app, same));
            assert.deepStrictEqual([unchanged.result.changes, unchanged.requests], [false, []]);

            tags.v3 = second;
            const moved = { ...same, tag: "v2" };
            assert.strictEqual((await digestProvider.diff("a/b", app, moved)).changes, true);
            const updated = (await digestProvider.update("a/b", app, moved)).outs!;
            assert.deepStrictEqual([updated.digest, updated.tags!.map((row) => row.tag)], [second.digest, ["v2", "v3", "v1"]]);
        });

        it("for a pin from before listings were kept: asks nothing on a run that changes nothing, lists on refresh, the pin kept", async () => {
            const before = await pin();
            assert.deepStrictEqual([before.listTags, before.tags], [false, undefined]);
            const { listTags: _, ...older } = before;
            const news = { ...access(), repository: "a/b", tag: "v1", listTags: true };
            const unchanged = await requestsDuring(() => digestProvider.diff(before.ref, older, news));
            assert.deepStrictEqual([unchanged.result.changes, unchanged.requests], [false, []]);
            tags.v1 = second;
            const { result: read, requests } = await requestsDuring(() => digestProvider.read(before.ref, older));
            const refreshed = read.props as ImageDigestOutputs;
            assert.strictEqual(refreshed.digest, first.digest, "the pin stays, though the tag moved");
            assert.deepStrictEqual(driftOf(read), [first.digest, second.digest]);
            assert.deepStrictEqual(refreshed.tags!.map((row) => [row.tag, row.digest]), [["v1", second.digest], ["v2", second.digest]], "same created: by tag");
            assert.ok(requests.some((request) => request.endsWith("/tags/list")));
            assert.strictEqual((await digestProvider.read(before.ref, before)).props!.tags, undefined, "a pin that keeps no listing lists nothing");
        });

        it("fails a new pin whose listing fails, naming the registry, before anything is deployed", async () => {
            tagListFails = true;
            await assert.rejects(digestProvider.create({ ...access(), repository: "a/b", tag: "v1", listTags: true }), (error: Error) => {
                assert.match(error.message, new RegExp(`${registry.address.replace(/[.]/g, "\\.")}`));
                return true;
            });
        });
    });
});
