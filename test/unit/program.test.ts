// index.ts under Pulumi mocks: the resource graph a workspace's config produces.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { outputValue, runProgram, stackConfig } from "../helpers/mock-program";

describe("the program under mocks", () => {
    it("declares one ImageDigest per app of the dev workspace, from <app>:tag", async () => {
        const config = stackConfig("dev");
        const { resources, exports } = await runProgram(config);
        const pinned = exports.pinned as Record<string, { digest: pulumi.Output<string> }>;
        await outputValue(pinned["hello-world"].digest);
        const images = resources.filter((r) => r.type === "pulumi-nodejs:dynamic/iac:ImageDigest");
        assert.deepStrictEqual(images.map((r) => r.name), ["hello-world-image"]);
        assert.strictEqual(images[0].inputs.tag, config["hello-world:tag"]);
        assert.strictEqual(images[0].inputs.repository, config["hello-world:image"]);
        assert.strictEqual(images[0].inputs.registry, config["iac:registry"]);
        assert.strictEqual(images[0].inputs.insecure, true);
        assert.strictEqual(images[0].inputs.digest, undefined);
    });

    it("declares an image for every listed app and passes a configured digest", async () => {
        const digest = "sha256:" + "12".repeat(32);
        const config = {
            ...stackConfig("dev"),
            "iac:apps": JSON.stringify(["hello-world", "api"]),
            "api:image": "rednaw/api",
            "api:digest": digest,
        };
        const { resources, exports } = await runProgram(config);
        const pinned = exports.pinned as Record<string, { digest: pulumi.Output<string> }>;
        await Promise.all(Object.values(pinned).map((p) => outputValue(p.digest)));
        const api = resources.find((r) => r.name === "api-image");
        assert.ok(api, "an image for the api app");
        assert.strictEqual(api.inputs.digest, digest);
        assert.strictEqual(api.inputs.tag, undefined);
    });

    it("refuses, before declaring anything, an app without a tag, an unknown key and a tag with shell metacharacters", async () => {
        const config = {
            ...stackConfig("dev"),
            "iac:apps": JSON.stringify(["hello-world", "api", "web"]),
            "hello-world:tag": "eb53023;rm -rf /",
            "api:image": "rednaw/api",
            "web:image": "rednaw/web",
            "web:tag": "v1",
            "web:tga": "v2",
        };
        await assert.rejects(runProgram(config), (error: Error) => {
            assert.strictEqual(error.name, "WorkspaceConfigError");
            assert.match(error.message, /hello-world:tag: invalid tag "eb53023;rm -rf \/"/);
            assert.match(error.message, /api: neither api:tag nor api:digest is set/);
            assert.match(error.message, /web:tga: unknown key/);
            return true;
        });
    });
});
