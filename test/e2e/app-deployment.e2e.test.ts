// The whole program under the real Pulumi engine (CLI, language host, dynamic providers), deploying to a
// real SSH host with dockerd, compose v2 and Registry v3: deploy by config, a no-op run that touches
// neither host nor registry, roll forward and back with the overview following, an unhealthy image, an
// unreachable host, a moved tag reported as drift, and destroy.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { DeployInfo, parseDeployInfo } from "../../components/model/deploy-info";
import { appDir, composeProject } from "../../components/remote/layout";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { createTestStack, TestStack } from "../helpers/pulumi-stack";
import { TestPusher } from "../helpers/push";

// One scenario: each test starts from the state the one before left (deployed A, then B, …).
describe("AppDeployment under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let testStack: TestStack;
    let stack: Stack;
    let dir: string;
    let project: string;
    const running = () => env.runningDigests(project);

    const overviewArrow = async () => ((await stack.outputs()).overview.value as string).split("\n").filter((l) => l.startsWith("→"));
    const deployInfo = (): DeployInfo => parseDeployInfo(fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8"), "deploy-info.yml");
    const up = () => stack.up({ color: "never" });
    const setTag = (tag: string) => stack.setConfig("hello-world:tag", { value: tag });

    const manifestUrl = (reference: string) => `http://${env.registry.address}/v2/${repository}/manifests/${reference}`;
    const accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    const registryDigest = async (tag: string) =>
        (await fetch(manifestUrl(tag), { method: "HEAD", headers: { accept } })).headers.get("docker-content-digest");
    /** Points `tag` at the manifest `digest` names, as a careless re-push would. */
    const retag = async (digest: string, tag: string) => {
        const manifest = await fetch(manifestUrl(digest), { headers: { accept } });
        const type = manifest.headers.get("content-type")!;
        await fetch(manifestUrl(tag), { method: "PUT", headers: { "content-type": type }, body: Buffer.from(await manifest.arrayBuffer()) });
        return registryDigest(tag);
    };

    before(async () => {
        env = await startDeployEnvironment();
        const location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        dir = appDir(location);
        project = composeProject(location);
        testStack = await createTestStack("dev", {
            ...env.stackConfig(env.images.a.tag),
            "hello-world:healthTimeout": { value: "15" },
        });
        stack = testStack.stack;
    });
    after(async () => {
        try {
            await testStack?.remove();
        } finally {
            await env?.stop();
        }
    });

    it("deploys the configured tag by digest and records it", async () => {
        const result = await up();
        assert.strictEqual(result.summary.result, "succeeded");
        const pinned = (await stack.outputs()).pinned.value["hello-world"];
        assert.strictEqual(pinned.digest, await registryDigest(env.images.a.tag), "the digest the registry serves for the tag");
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
        const info = deployInfo();
        assert.strictEqual(info.digest, env.images.a.digest);
        assert.strictEqual(info.tag, env.images.a.tag);
        assert.strictEqual(info.description, "initial deploy");
        assert.strictEqual(info.workspace, "dev");
        const outputs = await stack.outputs();
        assert.deepStrictEqual(outputs.deployed.value["hello-world"], info);
        assert.strictEqual(outputs.deployed.secret, false, "the deploy record is readable, not a secret");
    });

    it("runs no remote command and asks the registry nothing on an up with nothing changed", async () => {
        const sessions = env.ssh.sessionCount();
        const requests = env.registry.requestCount();
        const result = await up();
        assert.deepStrictEqual(Object.keys(result.summary.resourceChanges ?? {}).sort(), ["same"], result.stdout);
        assert.strictEqual(env.ssh.sessionCount(), sessions);
        assert.strictEqual(env.registry.requestCount(), requests);
    });

    it("rolls forward to B and back to A by config alone", async () => {
        await setTag(env.images.b.tag);
        const preview = await stack.preview({ color: "never" });
        assert.match(preview.stdout, new RegExp(`hello-world@dev: ${env.images.a.tag} "initial deploy" → ${env.images.b.tag} "add healthcheck \\+ fix nginx proxy header"`));
        await up();
        assert.deepStrictEqual(running(), [env.images.b.digest]);
        assert.strictEqual(deployInfo().digest, env.images.b.digest);
        assert.deepStrictEqual((await overviewArrow()).map((l) => l.split(/\s+/)[1]), [env.images.b.tag]);

        await setTag(env.images.a.tag);
        const back = await stack.preview({ color: "never" });
        assert.match(back.stdout, /\(rollback\)/);
        await up();
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.strictEqual(deployInfo().digest, env.images.a.digest);
        assert.strictEqual((await stack.outputs()).deployed.value["hello-world"].digest, env.images.a.digest);
        assert.deepStrictEqual((await overviewArrow()).map((l) => l.split(/\s+/)[1]), [env.images.a.tag]);
    });

    it("fails the up on an unhealthy image and keeps A running and recorded", async () => {
        const before = fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8");
        await setTag(env.images.c.tag);
        await assert.rejects(up(), (error: Error) => {
            assert.match(error.message, /deploy of .* failed: the containers did not become healthy within 15 s/);
            return true;
        });
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.strictEqual(fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8"), before);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
    });

    it("fails clearly when the host cannot be reached, writing nothing", async () => {
        const before = fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8");
        await setTag(env.images.b.tag);
        await stack.setConfig("iac:sshPort", { value: "1" });
        await assert.rejects(up(), (error: Error) => {
            assert.match(error.message, /127\.0\.0\.1:1/);
            assert.match(error.message, /connection refused/i);
            return true;
        });
        assert.strictEqual(fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8"), before);
        assert.deepStrictEqual(running(), [env.images.a.digest]);

        await stack.setConfig("iac:sshPort", { value: String(env.ssh.port) });
        await setTag(env.images.a.tag);
        await up();
        assert.strictEqual(deployInfo().digest, env.images.a.digest);
    });

    it("deploys a new stack beside an arm64-only tag with every output, refreshes both stacks unchanged, and refuses to deploy that tag", async () => {
        const pusher = new TestPusher(env.registry.address);
        const arm64 = await pusher.pushImage(repository, [], { platform: "linux/arm64", labels: { "org.opencontainers.image.description": "arm64 build" } });
        await pusher.pushIndex(repository, ["arm64only"], [arm64]);
        const prodLocation = { app: "hello-world", workspace: "prod", org: "acme", deployRoot: env.ssh.deployRoot };
        const prod = await createTestStack("prod", {
            ...env.stackConfig(env.images.b.tag), "iac:org": { value: prodLocation.org },
            "hello-world:environment.PORT": { value: String(await freePort()) },
        } satisfies ConfigMap);
        try {
            const up = await prod.cli(["up", "--yes", "--skip-preview"]).result;
            assert.strictEqual(up.status, 0, up.output);
            const outputs = await prod.stack.outputs();
            assert.strictEqual(outputs.deployed.value["hello-world"].digest, env.images.b.digest);
            const rows = outputs.images.value["hello-world"].tags as { tag: string; deployed: boolean; unreadable?: string }[];
            assert.deepStrictEqual(rows.filter((row) => row.unreadable).map((row) => [row.tag, row.unreadable]),
                [["arm64only", "no linux/amd64 image in this index: linux/arm64"]]);
            assert.deepStrictEqual(rows.filter((row) => row.deployed).map((row) => row.tag), [env.images.b.tag]);
            const overview = (outputs.overview.value as string).split("\n");
            assert.ok(overview.some((line) => /^→ \S+ +\d{4}-.* add healthcheck/.test(line)), overview.join("\n"));
            assert.ok(overview.some((line) => /^ {2}arm64only +\(no linux\/amd64 image in this index: linux\/arm64\)$/.test(line)), overview.join("\n"));

            for (const stack of [prod, testStack]) {
                const refresh = await stack.cli(["refresh", "--expect-no-changes", "--yes"]).result;
                assert.strictEqual(refresh.status, 0, refresh.output);
            }

            // Refused by the preview's change notice, and by ImageDigest itself when the preview is skipped.
            await prod.stack.setConfig("hello-world:tag", { value: "arm64only" });
            for (const args of [["up", "--yes"], ["up", "--yes", "--skip-preview"]]) {
                const refused = await prod.cli(args).result;
                assert.notStrictEqual(refused.status, 0, refused.output);
                assert.match(refused.output, new RegExp(`${repository}:arm64only: no linux/amd64 image in this index: linux/arm64; ` +
                    "deploy a tag built for linux/amd64 .*set iac:platform"), args.join(" "));
                assert.deepStrictEqual(env.runningDigests(composeProject(prodLocation)), [env.images.b.digest]);
            }
        } finally {
            await prod.remove();
            await fetch(`http://${env.registry.address}/v2/${repository}/manifests/arm64only`, { method: "DELETE" });
        }
    });

    it("reports a re-pushed tag as drift on refresh, keeps the arrow on what runs, and never redeploys by itself", async () => {
        const moved = await retag(env.images.b.digest, env.images.a.tag);
        await stack.refresh({ color: "never", runProgram: true });
        const outputs = await stack.outputs();
        const drift = outputs.pinned.value["hello-world"].drift;
        assert.deepStrictEqual([drift.pinnedDigest, drift.currentDigest], [env.images.a.digest, moved], "visible right after the refresh");
        const overview = (outputs.overview.value as string).split("\n");
        assert.deepStrictEqual(overview.filter((l) => l.startsWith("→")).map((l) => l.split(/\s+/)[1]), [env.images.a.digest.slice(0, 19)]);
        assert.match(overview.find((l) => l.startsWith("→"))!, /\(untagged\) initial deploy/);
        assert.match(overview.find((l) => l.includes(env.images.a.tag))!, /\(tag moved off the deployed image\) add healthcheck/);

        const sessions = env.ssh.sessionCount();
        const result = await up();
        assert.match(result.stdout, new RegExp(`tag ${env.images.a.tag} now points at ${moved}`));
        assert.strictEqual(env.ssh.sessionCount(), sessions, "drift ran no remote command");
        const pinned = (await stack.outputs()).pinned.value["hello-world"];
        assert.strictEqual(pinned.digest, env.images.a.digest);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
    });

    it("takes the app down on destroy, keeping the record in the history and every image in the registry", async () => {
        await stack.destroy({ color: "never" });
        assert.deepStrictEqual((await stack.exportStack()).deployment.resources ?? [], []);
        assert.deepStrictEqual(running(), []);
        assert.ok(!fs.existsSync(path.join(dir, "deploy-info.yml")));
        const history = YAML.parseAllDocuments(fs.readFileSync(path.join(dir, "deploy-history.yml"), "utf8")).map((d) => d.toJS());
        assert.strictEqual(history[history.length - 1].digest, env.images.a.digest);
        assert.ok(history[history.length - 1].removed_at);
        const tags = await (await fetch(`http://${env.registry.address}/v2/${repository}/tags/list`)).json() as { tags: string[] };
        assert.deepStrictEqual(tags.tags.sort(), [env.images.a.tag, env.images.b.tag, env.images.c.tag].sort());
        assert.strictEqual(await registryDigest(env.images.b.tag), env.images.b.digest);
    });
});
