// ImageDigest as the one place a tag is resolved: check resolves a new tag once and update records that pin,
// nothing is asked when the image named is the last run's; HostDeployment's check and diff never ask the registry.
import * as assert from "assert";
import type * as pulumi from "@pulumi/pulumi";
import { ImageDigestInputs, ImageDigestOutputs, imageDigestProvider, resolveImage } from "../../components/providers/image-digest";
import { HostDeploymentInputs, HostDeploymentOutputs, hostDeploymentProvider } from "../../components/providers/host-deployment";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { ScriptedImage, ScriptedRegistry, imageWithLabels, serveImage } from "../helpers/hostile-registry";

type DigestProvider = Required<pulumi.dynamic.ResourceProvider<ImageDigestInputs, ImageDigestOutputs>>;
type HostProvider = pulumi.dynamic.ResourceProvider<HostDeploymentInputs, HostDeploymentOutputs>;

describe("ImageDigest: the tag resolved once, in check", function () {
    this.timeout(30_000);
    const images: Record<string, ScriptedImage> = {
        v1: imageWithLabels({ "org.opencontainers.image.description": "first", "org.opencontainers.image.created": "2026-01-25T01:01:00Z" }),
        v2: imageWithLabels({ "org.opencontainers.image.description": "second", "org.opencontainers.image.created": "2026-01-25T01:10:00Z" }),
    };
    let registry: ScriptedRegistry;
    const provider = imageDigestProvider as DigestProvider;
    const inputs = (tag: string): ImageDigestInputs => ({
        registry: registry.address, repository: "a/b", tag, platform: "linux/amd64", insecure: true, app: "hello-world", workspace: "dev",
    });

    before(async () => {
        registry = await ScriptedRegistry.start((req, res) => {
            const tag = /\/manifests\/(v\d)$/.exec(req.url!)?.[1];
            const image = tag ? images[tag] : Object.values(images).find((i) => req.url!.includes(i.digest) || req.url!.includes(i.configDigest));
            if (image) {
                serveImage(image)(req, res);
            } else if (req.url!.endsWith("/tags/list")) {
                res.writeHead(200).end(JSON.stringify({ name: "a/b", tags: Object.keys(images) }));
            } else {
                res.writeHead(404).end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "no such tag" }] }));
            }
        });
    });
    after(async () => registry.stop());

    it("asks nothing when the image named is the last run's", async () => {
        const before = registry.requests.length;
        const checked = await provider.check(inputs("v1"), inputs("v1"));
        assert.deepStrictEqual(checked, { inputs: inputs("v1"), failures: [] });
        assert.strictEqual(registry.requests.length, before);
    });

    it("resolves a new tag in check, and update records that pin without asking again", async () => {
        const state = await resolveImage(inputs("v1"));
        const before = registry.requests.length;
        const checked = await provider.check(inputs("v1"), inputs("v2"));
        assert.deepStrictEqual(checked, { inputs: inputs("v2"), failures: [] }, "the inputs stay the config");
        assert.ok(registry.requests.length > before, "check asked the registry");
        const news = checked.inputs!;
        assert.deepStrictEqual((await provider.diff("a/b", state, news)).changes, true);
        const checkedAt = registry.requests.length;
        const updated = (await provider.update("a/b", state, news)).outs!;
        assert.strictEqual(registry.requests.length, checkedAt, "diff and update ask nothing: the pin check resolved is the one recorded");
        assert.deepStrictEqual([updated.digest, updated.tag, updated.description], [images.v2.digest, "v2", "second"]);
    });

    it("fails the check, before anything changes, on a tag the registry does not have", async () => {
        const checked = await provider.check(inputs("v1"), inputs("v9"));
        assert.deepStrictEqual(checked.failures?.map((f) => f.property), ["tag"]);
        assert.match(checked.failures![0].reason, /tag v9 not found in .*a\/b/);
    });
});

describe("HostDeployment: the pinned image taken as given", () => {
    it("asks the registry nothing in its check or diff, at a preview (image unknown) or with a new pin", async () => {
        const registry = await ScriptedRegistry.start((_req, res) => res.writeHead(500).end());
        try {
            const image = { digest: `sha256:${"1".repeat(64)}`, tag: "v1", description: "first", created: "2026-01-25T01:01:00Z" };
            const olds: HostDeploymentOutputs = {
                connection: { host: "127.0.0.1", port: 22, user: "deploy", privateKey: "key" },
                location: { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt" },
                registry: registry.address, repository: "a/b", platform: "linux/amd64", insecure: true, image,
                compose: "services: {}\n", services: ["web"], env: "", deployedBy: "wander@casa", healthTimeoutSeconds: 120,
                owner: "stack-id-1", observed: { record: null, containers: [] } as unknown as HostDeploymentOutputs["observed"],
                written: null, drift: [],
            };
            const provider = hostDeploymentProvider as HostProvider;
            for (const next of [{ ...image, digest: unknownValue }, { ...image, digest: `sha256:${"2".repeat(64)}`, tag: "v2" }]) {
                const news: HostDeploymentInputs = { ...olds, image: next as typeof image };
                const checked = provider.check ? await provider.check(olds, news) : { inputs: news, failures: [] };
                assert.deepStrictEqual(checked.failures ?? [], []);
                assert.strictEqual((await provider.diff!("id", olds, checked.inputs!)).changes, true);
            }
            assert.deepStrictEqual(registry.requests, []);
        } finally {
            await registry.stop();
        }
    });
});
