// The host scripts of components/remote/scripts.ts, run over a real SSH host against real dockerd,
// compose v2 and Registry v3: deploy, roll forward and back, a failed deploy, two at once, removal.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { contentHash, renderCompose, renderEnvFile } from "../../components/compose";
import { parseDeployInfo, renderDeployInfo } from "../../components/deploy-info";
import {
    AppLocation, appDir, buildDeployScript, buildRemoveScript, buildStageScript,
} from "../../components/remote/scripts";
import { BuiltImage } from "../../scripts/local/app-repository";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { RemoteResult, runOverSsh } from "../helpers/ssh";

const template = fs.readFileSync(path.resolve(__dirname, "..", "..", "apps", "hello-world", "compose.yml"), "utf8");

describe("host scripts over a real SSH host, dockerd, compose v2 and Registry v3", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let location: AppLocation;

    before(async () => {
        env = await startDeployEnvironment();
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    });
    after(async () => env?.stop());

    /** Stages and deploys `image` exactly as AppDeployment would, through the same builders. */
    async function deploy(image: BuiltImage, healthTimeoutSeconds = 30, workspace = "dev"): Promise<RemoteResult> {
        const target = { ...location, workspace };
        const ref = `${env.registry.address}/${repository}@${image.digest}`;
        const compose = renderCompose("apps/hello-world/compose.yml", template, ref);
        const envFile = renderEnvFile({ PORT: String(env.port) });
        const hash = contentHash(compose.content, envFile, env.ssh.privateKey);
        const staged = await runOverSsh(env.ssh, buildStageScript(target, hash, compose.content), envFile);
        assert.strictEqual(staged.status, 0, staged.stderr);
        return runOverSsh(env.ssh, buildDeployScript({
            ...target, registry: env.registry.address, repository, digest: image.digest, services: compose.services,
            contentHash: hash, healthTimeoutSeconds,
            deployInfoYaml: renderDeployInfo({
                app: "hello-world", workspace, image: `${env.registry.address}/${repository}`,
                tag: image.tag, digest: image.digest, description: image.description, deployed_by: "wander@casa",
            }),
        }));
    }

    const deployInfoText = () => fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8");
    const history = () => YAML.parseAllDocuments(fs.readFileSync(path.join(appDir(location), "deploy-history.yml"), "utf8"))
        .map((doc) => doc.toJS() as Record<string, string>);

    it("deploys A by digest and records the canonical deploy-info.yml only then", async () => {
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(env.runningDigests("hello-world"), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(`version <code id="version">${env.images.a.tag}</code>`));

        const compose = fs.readFileSync(path.join(appDir(location), "compose.yml"), "utf8");
        assert.match(compose, new RegExp(`image: ${env.registry.address}/${repository}@${env.images.a.digest}`));
        assert.ok(!compose.includes(`:${env.images.a.tag}`), "the compose file never names a tag");

        const text = deployInfoText();
        const info = parseDeployInfo(text, "deploy-info.yml");
        assert.deepStrictEqual(Object.keys(YAML.parse(text)),
            ["app", "workspace", "image", "tag", "digest", "description", "deployed_at", "deployed_by"]);
        assert.deepStrictEqual({ ...info, deployed_at: "" }, {
            app: "hello-world", workspace: "dev", image: `${env.registry.address}/${repository}`, tag: env.images.a.tag,
            digest: env.images.a.digest, description: "initial deploy", deployed_at: "", deployed_by: "wander@casa",
        });
        assert.match(info.deployed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.ok(Math.abs(Date.parse(info.deployed_at) - Date.now()) < 120_000);
        assert.strictEqual(result.stdout, text, "the script prints the record it wrote");
        assert.deepStrictEqual(history().map((h) => h.digest), [env.images.a.digest]);
    });

    it("does nothing, and records nothing, when the target already runs", async () => {
        const before = deployInfoText();
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /already running and recorded; nothing to do/);
        assert.strictEqual(deployInfoText(), before);
        assert.strictEqual(history().length, 1);
    });

    it("rolls forward to B and back to A", async () => {
        assert.strictEqual((await deploy(env.images.b)).status, 0);
        assert.deepStrictEqual(env.runningDigests("hello-world"), [env.images.b.digest]);
        assert.match(await env.page(), new RegExp(env.images.b.tag));
        assert.strictEqual(parseDeployInfo(deployInfoText(), "").digest, env.images.b.digest);

        assert.strictEqual((await deploy(env.images.a)).status, 0);
        assert.deepStrictEqual(env.runningDigests("hello-world"), [env.images.a.digest]);
        assert.strictEqual(parseDeployInfo(deployInfoText(), "").tag, env.images.a.tag);
        assert.deepStrictEqual(history().map((h) => h.digest), [env.images.a.digest, env.images.b.digest, env.images.a.digest]);
    });

    it("fails on an unhealthy image, keeps A serving and deploy-info.yml untouched", async () => {
        const before = deployInfoText();
        const result = await deploy(env.images.c, 10);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /hello-world@dev: deploy of .* failed: the containers did not become healthy within 10 s/);
        assert.match(result.stderr, /the previous deployment is running again/);
        assert.strictEqual(deployInfoText(), before);
        assert.deepStrictEqual(env.runningDigests("hello-world"), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
        assert.strictEqual(history().length, 3);
    });

    it("serializes two deploys at once on the app's lock, ending consistent", async () => {
        const [toB, toA] = await Promise.all([deploy(env.images.b), deploy(env.images.a)]);
        assert.strictEqual(toB.status, 0, toB.stderr);
        assert.strictEqual(toA.status, 0, toA.stderr);
        const recorded = parseDeployInfo(deployInfoText(), "").digest;
        assert.deepStrictEqual(env.runningDigests("hello-world"), [recorded]);
        const digests = history().map((h) => h.digest);
        assert.strictEqual(digests[digests.length - 1], recorded);
    });

    it("refuses to take over an app dir that another workspace deployed to", async () => {
        const before = deployInfoText();
        const result = await deploy(env.images.b, 30, "prod");
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /hello-world@prod: .* belongs to another workspace/);
        assert.strictEqual(deployInfoText(), before);
    });

    it("takes the app down on removal and moves deploy-info.yml into the history with removed_at", async () => {
        const last = parseDeployInfo(deployInfoText(), "");
        const result = await runOverSsh(env.ssh, buildRemoveScript(location));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(env.runningDigests("hello-world"), []);
        assert.ok(!fs.existsSync(path.join(appDir(location), "deploy-info.yml")));
        const removed = history()[history().length - 1];
        assert.strictEqual(removed.digest, last.digest);
        assert.match(removed.removed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(await env.page(), /^unreachable/);
    });
});
