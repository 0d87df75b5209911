// The ImageDigest provider, loaded from the text the engine stores, against a real registry.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ImageDigestInputs, ImageDigestOutputs } from "../../components/providers/image-digest";
import { listOverview } from "../../components/model/overview-listing";
import { RegistryServer, registryFlavours, startRegistry } from "../../local/registry";
import { TestPusher } from "../helpers/push";
import { loadedProvider } from "../helpers/loaded-provider";

type Provider = Required<pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs>>;

for (const flavour of registryFlavours) {
    describe(`ImageDigest provider (loaded as the engine loads it) against a real registry ${flavour}`, function () {
        this.timeout(120_000);
        let registry: RegistryServer;
        let pusher: TestPusher;
        let provider: Provider;
        const repository = "rednaw/hello-world";

        before(async () => {
            registry = await startRegistry({ flavour });
            pusher = new TestPusher(registry.address);
            provider = loadedProvider<Provider>("ImageDigest");
        });
        after(async () => registry?.stop());

        const inputs = (extra: Partial<ImageDigestInputs>): ImageDigestInputs =>
            ({ registry: registry.address, repository, insecure: true, ...extra });
        const create = async (extra: Partial<ImageDigestInputs>) => {
            const result = await provider.create(inputs(extra));
            assert.ok(result.outs, "create returns the state");
            return { id: result.id, outs: result.outs };
        };

        it("resolves a tag once, pinning the digest with the image's labels", async () => {
            const image = await pusher.pushImage(repository, ["eb53023"], {
                labels: { "org.opencontainers.image.description": "initial deploy", "org.opencontainers.image.created": "2026-01-25T01:01:33Z" },
            });
            const { id, outs } = await create({ tag: "eb53023" });
            assert.strictEqual(outs.digest, image.digest);
            assert.strictEqual(outs.ref, `${registry.address}/${repository}@${image.digest}`);
            assert.strictEqual(id, `${registry.address}/${repository}`);
            assert.strictEqual(outs.tag, "eb53023");
            assert.strictEqual(outs.description, "initial deploy");
            assert.strictEqual(outs.created, "2026-01-25T01:01:33Z");
            assert.strictEqual(outs.revision, null);
            assert.strictEqual(outs.drift, null);
        });

        it("lets a digest win when the tag agrees, and refuses when it does not", async () => {
            const a = await pusher.pushImage(repository, ["aaaaaaa"]);
            const b = await pusher.pushImage(repository, ["bbbbbbb"]);
            const byDigest = await create({ digest: a.digest });
            assert.strictEqual(byDigest.outs.digest, a.digest);
            assert.strictEqual(byDigest.outs.tag, null);
            const both = await create({ tag: "aaaaaaa", digest: a.digest });
            assert.strictEqual(both.outs.digest, a.digest);
            await assert.rejects(create({ tag: "bbbbbbb", digest: a.digest }), (error: Error) => {
                assert.match(error.message, new RegExp(`${repository}:bbbbbbb is ${b.digest}, expected ${a.digest}`));
                return true;
            });
        });

        it("refuses to pin a tag whose index has no image for the platform, naming the tag, the platforms it has and what to do", async () => {
            const arm64 = await pusher.pushImage(repository, [], { platform: "linux/arm64/v8" });
            await pusher.pushIndex(repository, ["arm64only"], [arm64]);
            await assert.rejects(create({ tag: "arm64only" }), (error: Error) => {
                assert.strictEqual(error.message, `${registry.address}/${repository}:arm64only: no linux/amd64 image in this index: ` +
                    "linux/arm64/v8; deploy a tag built for linux/amd64 (`npm run registry:overview` lists the tags), or, if the " +
                    "workspace's hosts run one of those platforms, set iac:platform to it");
                return true;
            });
            const { outs } = await create({ tag: "arm64only", platform: "linux/arm64/v8" });
            assert.strictEqual(outs.platform, "linux/arm64/v8");
        });

        it("costs no registry request to diff, and pins a new tag in place", async () => {
            await pusher.pushImage(repository, ["ccccccc"]);
            const { outs } = await create({ tag: "ccccccc" });
            const before = registry.requestCount();
            const same = await provider.diff(outs.ref, outs, inputs({ tag: "ccccccc" }));
            const moved = await provider.diff(outs.ref, outs, inputs({ tag: "ddddddd" }));
            assert.strictEqual(registry.requestCount(), before);
            assert.deepStrictEqual(same, { changes: false, replaces: [], deleteBeforeReplace: false });
            assert.deepStrictEqual(moved, { changes: true, replaces: [], deleteBeforeReplace: false });
        });

        it("resolves again on an update to another tag, and keeps the pin when only credentials change", async () => {
            const first = await pusher.pushImage(repository, ["upd0001"], { labels: { "org.opencontainers.image.description": "first" } });
            const second = await pusher.pushImage(repository, ["upd0002"], { labels: { "org.opencontainers.image.description": "second" } });
            const { id, outs } = await create({ tag: "upd0001" });
            assert.strictEqual(outs.digest, first.digest);
            const moved = (await provider.update(id, outs, inputs({ tag: "upd0002" }))).outs!;
            assert.strictEqual(moved.digest, second.digest);
            assert.strictEqual(moved.ref, `${registry.address}/${repository}@${second.digest}`);
            assert.strictEqual(moved.description, "second");
            assert.strictEqual(moved.tag, "upd0002");
            const before = registry.requestCount();
            const credentials = (await provider.update(id, moved, inputs({ tag: "upd0002", username: "u", password: "p" }))).outs!;
            assert.strictEqual(registry.requestCount(), before);
            assert.strictEqual(credentials.digest, second.digest);
            assert.strictEqual(credentials.username, "u");
            await assert.rejects(provider.update(id, moved, inputs({ tag: "nosuch1" })), (error: Error) => {
                assert.match(error.message, /nosuch1/);
                return true;
            });
        });

        it("leaves what it fetched by digest to the overview, which then asks the registry only for tags", async () => {
            const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), "iac-pin-cache-"));
            const previous = process.env.XDG_CACHE_HOME;
            process.env.XDG_CACHE_HOME = cacheHome;
            try {
                const image = await pusher.pushImage("rednaw/shared-cache", ["share01"], { labels: { "org.opencontainers.image.description": "shared" } });
                const outs = (await provider.create({ registry: registry.address, repository: "rednaw/shared-cache", insecure: true, tag: "share01" })).outs!;
                const logStart = fs.statSync(registry.logFile).size;
                const listing = await listOverview({ registry: registry.address, repository: "rednaw/shared-cache", insecure: true }, { digest: outs.digest, tag: null });
                assert.strictEqual(listing[0].description, "shared");
                const requests = fs.readFileSync(registry.logFile, "utf8").slice(logStart);
                assert.ok(!requests.includes(`/manifests/${image.digest}`), `the overview fetched the pinned manifest again:\n${requests}`);
                assert.ok(!requests.includes("/blobs/"), `the overview fetched the config blob again:\n${requests}`);
            } finally {
                if (previous === undefined) {
                    delete process.env.XDG_CACHE_HOME;
                } else {
                    process.env.XDG_CACHE_HOME = previous;
                }
                fs.rmSync(cacheHome, { recursive: true, force: true });
            }
        });

        it("reports drift on refresh when the tag moved, without moving the pin", async () => {
            const first = await pusher.pushImage(repository, ["moving1"]);
            const { outs } = await create({ tag: "moving1" });
            const unchanged = await provider.read(outs.ref, outs);
            assert.strictEqual(unchanged.props!.drift, null);

            const second = await pusher.pushImage(repository, ["moving1"]);
            const refreshed = await provider.read(outs.ref, outs);
            assert.strictEqual(refreshed.id, outs.ref);
            assert.strictEqual(refreshed.props!.digest, first.digest);
            assert.strictEqual(refreshed.props!.drift!.pinnedDigest, first.digest);
            assert.strictEqual(refreshed.props!.drift!.currentDigest, second.digest);
        });

        it("reports a deleted tag as drift with no current digest", async () => {
            const image = await pusher.pushImage(repository, ["gone1"]);
            const { outs } = await create({ tag: "gone1" });
            await fetch(`http://${registry.address}/v2/${repository}/manifests/${image.digest}`, { method: "DELETE" });
            const refreshed = await provider.read(outs.ref, outs);
            assert.strictEqual(refreshed.props!.digest, image.digest);
            assert.strictEqual(refreshed.props!.drift!.currentDigest, null);
        });
    });
}
