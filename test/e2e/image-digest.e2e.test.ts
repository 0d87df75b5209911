// ImageDigest under the real Pulumi engine: config → up → pinned digest; a no-op up that never reaches the
// registry; a tag change replaces; a moved tag shows up as drift on refresh; destroy empties the stack.
import * as assert from "assert";
import { Stack, UpResult } from "@pulumi/pulumi/automation";
import { RegistryServer, startRegistry } from "../../scripts/local/registry";
import { createTestStack, TestStack } from "../helpers/pulumi-stack";
import { PushedImage, TestPusher } from "../helpers/push";

describe("ImageDigest under the real Pulumi engine", function () {
    this.timeout(300_000);
    const repository = "rednaw/hello-world";
    let registry: RegistryServer;
    let pusher: TestPusher;
    let testStack: TestStack;
    let stack: Stack;
    let imageA: PushedImage;
    let imageB: PushedImage;

    const pinnedDigest = async () => {
        const outputs = await stack.outputs();
        return (outputs.pinned.value as Record<string, { digest: string; drift: unknown }>)["hello-world"];
    };
    const up = (): Promise<UpResult> => stack.up({ color: "never" });

    before(async () => {
        registry = await startRegistry({ flavour: "v3" });
        pusher = new TestPusher(registry.address);
        imageA = await pusher.pushImage(repository, ["eb53023"], { labels: { "org.opencontainers.image.description": "initial deploy" } });
        imageB = await pusher.pushImage(repository, ["6350192"], { labels: { "org.opencontainers.image.description": "add healthcheck" } });
        testStack = await createTestStack("e2e-image-digest", {
            "iac:apps[0]": { value: "hello-world" },
            "iac:registry": { value: registry.address },
            "iac:registryInsecure": { value: "true" },
            "hello-world:image": { value: repository },
            "hello-world:tag": { value: "eb53023" },
        });
        stack = testStack.stack;
    });
    after(async () => {
        await testStack?.remove();
        await registry?.stop();
    });

    it("pins the digest the registry serves for the configured tag", async () => {
        const result = await up();
        assert.strictEqual(result.summary.result, "succeeded");
        assert.strictEqual(result.summary.resourceChanges?.create, 2, "the stack and one ImageDigest");
        const pinned = await pinnedDigest();
        assert.strictEqual(pinned.digest, imageA.digest);
        assert.strictEqual(pinned.drift, null);
    });

    it("changes nothing and sends no request to the registry on an up with nothing changed", async () => {
        const before = registry.requestCount();
        const result = await up();
        assert.deepStrictEqual(result.summary.resourceChanges, { same: 2 });
        assert.strictEqual(registry.requestCount(), before, "requests reached the registry during a no-op up");
    });

    it("replaces the pin when the tag changes, and rolls back by config", async () => {
        await stack.setConfig("hello-world:tag", { value: "6350192" });
        const forward = await up();
        assert.strictEqual(forward.summary.resourceChanges?.replace, 1);
        assert.strictEqual((await pinnedDigest()).digest, imageB.digest);

        await stack.setConfig("hello-world:tag", { value: "eb53023" });
        const back = await up();
        assert.strictEqual(back.summary.resourceChanges?.replace, 1);
        assert.strictEqual((await pinnedDigest()).digest, imageA.digest);
    });

    it("reports drift on refresh when the tag is re-pushed, keeping the pinned digest", async () => {
        const moved = await pusher.pushImage(repository, ["eb53023"], { labels: { "org.opencontainers.image.description": "re-pushed" } });
        await stack.refresh({ color: "never" });
        // A refresh updates resources, not the program's outputs: read the ImageDigest's state.
        const state = await stack.exportStack();
        const image = state.deployment.resources.find((r: { type: string }) => r.type.endsWith(":ImageDigest"));
        assert.strictEqual(image.outputs.digest, imageA.digest);
        assert.deepStrictEqual(image.outputs.drift.currentDigest, moved.digest);

        const after = await up();
        assert.deepStrictEqual(after.summary.resourceChanges, { same: 2 }, "drift never redeploys by itself");
        assert.match(after.stdout, new RegExp(`tag eb53023 now points at ${moved.digest}`));
        const pinned = await pinnedDigest() as { digest: string; drift: { pinnedDigest: string; currentDigest: string } };
        assert.strictEqual(pinned.digest, imageA.digest);
        assert.deepStrictEqual([pinned.drift.pinnedDigest, pinned.drift.currentDigest], [imageA.digest, moved.digest]);
    });

    it("leaves the stack empty after destroy", async () => {
        await stack.destroy({ color: "never" });
        const state = await stack.exportStack();
        assert.deepStrictEqual(state.deployment.resources ?? [], []);
    });
});
