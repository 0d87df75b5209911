// index.ts under Pulumi mocks: the resource graph a workspace's config produces.
import * as assert from "assert";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { digestOf, directStackConfig, mockHostRecord, outputValue, runProgram, stackConfig } from "../helpers/mock-program";

describe("the program under mocks", () => {
    it("declares one ImageDigest per app of the dev workspace, from <app>:tag, and the proxy's it is served through", async () => {
        const config = stackConfig("dev");
        const { resources, exports } = await runProgram(config);
        const pinned = exports.pinned as Record<string, { digest: pulumi.Output<string> }>;
        await outputValue(pinned["hello-world"].digest);
        const images = resources.filter((r) => r.type === "pulumi-nodejs:dynamic/iac:ImageDigest");
        assert.deepStrictEqual(images.map((r) => r.name).sort(), ["hello-world-image", "proxy-image"]);
        const app = images.find((r) => r.name === "hello-world-image")!;
        assert.strictEqual(app.inputs.tag, config["hello-world:tag"]);
        assert.strictEqual(app.inputs.repository, config["hello-world:image"]);
        assert.strictEqual(app.inputs.registry, config["iac:registry"]);
        assert.strictEqual(app.inputs.insecure, true);
        assert.strictEqual(app.inputs.digest, undefined);
        const proxy = images.find((r) => r.name === "proxy-image")!;
        assert.strictEqual(`${proxy.inputs.repository}:${proxy.inputs.tag}`, config["iac:proxyImage"]);
    });

    it("passes a configured digest instead of a tag", async () => {
        const digest = "sha256:" + "12".repeat(32);
        const config: Record<string, string> = { ...stackConfig("dev"), "hello-world:digest": digest };
        delete config["hello-world:tag"];
        const { resources, exports } = await runProgram(config);
        const pinned = exports.pinned as Record<string, { digest: pulumi.Output<string> }>;
        assert.strictEqual(await outputValue(pinned["hello-world"].digest), digest);
        const image = resources.find((r) => r.name === "hello-world-image");
        assert.strictEqual(image?.inputs.digest, digest);
        assert.strictEqual(image?.inputs.tag, undefined);
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
            assert.match(error.message, /api: no compose template apps\/api\/compose.yml/);
            return true;
        });
    });
});

describe("AppDeployment under mocks", () => {
    type Program = Awaited<ReturnType<typeof runProgram>>;
    const settle = async (program: Program) => {
        const deployed = program.exports.deployed as Record<string, pulumi.Output<unknown>>;
        await Promise.all(Object.values(deployed).map((d) => outputValue(d)));
        return program.resources;
    };
    const byName = (resources: Program["resources"]) => Object.fromEntries(resources.map((r) => [r.name, r]));

    it("deploys a compose file pinned to the tag's digest, to the deploy dir the config names", async () => {
        const config = stackConfig("dev");
        const program = await runProgram(config);
        const resources = byName(await settle(program));
        assert.strictEqual(resources["hello-world"].type, "iac:deploy:AppDeployment");
        const deploy = resources["hello-world-deploy"];
        assert.strictEqual(deploy.type, "pulumi-nodejs:dynamic/iac:HostDeployment");
        const digest = digestOf(config["hello-world:tag"]);
        assert.match(String(deploy.inputs.compose), new RegExp(`image: ${config["iac:registry"]}/rednaw/hello-world@${digest}\n`));
        assert.deepStrictEqual(deploy.inputs.services, ["web"]);
        assert.deepStrictEqual((deploy.inputs.image as { digest: string }).digest, digest);
        assert.deepStrictEqual(deploy.inputs.location, {
            app: "hello-world", workspace: "dev", org: config["iac:org"], deployRoot: config["iac:deployRoot"] ?? "/opt",
        });
    });

    it("deploys to a swarm when iac:target says so: the template in Swarm's form", async () => {
        const config = { ...directStackConfig("dev"), "iac:target": "swarm" };
        const compose = byName(await settle(await runProgram(config)))["hello-world-deploy"];
        assert.strictEqual(compose.inputs.target, "swarm");
        const rendered = YAML.parse(String(compose.inputs.compose));
        assert.deepStrictEqual(rendered.networks, { host: { external: true, name: "host" } });
        assert.strictEqual(rendered.services.web.deploy.update_config.failure_action, "rollback");
        const defaults = byName(await settle(await runProgram(directStackConfig("dev"))))["hello-world-deploy"];
        assert.strictEqual(defaults.inputs.target, "compose", "compose unless the workspace says otherwise");
        await assert.rejects(runProgram({ ...directStackConfig("dev"), "iac:target": "kubernetes" }),
            /iac:target: expected compose or swarm, not "kubernetes"/);
    });

    it("exports what the host holds as `deployed`, not what it was asked to run", async () => {
        const program = await runProgram(stackConfig("dev"));
        const deployed = program.exports.deployed as Record<string, pulumi.Output<unknown>>;
        assert.deepStrictEqual(await outputValue(deployed["hello-world"]), mockHostRecord);
        const drift = program.exports.hostDrift as Record<string, pulumi.Output<unknown>>;
        assert.deepStrictEqual(await outputValue(drift["hello-world"]), []);
    });

    it("changes, on a tag change, the image's tag and what the deploy runs, and nothing about how or where", async () => {
        const config = stackConfig("dev");
        const before = byName(await settle(await runProgram(config)));
        const after = byName(await settle(await runProgram({ ...config, "hello-world:tag": "6350192" })));
        assert.deepStrictEqual(Object.keys(after).sort(), Object.keys(before).sort());
        const changedKeys = (name: string) => Object.keys({ ...before[name].inputs, ...after[name].inputs })
            .filter((key) => JSON.stringify(before[name].inputs[key]) !== JSON.stringify(after[name].inputs[key])).sort();
        assert.deepStrictEqual(changedKeys("hello-world-image"), ["tag"]);
        assert.deepStrictEqual(changedKeys("hello-world-deploy"), ["compose", "image"]);
    });
});

describe("overview outputs under mocks", () => {
    it("renders the seed's table with → on the digest of the deploy record, who deployed it and when, and the structured images output", async () => {
        const { resources, exports } = await runProgram(stackConfig("dev"));
        const overview = await outputValue(exports.overview as pulumi.Output<string>);
        // The arrow follows the host's record (the listing's first row), not the pin (the mock's digest of the tag).
        const pinned = resources.find((r) => r.name === "hello-world-image");
        assert.strictEqual(pinned?.inputs.listTags, true, "the app's pin keeps the listing");
        assert.notStrictEqual(digestOf(String(pinned?.inputs.tag)), mockHostRecord.digest);
        assert.strictEqual(overview, [
            "IMAGE: rednaw/hello-world",
            "",
            "TAG        CREATED              DESCRIPTION",
            "---        -------              -----------",
            "→ 6350192  2026-01-25 01:10     add healthcheck + fix nginx proxy header",
            "  eb53023  2026-01-25 01:01     initial deploy",
            "",
            "DEPLOYED: t at 2026-01-25 01:10 by wander@casa",
        ].join("\n"));
        const images = exports.images as Record<string, { repository: pulumi.Output<string>; tags: pulumi.Output<{ tag: string; deployed: boolean }[]> }>;
        assert.strictEqual(await outputValue(images["hello-world"].repository), "rednaw/hello-world");
        assert.deepStrictEqual((await outputValue(images["hello-world"].tags)).map((t) => [t.tag, t.deployed]), [["6350192", true], ["eb53023", false]]);
    });
});

describe("registry credentials in the config", () => {
    it("refuses a username without a password and a password without a username", async () => {
        await assert.rejects(runProgram({ ...stackConfig("dev"), "iac:registryUsername": "deployer" }),
            /iac:registryUsername is set without iac:registryPassword/);
        await assert.rejects(runProgram({ ...stackConfig("dev"), "iac:registryPassword": "x" }),
            /iac:registryPassword is set without iac:registryUsername/);
        await assert.rejects(runProgram({ ...stackConfig("dev"), "iac:sshHost": "127.0.0.1:2222" }),
            /iac:sshHost: invalid host "127.0.0.1:2222": expected a host name or IP address without a port/);
    });
});
