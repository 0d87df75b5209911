// The registry access value: where its credentials come from, in the one documented order, and how a provider's
// state holds it.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    changedAccessKeys, registryAccessFields, registryAccessForCommand, registryAccessOf, registryCredentials,
} from "../../components/access/registry-access";
import { parseWorkspace } from "../../components/model/workspace";
import { defaultPlatform } from "../../components/registry/client";

const registry = "registry.example.com";

describe("registry access", () => {
    const saved = { ...process.env };
    let dockerConfig: string;

    beforeEach(() => {
        dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), "iac-docker-config-"));
        fs.writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify({
            auths: { [registry]: { auth: Buffer.from("docker-user:docker-pass").toString("base64") } },
        }));
        process.env.DOCKER_CONFIG = dockerConfig;
        delete process.env.IAC_REGISTRY_USERNAME;
        delete process.env.IAC_REGISTRY_PASSWORD;
    });

    afterEach(() => {
        process.env = { ...saved };
        fs.rmSync(dockerConfig, { recursive: true, force: true });
    });

    it("takes credentials from the config, then the environment, then docker's config.json", () => {
        process.env.IAC_REGISTRY_USERNAME = "env-user";
        process.env.IAC_REGISTRY_PASSWORD = "env-pass";
        assert.deepStrictEqual(registryCredentials(registry, { username: "config-user", password: "config-pass" }),
            { username: "config-user", password: "config-pass" });
        assert.deepStrictEqual(registryCredentials(registry, { username: "config-user" }), { username: "env-user", password: "env-pass" });
        delete process.env.IAC_REGISTRY_USERNAME;
        assert.deepStrictEqual(registryCredentials(registry, { username: "config-user" }), { username: "config-user", password: "env-pass" },
            "the environment's password goes with the configured username");
        delete process.env.IAC_REGISTRY_PASSWORD;
        assert.deepStrictEqual(registryCredentials(registry, {}), { username: "docker-user", password: "docker-pass" });
        assert.strictEqual(registryCredentials("other.example.com", {}), undefined, "anonymous when nothing names the registry");
    });

    it("is one value for a command: the workspace's registry, scheme, platform and credentials", () => {
        const workspace = parseWorkspace("dev", {
            "iac:apps": ["hello-world"], "iac:registry": registry, "iac:registryInsecure": true, "iac:platform": "linux/arm64",
            "iac:sshHost": "127.0.0.1", "iac:sshUser": "deploy", "iac:org": "rednaw", "hello-world:image": "rednaw/hello-world",
            "hello-world:tag": "eb53023",
        });
        assert.deepStrictEqual(registryAccessForCommand(workspace), {
            registry, insecure: true, platform: "linux/arm64", credentials: { username: "docker-user", password: "docker-pass" },
        });
    });

    it("reads back from a provider's state, including states with no platform or credentials", () => {
        const access = { registry, insecure: true, platform: "linux/arm64", credentials: { username: "u", password: "p" } };
        assert.deepStrictEqual(registryAccessOf(registryAccessFields(access)), access);
        assert.deepStrictEqual(registryAccessOf({ registry, username: null, password: null }),
            { registry, insecure: false, platform: defaultPlatform });
    });

    it("names what changed in how the registry is reached, taking absent for null and half credentials for none", () => {
        const state = { registry, insecure: false, platform: defaultPlatform, username: "ci", password: "one" };
        assert.deepStrictEqual(changedAccessKeys(state, { registry, username: "ci", password: "one" }), []);
        assert.deepStrictEqual(changedAccessKeys(state, { registry, insecure: true, username: "ci", password: "two" }), ["insecure", "password"]);
        assert.deepStrictEqual(changedAccessKeys(state, { registry, username: "ci" }), ["username", "password"]);
        assert.deepStrictEqual(changedAccessKeys({ registry, username: "ci", password: null }, { registry }), []);
    });
});
