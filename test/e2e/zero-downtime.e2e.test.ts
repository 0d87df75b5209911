// hello-world behind the host's proxy under the real Pulumi engine, against real Caddy, dockerd, Registry v3 and
// an SSH host: a client sends a request every 20 ms through the proxy during every deploy of the scenario and
// counts the answers. A tag change and a rollback refuse, reset and fail none; an unhealthy version leaves traffic
// on the old one;
// a no-op touches neither proxy nor containers; a route changed or a colour stopped by hand is drift that refresh
// reports and up converges; a `pulumi up` killed -9 mid-switch is finished by `up --refresh`; destroy removes the
// route and both colours. After each step: what serves == deploy-info.yml == the `deployed` output.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { DeployInfo, parseDeployInfo } from "../../components/model/deploy-info";
import { appDir, composeProject } from "../../components/remote/layout";
import { proxyRouteId, upstreamFile } from "../../components/remote/proxy";
import { proxyAdminOf } from "../../components/remote/proxy-host";
import { HostProxy, prepareHostProxy, servingPort } from "../helpers/host-proxy";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";
import { TrafficReport, startTraffic } from "../helpers/traffic";

describe("zero-downtime deploys through the host's proxy, under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let proxy: HostProxy;
    let testStack: TestStack;
    let stack: Stack;
    let dir: string;
    let project: string;
    let proxyPort: number;
    const location = () => ({ app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot });

    const docker = (...args: string[]) =>
        execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } }).trim();
    const deployInfo = (): DeployInfo => parseDeployInfo(fs.readFileSync(path.join(dir, "deploy-info.yml"), "utf8"), "deploy-info.yml");
    /** The colour the proxy's route sends traffic to, and the digests each colour's running containers were pulled by. */
    const serving = async () => {
        const route = await proxy.get(`/id/${proxyRouteId(location())}`);
        const port = servingPort(location());
        const colourOf = (colour: string) => env.runningDigests(`${project}-${colour}`);
        return { status: route.status, port, blue: colourOf("blue"), green: colourOf("green") };
    };
    /** The one colour that runs, which must be the one the route sends to, and its digest. */
    const servedDigest = async () => {
        const now = await serving();
        const running = (["blue", "green"] as const).filter((colour) => now[colour].length > 0);
        assert.strictEqual(running.length, 1, `one colour runs: ${JSON.stringify(now)}`);
        const page = await (await fetch(`http://127.0.0.1:${proxyPort}/`)).text();
        return { colour: running[0], digest: now[running[0]][0], port: now.port, page };
    };
    /** The invariant: what serves == deploy-info.yml == the `deployed` output. */
    const assertTruth = async (digest: string) => {
        const served = await servedDigest();
        assert.strictEqual(served.digest, digest, "what serves");
        assert.strictEqual(deployInfo().digest, digest, "deploy-info.yml");
        assert.strictEqual((await stack.outputs()).deployed.value["hello-world"].digest, digest, "the deployed output");
    };
    // A request counts as dropped when refused, reset or answered with an error; a slow answer on this shared
    // machine is not a drop, so the client waits long for one (a benchmark measures the gaps).
    const client = () => startTraffic(`http://127.0.0.1:${proxyPort}/`, { timeoutMs: 20_000 });
    /** No request refused, reset, answered with an error or timed out. */
    const assertNoneDropped = (traffic: TrafficReport) => {
        assert.deepStrictEqual(traffic.failures, {}, JSON.stringify(traffic));
        assert.strictEqual(traffic.answered, traffic.sent, JSON.stringify(traffic));
    };
    /**
     * A change of the route's config (not a switch) reloads Caddy, which can close a connection arriving at that
     * instant without an answer (docs/zero-downtime.md, "Why a switch changes no config"): one reset is let through,
     * and printed; anything else fails.
     */
    const assertNoneDroppedButAReload = (traffic: TrafficReport) => {
        const { ECONNRESET: resets = 0, ...others } = traffic.failures;
        assert.deepStrictEqual(others, {}, JSON.stringify(traffic));
        assert.ok(resets <= 1, JSON.stringify(traffic));
        if (resets > 0) {
            console.log(`      a connection was reset by the reload: ${JSON.stringify(traffic)}`);
        }
    };
    const underTraffic = async <T>(run: () => Promise<T>): Promise<{ result: T; traffic: TrafficReport }> => {
        const traffic = client();
        try {
            const result = await run();
            return { result, traffic: await traffic.stop() };
        } catch (error) {
            await traffic.stop();
            throw error;
        }
    };
    const up = () => stack.up({ color: "never" });
    /** What the hostDrift output says once a refresh has read the host (the outputs are the program's: it runs too). */
    const driftAfterRefresh = async () => {
        await stack.refresh({ color: "never", runProgram: true });
        return JSON.stringify((await stack.outputs()).hostDrift.value["hello-world"]);
    };
    const setTag = (tag: string) => stack.setConfig("hello-world:tag", { value: tag });

    before(async () => {
        env = await startDeployEnvironment();
        dir = appDir(location());
        project = composeProject(location());
        proxy = prepareHostProxy(env);
        proxyPort = await freePort();
        const colourBase = 20_000 + Math.floor(Math.random() * 20_000);
        const { ["hello-world:environment.PORT"]: _port, ...config } = env.stackConfig(env.images.a.tag);
        testStack = await createTestStack("dev", {
            ...config,
            ...proxy.stackConfig,
            "iac:proxyPorts": { value: `${colourBase}-${colourBase + 199}` },
            "iac:proxyAddress": { value: "127.0.0.1" },
            "hello-world:proxy.port": { value: String(proxyPort) },
            "hello-world:healthTimeout": { value: "20" },
        });
        stack = testStack.stack;
    });
    after(async () => {
        try {
            await testStack?.remove();
        } finally {
            await proxy?.stop();
            await env?.stop();
        }
    });

    it("deploys the configured tag in one colour behind the proxy, served on the proxy's port", async () => {
        const result = await up();
        assert.strictEqual(result.summary.result, "succeeded");
        await assertTruth(env.images.a.digest);
        assert.match((await servedDigest()).page, new RegExp(env.images.a.tag));
    });

    it("changes the tag with no request refused, failed or timed out: the new colour serves, the old one is gone", async () => {
        const before = await servedDigest();
        await setTag(env.images.b.tag);
        const { traffic } = await underTraffic(up);
        assertNoneDropped(traffic);
        assert.ok(traffic.answered > 0, "the client was answered during the deploy");
        const after = await servedDigest();
        assert.notStrictEqual(after.colour, before.colour, "the other colour serves now");
        await assertTruth(env.images.b.digest);
    });

    it("rolls back by config with no request refused, failed or timed out", async () => {
        await setTag(env.images.a.tag);
        const { traffic } = await underTraffic(up);
        assertNoneDropped(traffic);
        await assertTruth(env.images.a.digest);
    });

    it("touches neither proxy nor containers on an up with nothing changed", async () => {
        const containers = docker("ps", "-q", "--no-trunc");
        const route = await proxy.get(`/id/${proxyRouteId(location())}`);
        const result = await up();
        assert.deepStrictEqual(result.summary.resourceChanges, { same: result.summary.resourceChanges?.same });
        assert.strictEqual(docker("ps", "-q", "--no-trunc"), containers);
        assert.strictEqual((await proxy.get(`/id/${proxyRouteId(location())}`)).body, route.body);
    });

    it("leaves traffic on the serving version when the new one never becomes healthy, and says what its check answered", async () => {
        const before = await servedDigest();
        await setTag(env.images.c.tag);
        const { result, traffic } = await underTraffic(() => up().then(() => assert.fail("the unhealthy deploy succeeded"), (error: Error) => error));
        assert.match(result.message, /health/);
        assertNoneDropped(traffic);
        const after = await servedDigest();
        assert.deepStrictEqual(after, before, "the same colour serves the same digest");
        assert.strictEqual(deployInfo().digest, env.images.a.digest);
        await setTag(env.images.a.tag);
        await stack.refresh({ color: "never" });
        await assertTruth(env.images.a.digest);
    });

    it("reports a route pointed elsewhere by hand, or changed by hand, as drift, and up points it back", async () => {
        const served = await servedDigest();
        const file = upstreamFile(proxyAdminOf(env.ssh.deployRoot), location()).onHost;
        fs.writeFileSync(file, `${served.port + 7}\n`);
        await assert.rejects(stack.refresh({ color: "never", expectNoChanges: true }));
        assert.match(await driftAfterRefresh(), /neither of its colours/);
        await up();
        await assertTruth(env.images.a.digest);
        assert.deepStrictEqual((await stack.outputs()).hostDrift.value["hello-world"], []);

        const routePath = `/id/${proxyRouteId(location())}/handle/0/upstreams/0/dial`;
        await proxy.request("PATCH", routePath, JSON.stringify(`127.0.0.1:${served.port}`));
        await assert.rejects(stack.refresh({ color: "never", expectNoChanges: true }));
        assert.match(await driftAfterRefresh(), /not one this program writes/);
        await up();
        await assertTruth(env.images.a.digest);
        assert.deepStrictEqual((await stack.outputs()).hostDrift.value["hello-world"], []);
    });

    it("reports the serving colour stopped by hand as drift, and up serves again", async () => {
        const served = await servedDigest();
        docker("stop", ...docker("ps", "-q", "--filter", `label=com.docker.compose.project=${project}-${served.colour}`).split("\n"));
        await assert.rejects(stack.refresh({ color: "never", expectNoChanges: true }));
        assert.match(await driftAfterRefresh(), /exited|no container/);
        await up();
        await assertTruth(env.images.a.digest);
    });

    it("applies a changed health path to the route in place, refusing or failing no request and restarting nothing", async () => {
        const containers = docker("ps", "-q", "--no-trunc");
        await stack.setConfig("hello-world:proxy.healthPath", { value: "/" }, true);
        const { traffic } = await underTraffic(up);
        assertNoneDroppedButAReload(traffic);
        assert.match((await proxy.get(`/id/${proxyRouteId(location())}`)).body, /"uri":"\/"/);
        assert.strictEqual(docker("ps", "-q", "--no-trunc"), containers);
        await assertTruth(env.images.a.digest);
        assert.deepStrictEqual((await stack.outputs()).hostDrift.value["hello-world"], []);
    });

    it("finishes a switch whose pulumi up was killed -9 with up --refresh", async () => {
        await setTag(env.images.b.tag);
        const run = testStack.cli(["up", "--yes", "--skip-preview"]);
        const traffic = client();
        try {
            for (let waited = 0; (await serving()).blue.length + (await serving()).green.length < 2; waited += 50) {
                assert.ok(waited < 120_000, "the new colour never started");
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            run.child.kill("SIGKILL");
            await run.result;
        } finally {
            await run.reap();
        }
        await testStack.cli(["cancel", "--yes"]).result;
        const recovered = await testStack.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
        const report = await traffic.stop();
        assert.strictEqual(recovered.status, 0, recovered.output);
        assertNoneDropped(report);
        await assertTruth(env.images.b.digest);
    });

    it("destroys: the route, its emptied server (the port is free again) and both colours are gone", async () => {
        await stack.destroy({ color: "never" });
        assert.strictEqual((await proxy.get(`/id/${proxyRouteId(location())}`)).status, 404);
        assert.doesNotMatch((await proxy.get("/config/apps/http/servers")).body, /iac-server-/);
        await assert.rejects(fetch(`http://127.0.0.1:${proxyPort}/`), "nothing listens on the proxy port");
        assert.deepStrictEqual(env.runningDigests(`${project}-blue`), []);
        assert.deepStrictEqual(env.runningDigests(`${project}-green`), []);
    });

    it("turns the proxy on for an app served on its own port, and off again, the record true after each", async () => {
        const directPort = await freePort();
        await setTag(env.images.a.tag);
        const direct = async () => {
            await stack.removeConfig("hello-world:proxy");
            await stack.setConfig("hello-world:environment.PORT", { value: String(directPort) }, true);
            await up();
            assert.strictEqual((await fetch(`http://127.0.0.1:${directPort}/`)).status, 200, "served on its own port");
            assert.deepStrictEqual(env.runningDigests(project), [env.images.a.digest]);
            assert.deepStrictEqual([...env.runningDigests(`${project}-blue`), ...env.runningDigests(`${project}-green`)], []);
            assert.strictEqual((await proxy.get(`/id/${proxyRouteId(location())}`)).status, 404);
            assert.ok(!fs.existsSync(upstreamFile(proxyAdminOf(env.ssh.deployRoot), location()).onHost), "the route's file is gone");
            assert.strictEqual(deployInfo().digest, env.images.a.digest);
            assert.strictEqual((await stack.outputs()).deployed.value["hello-world"].digest, env.images.a.digest);
        };
        await direct();

        await stack.setConfig("hello-world:proxy.port", { value: String(proxyPort) }, true);
        await stack.removeConfig("hello-world:environment.PORT", true);
        await up();
        await assertTruth(env.images.a.digest);
        assert.deepStrictEqual(env.runningDigests(project), [], "the app's own project is down behind the proxy");
        await assert.rejects(fetch(`http://127.0.0.1:${directPort}/`), "nothing listens on the app's own port");

        await direct();
        assert.deepStrictEqual((await stack.outputs()).hostDrift.value["hello-world"], []);
    });
});
