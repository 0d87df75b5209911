// A workspace with `iac:target: swarm`, under the real Pulumi engine, deploying through a real SSH host whose
// dockerd is a single-node Swarm manager on loopback: deploy A, upgrade to B, roll back to A by config, an
// unhealthy C that Swarm rolls back (the up fails, nothing recorded), a no-op run that asks the registry
// nothing and updates no service, a service changed by hand caught by refresh and converged by up, destroy.
// The registry takes only its one user, from the stack's secret config: resolving, the host's login and the
// tasks' pulls all go through it.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { DeployInfo, parseDeployInfo } from "../../components/model/deploy-info";
import { appDir, swarmStack } from "../../components/remote/layout";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { createTestStack, TestStack } from "../helpers/pulumi-stack";

describe("a swarm workspace under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let dev: TestStack;
    let dir: string;
    let stackName: string;

    const running = () => env.runningDigests(stackName);
    const deployInfoText = () => fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8");
    const deployInfo = (): DeployInfo => parseDeployInfo(deployInfoText(), "deploy-info.yml");
    const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } }).trim();
    const service = () => `${stackName}_web`;
    const serviceVersion = () => docker("service", "inspect", "--format", "{{.Version.Index}}", service());
    const up = () => dev.cli(["up", "--yes", "--skip-preview"]).result;
    const setTag = (tag: string) => dev.stack.setConfig("hello-world:tag", { value: tag });
    const outputs = async () => dev.stack.outputs();
    const overviewArrow = async () => ((await outputs()).overview.value as string).split("\n").filter((l) => l.startsWith("→"))
        .map((l) => l.split(/\s+/)[1]);

    /** What runs, deploy-info.yml and the deployed output name one digest. */
    async function assertAgree(digest: string): Promise<void> {
        assert.deepStrictEqual(running(), [digest]);
        assert.strictEqual(deployInfo().digest, digest);
        assert.deepStrictEqual((await outputs()).deployed.value["hello-world"], deployInfo());
    }

    before(async () => {
        env = await startDeployEnvironment({ swarm: true, registryAuth: { username: "deployer", password: "swarm-secret-9" } });
        const location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        dir = appDir(location);
        stackName = swarmStack(location);
        dev = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "60" } });
    });
    after(async () => {
        try {
            await dev?.remove();
        } finally {
            await env?.stop();
        }
    });

    it("deploys the configured tag as a stack pinned by digest and records it", async () => {
        const result = await up();
        assert.strictEqual(result.status, 0, result.output);
        assert.match(result.output, /waiting up to 60 s for Swarm to run it healthy on every task and finish the update/);
        await assertAgree(env.images.a.digest);
        assert.strictEqual(docker("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service()),
            `${env.registry.address}/${repository}@${env.images.a.digest}`);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
        assert.deepStrictEqual(await overviewArrow(), [env.images.a.tag]);
        assert.match(result.output, new RegExp(`logging in to ${env.registry.address} as deployer`));
        assert.ok(!result.output.includes("swarm-secret-9"), "the password never reaches the output");
    });

    it("runs no remote command, asks the registry nothing and updates no service on an up with nothing changed", async () => {
        const [sessions, requests, version] = [env.ssh.sessionCount(), env.registry.requestCount(), serviceVersion()];
        const result = await up();
        assert.strictEqual(result.status, 0, result.output);
        assert.strictEqual(env.ssh.sessionCount(), sessions);
        assert.strictEqual(env.registry.requestCount(), requests);
        assert.strictEqual(serviceVersion(), version);
    });

    it("upgrades to B and rolls back to A by config alone", async () => {
        await setTag(env.images.b.tag);
        assert.strictEqual((await up()).status, 0);
        await assertAgree(env.images.b.digest);
        assert.deepStrictEqual(await overviewArrow(), [env.images.b.tag]);
        await setTag(env.images.a.tag);
        const back = await up();
        assert.strictEqual(back.status, 0, back.output);
        await assertAgree(env.images.a.digest);
        assert.deepStrictEqual(await overviewArrow(), [env.images.a.tag]);
    });

    it("fails the up when Swarm rolls an unhealthy C back, keeping A running and recorded", async () => {
        const before = deployInfoText();
        await setTag(env.images.c.tag);
        const result = await up();
        assert.notStrictEqual(result.status, 0, result.output);
        assert.match(result.output, /Swarm rolled back the update of .*_web/);
        assert.match(result.output, /unhealthy container/);
        assert.match(result.output, /deploy-info.yml left as it was/);
        assert.strictEqual(deployInfoText(), before);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
        await setTag(env.images.a.tag);
        const refresh = await dev.cli(["refresh", "--yes", "--skip-preview"]).result;
        assert.strictEqual(refresh.status, 0, refresh.output);
        await assertAgree(env.images.a.digest);
    });

    it("fails refresh --expect-no-changes on a service changed by hand, and the next up converges", async () => {
        docker("service", "update", "--quiet", "--image", `${env.registry.address}/${repository}@${env.images.b.digest}`, service());
        const refresh = await dev.cli(["refresh", "--expect-no-changes", "--diff", "--yes"]).result;
        assert.notStrictEqual(refresh.status, 0, refresh.output);
        assert.match(refresh.output, new RegExp(`service web's spec names ${env.images.b.digest}`));
        const converge = await up();
        assert.strictEqual(converge.status, 0, converge.output);
        await assertAgree(env.images.a.digest);
        const again = await dev.cli(["refresh", "--expect-no-changes", "--yes"]).result;
        assert.strictEqual(again.status, 0, again.output);
    });

    it("removes the stack on destroy, keeping the record in the history", async () => {
        const destroyed = await dev.cli(["destroy", "--yes", "--skip-preview"]).result;
        assert.strictEqual(destroyed.status, 0, destroyed.output);
        assert.strictEqual(docker("service", "ls", "-q", "--filter", `label=com.docker.stack.namespace=${stackName}`), "");
        assert.deepStrictEqual(running(), []);
        assert.ok(!fs.existsSync(path.join(dir, "deploy-info.yml")));
        const history = YAML.parseAllDocuments(fs.readFileSync(path.join(dir, "deploy-history.yml"), "utf8")).map((d) => d.toJS());
        assert.strictEqual(history.at(-1).digest, env.images.a.digest);
        assert.ok(history.at(-1).removed_at);
    });
});
