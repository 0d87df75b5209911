// The faults of docs/faults.md tried again with the app behind the host's proxy (issue 24), under the real Pulumi
// engine, against real Caddy, dockerd, Registry v3 and an SSH host: kill -9 of `pulumi up` and of the host's
// detached deploy phase at each point of the colour switch, the proxy container removed by hand, the deploy root's
// disk full, and dockerd killed. A client sends a request every 20 ms through the proxy's port from before each
// fault until its recovery is done, and each test prints how many failed and why. After the recovery docs/faults.md
// names: the colour the route sends to == deploy-info.yml == the `deployed` output, the other colour runs nothing,
// and `pulumi refresh --expect-no-changes` passes.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { ConfigMap } from "@pulumi/pulumi/automation";
import { Decision } from "../../components/cleanup/plan";
import { parseDeployInfo } from "../../components/model/deploy-info";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { ColourPorts, colourPorts, proxyRouteId } from "../../components/remote/proxy";
import { proxyAdminOf, proxyContainerName } from "../../components/remote/proxy-host";
import { BuiltImage } from "../../local/app-repository";
import { restartKilledDockerd } from "../../local/dockerd";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { killNow, phaseProcesses, sessionMembers } from "../helpers/fault-harness";
import { HostProxy, prepareHostProxy, proxyRepository, servingPort } from "../helpers/host-proxy";
import { runOperatorCommand } from "../helpers/operator-command";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";
import { TrafficReport, startTraffic } from "../helpers/traffic";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stack whose app serves through the host's proxy, and where. */
interface Proxied { stack: TestStack; port: number; where: AppLocation; colours: ColourPorts }

describe("faults behind the host's proxy, under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let proxy: HostProxy;
    /** The dockerd test removes the proxy itself, on the engine it restarted. */
    let proxyRemoved = false;
    let dev: Proxied;
    let location: AppLocation;
    /** The version the config names and the last recovery left serving; each fault deploys the other one. */
    let current: BuiltImage;

    const docker = (...args: string[]) => execFileSync("docker", args, {
        encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host }, stdio: ["ignore", "pipe", "ignore"],
    }).trim();

    /** A proxied stack of its own org, port and colour range on the test host. */
    async function proxiedStack(name: string, where: AppLocation, extra: ConfigMap = {}): Promise<Proxied> {
        const port = await freePort();
        const range = { first: 20_000 + 2 * Math.floor(Math.random() * 10_000), count: 200 };
        const { ["hello-world:environment.PORT"]: _port, ...config } = env.stackConfig(env.images.a.tag);
        const stack = await createTestStack(name, {
            ...config,
            ...proxy.stackConfig,
            "iac:proxyPorts": { value: `${range.first}-${range.first + range.count - 1}` },
            "iac:proxyAddress": { value: "127.0.0.1" },
            "hello-world:proxy.port": { value: String(port) },
            "hello-world:healthTimeout": { value: "20" },
            ...extra,
        });
        return { stack, port, where, colours: colourPorts(range, appDir(where)) };
    }

    /** The proxy's admin API of `deployRoot`, as the deploy reaches it. */
    const adminGet = (deployRoot: string, route: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ socketPath: proxyAdminOf(deployRoot).socket, path: route }, (res) => {
            let body = "";
            res.on("data", (chunk: Buffer) => (body += chunk.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        }).on("error", reject);
    });

    /**
     * The invariant behind the proxy: the route sends to a colour that runs `image` only, the other colour runs
     * nothing, deploy-info.yml names it, the output is the record, the proxy's port answers, and a refresh finds
     * nothing to change.
     */
    async function assertServes({ stack, port, where, colours }: Proxied, image: BuiltImage): Promise<void> {
        const route = await adminGet(where.deployRoot, `/id/${proxyRouteId(where)}`);
        assert.strictEqual(route.status, 200, `the proxy has the app's route: ${route.body}`);
        const upstream = servingPort(where);
        const serving = (["blue", "green"] as const).find((colour) => colours[colour] === upstream);
        assert.ok(serving, `the route sends to 127.0.0.1:${upstream}, a colour's port (${JSON.stringify(colours)})`);
        const idle = serving === "blue" ? "green" : "blue";
        assert.deepStrictEqual(env.runningDigests(`${composeProject(where)}-${serving}`), [image.digest], `what the serving ${serving} colour runs`);
        assert.deepStrictEqual(env.runningDigests(`${composeProject(where)}-${idle}`), [], `the idle ${idle} colour runs nothing`);
        const record = parseDeployInfo(fs.readFileSync(path.join(appDir(where), "deploy-info.yml"), "utf8"), "deploy-info.yml");
        assert.strictEqual(record.digest, image.digest, "deploy-info.yml");
        assert.deepStrictEqual((await stack.stack.outputs()).deployed.value["hello-world"], record, "the deployed output");
        assert.strictEqual((await fetch(`http://127.0.0.1:${port}/`)).status, 200, "the proxy's port answers");
        const refresh = await stack.cli(["refresh", "--expect-no-changes", "--diff", "--yes"]).result;
        assert.strictEqual(refresh.status, 0, refresh.output);
    }

    /** Until the newest deploy job's log (since `since`) under `where` says `marker`. */
    async function hostSays(where: AppLocation, marker: RegExp, since: number): Promise<string> {
        const staged = path.join(appDir(where), "staged");
        for (let i = 0; i < 6000; i++) {
            const jobs = fs.existsSync(staged) ? fs.readdirSync(staged).map((job) => path.join(staged, job))
                .filter((job) => fs.existsSync(path.join(job, "log")) && fs.statSync(path.join(job, "log")).mtimeMs >= since) : [];
            const job = jobs.find((candidate) => marker.test(fs.readFileSync(path.join(candidate, "log"), "utf8")));
            if (job) {
                return job;
            }
            await sleep(20);
        }
        throw new Error(`the host never said ${marker}`);
    }

    /** Until the app's lock is free: the detached phase (or what it left running) has ended. */
    const lockFree = (where: AppLocation) => execFileSync("flock", ["-w", "300", path.join(appDir(where), ".deploy.lock"), "true"]);

    const report = (what: string, traffic: TrafficReport) =>
        console.log(`      ${what}: ${traffic.sent} requests through the proxy, ${traffic.failed} failed ${JSON.stringify(traffic.failures)}, ` +
            `longest gap ${Math.round(traffic.longestGapMs)} ms`);
    /**
     * No request met a route to a port nothing listens on (refused, or the proxy's 502). Timeouts and the proxy's 503
     * are not counted against the fault: on a loaded machine a health check of the proxy's that takes over 2 s takes
     * the one upstream out of service until the next one passes, deploy or no deploy (they are printed all the same).
     */
    const assertRouteAlwaysLive = (traffic: TrafficReport) =>
        assert.deepStrictEqual(Object.keys(traffic.failures).filter((reason) => /ECONNREFUSED|HTTP 502/.test(reason)), [],
            `no request was refused: ${JSON.stringify(traffic)}`);

    before(async () => {
        env = await startDeployEnvironment();
        proxy = prepareHostProxy(env);
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        dev = await proxiedStack("dev", location);
        current = env.images.a;
        await dev.stack.stack.up({ color: "never" });
        await assertServes(dev, current);
    });
    after(async () => {
        try {
            await dev?.stack.remove();
        } finally {
            if (!proxyRemoved) {
                await proxy?.stop();
            }
            await env?.stop();
        }
    });

    // Points of proxied_up, in order, as the host's job log shows them.
    const points: [string, RegExp][] = [
        ["pulling", /pulling/],
        ["the new colour started and healthy, before the switch", /Healthy/],
        ["right after the route switch, draining the old colour", /the proxy sends hello-world to/],
        ["stopping the old colour", /stopping the (blue|green) colour/],
    ];
    const kills: ["pulumi up" | "the host's deploy phase", [string, RegExp][]][] = [
        ["pulumi up", points],
        ["the host's deploy phase", points.slice(1)],
    ];
    for (const [victim, at] of kills) {
        for (const [point, marker] of at) {
            it(`serves a recorded version after kill -9 of ${victim} ${point}, and up --refresh converges`, async () => {
                const next = current === env.images.a ? env.images.b : env.images.a;
                await dev.stack.stack.setConfig("hello-world:tag", { value: next.tag });
                const traffic = startTraffic(`http://127.0.0.1:${dev.port}/`);
                const since = Date.now();
                const run = dev.stack.cli(["up", "--yes", "--skip-preview"]);
                const job = await hostSays(location, marker, since);
                if (victim === "pulumi up") {
                    run.child.kill("SIGKILL");
                } else {
                    const phase = phaseProcesses(appDir(location)).find((candidate) => candidate.job === job);
                    assert.ok(phase, `the deploy phase of ${job} runs at the kill point`);
                    process.kill(phase.pid, "SIGKILL");
                }
                const killed = await run.result;
                await run.reap();
                lockFree(location);
                if (victim === "pulumi up") {
                    assert.strictEqual((await dev.stack.cli(["cancel", "--yes"]).result).status, 0);
                } else {
                    assert.notStrictEqual(killed.status, 0, "the up whose phase was killed fails");
                    assert.match(killed.output, /run pulumi up --refresh/);
                }
                const up = await dev.stack.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
                const seen = await traffic.stop();
                report(`kill -9 of ${victim} ${point}`, seen);
                assert.strictEqual(up.status, 0, up.output);
                current = next;
                await assertServes(dev, current);
                assertRouteAlwaysLive(seen);
            });
        }
    }

    it("keeps, in a cleanup mid-switch, both colours' digests and the proxy's image, then up --refresh finishes the switch", async () => {
        const next = current === env.images.a ? env.images.b : env.images.a;
        await dev.stack.stack.setConfig("hello-world:tag", { value: next.tag });
        const since = Date.now();
        const run = dev.stack.cli(["up", "--yes", "--skip-preview"]);
        // The phase's whole session killed once the new colour is healthy (the phase alone would leave its
        // subshell to finish the switch): both colours run, the route still on the old one.
        const job = await hostSays(location, /Healthy/, since);
        const phase = phaseProcesses(appDir(location)).find((candidate) => candidate.job === job);
        assert.ok(phase, `the deploy phase of ${job} runs at the kill point`);
        sessionMembers(phase.pid).forEach(killNow);
        await run.result;
        await run.reap();
        lockFree(location);
        assert.deepStrictEqual(["blue", "green"].map((colour) => env.runningDigests(`${composeProject(location)}-${colour}`)).flat().sort(),
            [current.digest, next.digest].sort(), "both colours run");

        // Nothing kept for age, count or history: only what the host runs protects a digest.
        fs.writeFileSync(path.join(dev.stack.workDir, "retention.yml"), "default:\n  keepNewest: 0\n  keepYoungerThanDays: 0\n");
        const cleanup = runOperatorCommand("registry:cleanup",
            ["--project-dir", dev.stack.workDir, "--identity", `dev=${env.ssh.privateKeyFile}`, "--history", "0", "--json"], { timeout: 120_000 });
        assert.strictEqual(cleanup.status, 0, cleanup.stderr);
        const plan = JSON.parse(cleanup.stdout) as Decision[];
        const decided = (repository: string, digest: string) => plan.find((d) => d.repository === repository && d.digest === digest);
        const proxyDigest = String(proxy.stackConfig["iac:proxyImage"].value).split("@")[1];
        for (const [what, name, digest] of [
            ["the serving colour's", repository, current.digest], ["the new colour's", repository, next.digest], ["the proxy's", proxyRepository, proxyDigest],
        ]) {
            const decision = decided(name, digest);
            assert.strictEqual(decision?.decision, "keep", `${what} digest kept: ${JSON.stringify(decision)}`);
            assert.ok(decision.reasons.some((reason) => /^container on dev's host/.test(reason)), `${what} kept for its container: ${decision.reasons}`);
        }
        assert.ok(plan.some((d) => d.decision === "delete"), "the policy deletes what nothing protects (the check is not vacuous)");

        const up = await dev.stack.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
        assert.strictEqual(up.status, 0, up.output);
        current = next;
        await assertServes(dev, current);
    });

    it("serves again after the proxy container is removed by hand: refresh says so, up --refresh brings it back with its route", async () => {
        const traffic = startTraffic(`http://127.0.0.1:${dev.port}/`);
        await sleep(500);
        docker("rm", "-f", proxyContainerName(env.ssh.deployRoot));
        const refresh = await dev.stack.cli(["refresh", "--expect-no-changes", "--yes"]).result;
        assert.notStrictEqual(refresh.status, 0, "a refresh reports the proxy gone");
        const up = await dev.stack.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
        const seen = await traffic.stop();
        report("the proxy container removed by hand", seen);
        assert.strictEqual(up.status, 0, up.output);
        await assertServes(dev, current);
        assert.ok(seen.failed > 0, "with no proxy, its port refuses (the client saw the gap)");
    });

    it("fails when the deploy root's disk is full, the serving colour untouched, and deploys once there is room", async () => {
        const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "iac-full-"));
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
        const fullLocation = { ...location, workspace: "full", org: "full", deployRoot: mountPoint };
        const full = await proxiedStack("full", fullLocation, { "iac:org": { value: "full" }, "iac:deployRoot": { value: mountPoint } });
        try {
            const first = await full.stack.cli(["up", "--yes", "--skip-preview"]).result;
            assert.strictEqual(first.status, 0, first.output);
            await assertServes(full, env.images.a);
            const filler = path.join(mountPoint, "filler");
            execFileSync("sh", ["-c", `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null || true`]);
            await full.stack.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
            const traffic = startTraffic(`http://127.0.0.1:${full.port}/`);
            const up = await full.stack.cli(["up", "--yes", "--skip-preview"]).result;
            const seen = await traffic.stop();
            report("the deploy root's disk full", seen);
            assert.notStrictEqual(up.status, 0);
            assert.match(up.output, /disk full/);
            await assertServes(full, env.images.a);
            assertRouteAlwaysLive(seen);
            fs.rmSync(filler);
            const retry = await full.stack.cli(["up", "--yes", "--skip-preview"]).result;
            assert.strictEqual(retry.status, 0, retry.output);
            await assertServes(full, env.images.b);
        } finally {
            try {
                fs.rmSync(path.join(mountPoint, "filler"), { force: true });
                await full.stack.remove();
            } finally {
                docker("rm", "-f", proxyContainerName(mountPoint));
                execFileSync("umount", [mountPoint]);
                fs.rmdirSync(mountPoint);
            }
        }
    });

    // Last: it stops the engine every other test uses.
    it("fails and says what to run when dockerd stops mid-switch, and serves the recorded version once it is back", async () => {
        const next = current === env.images.a ? env.images.b : env.images.a;
        await dev.stack.stack.setConfig("hello-world:tag", { value: next.tag });
        const since = Date.now();
        const run = dev.stack.cli(["up", "--yes", "--skip-preview"]);
        await hostSays(location, /starting .* as the (blue|green) colour/, since);
        process.kill(env.dockerd.pid, "SIGKILL");
        const failed = await run.result;
        await run.reap();
        assert.notStrictEqual(failed.status, 0);
        assert.match(failed.output, /run pulumi up --refresh/);

        const restarted = await restartKilledDockerd(env.dockerd.dir);
        try {
            const traffic = startTraffic(`http://127.0.0.1:${dev.port}/`);
            const up = await dev.stack.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
            const seen = await traffic.stop();
            report("dockerd back, during up --refresh", seen);
            assert.strictEqual(up.status, 0, up.output);
            current = next;
            await assertServes(dev, current);
            await dev.stack.remove();
        } finally {
            try {
                await proxy.stop();
                proxyRemoved = true;
            } finally {
                await restarted.stop();
            }
        }
    });
});
