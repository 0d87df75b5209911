// A refresh reads every resource at once: the drift check of each pin and every overview of one repository then
// share one listing of it (components/providers/shared-listing.ts), and a read that comes after that listing
// finished lists again.
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

describe("a refresh's registry reads: one listing per repository, shared while it runs", function () {
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
    /** The refresh of `apps` apps on the repository: every pin's and every overview's read, all at once. */
    const refresh = async (pinned: ImageDigestOutputs, overview: ImageOverviewOutputs, apps: number) => Promise.all(
        Array.from({ length: apps }, () => [digestProvider.read(pinned.ref, pinned), overviewProvider.read("a/b", overview)]).flat());

    it("asks for the repository once for all its pins and overviews read together, as one overview alone asks", async () => {
        const pinned = await pin();
        const overview = await overviewState(pinned.digest);
        let before = registry.requests.length;
        await overviewProvider.read("a/b", overview);
        const oneOverview = registry.requests.slice(before).map((r) => `${r.method} ${r.url}`);

        before = registry.requests.length;
        const reads = await refresh(pinned, overview, 3);
        assert.deepStrictEqual(registry.requests.slice(before).map((r) => `${r.method} ${r.url}`), oneOverview,
            "three apps' pins and overviews: the requests of one overview's listing");
        assert.ok(oneOverview.some((request) => request.endsWith("/tags/list")), "the listing was asked for");
        for (const read of reads.filter((_, i) => i % 2 === 0)) {
            assert.strictEqual((read.props as ImageDigestOutputs).drift, null);
        }
        assert.deepStrictEqual((reads[1].props as ImageOverviewOutputs).tags.map((row) => [row.tag, row.deployed]), [["v2", false], ["v1", true]]);
    });

    it("lists again for a read after the last listing finished: a tag moved since is drift", async () => {
        const pinned = await pin();
        const overview = await overviewState(pinned.digest);
        assert.strictEqual((await digestProvider.read(pinned.ref, pinned)).props!.drift, null);
        tags.v1 = second;
        const [moved, listed] = await refresh(pinned, overview, 1);
        const drift = (moved.props as ImageDigestOutputs).drift;
        assert.deepStrictEqual(drift && [drift.pinnedDigest, drift.currentDigest],
            [pinned.digest, second.digest]);
        assert.deepStrictEqual((listed.props as ImageOverviewOutputs).tags.find((row) => row.tag === "v1")?.moved, true);
        delete tags.v1;
        const gone = await digestProvider.read(pinned.ref, pinned);
        assert.deepStrictEqual(gone.props!.drift && [gone.props!.drift.pinnedDigest, gone.props!.drift.currentDigest], [pinned.digest, null]);
    });

    it("checks the tag alone, with one HEAD, when the listing fails", async () => {
        const pinned = await pin();
        tags.v1 = second;
        tagListFails = true;
        const before = registry.requests.length;
        const read = await digestProvider.read(pinned.ref, pinned);
        assert.deepStrictEqual(read.props!.drift && read.props!.drift.currentDigest, second.digest);
        assert.deepStrictEqual(registry.requests.slice(before).map((r) => r.method).filter((method) => method === "HEAD"), ["HEAD"]);
    });
});
