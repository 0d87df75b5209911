// A refresh reads many resources at once: the overviews of one repository then share one listing of it, a pin's
// drift check takes its tag from a listing under way, and the pins on one tag share one HEAD
// (components/providers/shared-registry-reads.ts); a read that comes after those finished asks again.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { ImageDigestInputs, ImageDigestOutputs, imageDigestProvider, resolveImage } from "../../components/providers/image-digest";
import { imageOverviewProvider } from "../../components/providers/image-overview";
import { ImageOverviewInputs, ImageOverviewOutputs, listOverview } from "../../components/model/overview-listing";
import { ScriptedImage, ScriptedRegistry, imageWithLabels, serveImage } from "../helpers/hostile-registry";

type DigestProvider = Required<pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs>>;
type OverviewProvider = Required<pulumi.dynamic.ResourceProvider<ImageOverviewInputs, ImageOverviewOutputs>>;

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
    const overviewProvider = imageOverviewProvider as OverviewProvider;
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

    const pin = () => resolveImage({ ...access(), repository: "a/b", tag: "v1" });
    const overviewState = async (deployedDigest: string): Promise<ImageOverviewOutputs> =>
        listOverview({ ...access(), repository: "a/b", deployedDigest, deployedTag: "v1" });
    const requestsDuring = async <T>(task: () => Promise<T>): Promise<{ result: T; requests: string[] }> => {
        const before = registry.requests.length;
        const result = await task();
        return { result, requests: registry.requests.slice(before).map((r) => `${r.method} ${r.url}`) };
    };
    const driftOf = (read: { props?: unknown }) => {
        const drift = (read.props as ImageDigestOutputs).drift;
        return drift && [drift.pinnedDigest, drift.currentDigest];
    };

    it("lists a repository once for its overviews read together, and a pin read then takes its tag from that listing", async () => {
        const pinned = await pin();
        const overview = await overviewState(pinned.digest);
        const alone = await requestsDuring(() => overviewProvider.read("a/b", overview));
        assert.ok(alone.requests.some((request) => request.endsWith("/tags/list")), "an overview lists the repository");

        const together = await requestsDuring(() => Promise.all([
            overviewProvider.read("a/b", overview), digestProvider.read(pinned.ref, pinned),
            overviewProvider.read("a/b", overview), digestProvider.read(pinned.ref, pinned),
        ]));
        assert.deepStrictEqual(together.requests, alone.requests, "two overviews and two pins: one overview's listing, no HEAD");
        assert.deepStrictEqual(together.result.filter((_, i) => i % 2 === 1).map(driftOf), [null, null]);
        assert.deepStrictEqual((together.result[0].props as ImageOverviewOutputs).tags.map((row) => [row.tag, row.deployed]),
            [["v2", false], ["v1", true]]);
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
        const overview = await overviewState(pinned.digest);
        assert.strictEqual(driftOf(await digestProvider.read(pinned.ref, pinned)), null);
        tags.v1 = second;
        const [listed, moved] = await Promise.all([overviewProvider.read("a/b", overview), digestProvider.read(pinned.ref, pinned)]);
        assert.deepStrictEqual(driftOf(moved), [pinned.digest, second.digest]);
        assert.deepStrictEqual((listed.props as ImageOverviewOutputs).tags.find((row) => row.tag === "v1")?.moved, true);
        delete tags.v1;
        assert.deepStrictEqual(driftOf(await digestProvider.read(pinned.ref, pinned)), [pinned.digest, null]);
        const [, goneFromListing] = await Promise.all([overviewProvider.read("a/b", overview), digestProvider.read(pinned.ref, pinned)]);
        assert.deepStrictEqual(driftOf(goneFromListing), [pinned.digest, null]);
    });

    it("checks the tag with its own HEAD when the listing under way fails", async () => {
        const pinned = await pin();
        const overview = await overviewState(pinned.digest);
        tags.v1 = second;
        tagListFails = true;
        const { result: [listed, read], requests } = await requestsDuring(() =>
            Promise.allSettled([overviewProvider.read("a/b", overview), digestProvider.read(pinned.ref, pinned)]));
        assert.strictEqual(listed.status, "rejected", "the overview fails with its listing");
        assert.deepStrictEqual(read.status === "fulfilled" && driftOf(read.value), [pinned.digest, second.digest]);
        assert.deepStrictEqual(requests.filter((request) => request.startsWith("HEAD ")).length, 1);
    });
});
