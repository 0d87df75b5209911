// Faults under the real engine, against a real SSH host, dockerd and Registry v3. After each, the invariant:
// what runs == deploy-info.yml == the stack's `deployed` output, or the command failed and says what to do.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap } from "@pulumi/pulumi/automation";
import { DeployInfo, parseDeployInfo } from "../../components/model/deploy-info";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { BuiltImage } from "../../local/app-repository";
import { restartKilledDockerd } from "../../local/dockerd";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";
import { TestPusher } from "../helpers/push";

// One scenario: the dev stack carries from test to test; the dockerd test stops the engine and comes last.
describe("faults under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let dev: TestStack;
    let location: AppLocation;

    const deployInfoAt = (where: AppLocation): DeployInfo =>
        parseDeployInfo(fs.readFileSync(path.join(appDir(where), "deploy-info.yml"), "utf8"), "deploy-info.yml");
    const docker = (...args: string[]) => execFileSync("docker", args, {
        encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host }, stdio: ["ignore", "pipe", "ignore"],
    }).trim();

    /** The invariant, for one stack: the host runs `image`, deploy-info.yml names it, and so does the output. */
    async function assertAgree(stack: TestStack, where: AppLocation, image: BuiltImage): Promise<void> {
        assert.deepStrictEqual(env.runningDigests(composeProject(where)), [image.digest], "what runs");
        assert.strictEqual(deployInfoAt(where).digest, image.digest, "deploy-info.yml");
        assert.deepStrictEqual((await stack.stack.outputs()).deployed.value["hello-world"], deployInfoAt(where), "the deployed output");
    }

    const refreshChecks = (stack: TestStack) => stack.cli(["refresh", "--expect-no-changes", "--diff", "--yes"]).result;

    before(async () => {
        env = await startDeployEnvironment();
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        dev = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "15" } });
        await dev.stack.up({ color: "never" });
    });
    after(async () => {
        try {
            await dev?.remove();
        } finally {
            await env?.stop();
        }
    });

    it("fails a preview whose tag does not resolve, naming the closest tags", async () => {
        const typo = env.images.a.tag.slice(0, -1) + (env.images.a.tag.endsWith("0") ? "1" : "0");
        await dev.stack.setConfig("hello-world:tag", { value: typo });
        const preview = await dev.cli(["preview"]).result;
        assert.notStrictEqual(preview.status, 0, preview.output);
        assert.match(preview.output, new RegExp(`${typo}.*not found`));
        assert.match(preview.output, new RegExp(env.images.a.tag));
        await dev.stack.setConfig("hello-world:tag", { value: env.images.a.tag });
        await assertAgree(dev, location, env.images.a);
    });

    it("reports no change on a refresh of an untouched stack right after an up", async () => {
        const refresh = await refreshChecks(dev);
        assert.strictEqual(refresh.status, 0, refresh.output);
    });

    it("fails refresh --expect-no-changes on a container stopped by hand, and the next up converges", async () => {
        docker("stop", ...docker("ps", "-q", "--filter", `label=com.docker.compose.project=${composeProject(location)}`).split("\n"));
        const refresh = await refreshChecks(dev);
        assert.notStrictEqual(refresh.status, 0, refresh.output);
        assert.match(refresh.output, /service web is exited/);
        const up = await dev.cli(["up", "--yes", "--skip-preview"]).result;
        assert.strictEqual(up.status, 0, up.output);
        await assertAgree(dev, location, env.images.a);
        assert.strictEqual((await refreshChecks(dev)).status, 0);
    });

    it("runs a second workspace beside the first on one host; destroying it leaves the first running", async () => {
        const prod = await createTestStack("prod", {
            ...env.stackConfig(env.images.b.tag), "iac:org": { value: "acme" },
            "hello-world:environment.PORT": { value: String(await freePort()) },
        } satisfies ConfigMap);
        const prodLocation = { ...location, workspace: "prod", org: "acme" };
        try {
            await prod.stack.up({ color: "never" });
            await assertAgree(prod, prodLocation, env.images.b);
            await assertAgree(dev, location, env.images.a);
        } finally {
            await prod.remove();
        }
        assert.deepStrictEqual(env.runningDigests(composeProject(prodLocation)), []);
        await assertAgree(dev, location, env.images.a);
        const refresh = await refreshChecks(dev);
        assert.strictEqual(refresh.status, 0, refresh.output);
    });

    it("refuses a same-named stack on another state backend aimed at the same deploy dir, before it changes anything", async () => {
        const twin = await createTestStack("dev", env.stackConfig(env.images.b.tag));
        try {
            const up = await twin.cli(["up", "--yes", "--skip-preview"]).result;
            assert.notStrictEqual(up.status, 0, up.output);
            assert.match(up.output, /belongs to another stack .*a workspace of the same name on another state backend/);
            assert.match(up.output, /give this workspace its own iac:org or iac:deployRoot/);
            await assertAgree(dev, location, env.images.a);
            assert.strictEqual((await refreshChecks(dev)).status, 0);
        } finally {
            // Its state holds no deployment; removing the stack touches nothing of dev's.
            await twin.remove();
        }
        await assertAgree(dev, location, env.images.a);
    });

    it("takes a moved deploy root as a move: the app runs at the new dir only, the old dir's history closed; a respelling is no move", async () => {
        const newRoot = fs.mkdtempSync(path.join(os.tmpdir(), "iac-moved-root-"));
        const moved = { ...location, deployRoot: newRoot };
        try {
            await dev.stack.setConfig("iac:deployRoot", { value: `${env.ssh.deployRoot}/.` });
            const respelled = await dev.cli(["preview", "--expect-no-changes", "--diff"]).result;
            assert.strictEqual(respelled.status, 0, respelled.output);

            await dev.stack.setConfig("iac:deployRoot", { value: newRoot });
            const preview = await dev.cli(["preview", "--diff"]).result;
            assert.strictEqual(preview.status, 0, preview.output);
            assert.match(preview.output, /moves from .* to .*: it is taken down there first/);
            const up = await dev.cli(["up", "--yes", "--skip-preview"]).result;
            assert.strictEqual(up.status, 0, up.output);
            await assertAgree(dev, moved, env.images.a);
            assert.deepStrictEqual(env.runningDigests(composeProject(location)), [], "no copy left at the old dir");
            assert.ok(!fs.existsSync(path.join(appDir(location), "deploy-info.yml")));
            assert.match(fs.readFileSync(path.join(appDir(location), "deploy-history.yml"), "utf8"), /removed_at: /);
            assert.strictEqual((await refreshChecks(dev)).status, 0);
        } finally {
            await dev.stack.setConfig("iac:deployRoot", { value: env.ssh.deployRoot });
            const back = await dev.cli(["up", "--yes", "--skip-preview"]).result;
            assert.strictEqual(back.status, 0, back.output);
            fs.rmSync(newRoot, { recursive: true, force: true });
        }
        await assertAgree(dev, location, env.images.a);
    });

    /** Waits until the newest deploy job's log on the host says `marker`. */
    async function hostSays(marker: RegExp, since: number): Promise<void> {
        const staged = path.join(appDir(location), "staged");
        for (let i = 0; i < 1200; i++) {
            const logs = fs.existsSync(staged) ? fs.readdirSync(staged).map((job) => path.join(staged, job, "log"))
                .filter((log) => fs.existsSync(log) && fs.statSync(log).mtimeMs >= since) : [];
            if (logs.some((log) => marker.test(fs.readFileSync(log, "utf8")))) {
                return;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error(`the host never said ${marker}`);
    }

    const phases: [string, RegExp][] = [
        ["about to pull", /^/], ["pulling", /pulling/], ["waiting for health", /waiting up to/],
        ["past the switch, about to record", /Healthy/],
    ];
    for (const [phase, marker] of phases) {
        it(`converges after pulumi up is killed -9 while the host is ${phase}: cancel, roll the config back, up --refresh`, async () => {
            const since = Date.now();
            await dev.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
            const run = dev.cli(["up", "--yes", "--skip-preview"]);
            await hostSays(marker, since);
            run.child.kill("SIGKILL");
            await run.result;
            // The deploy on the host is not the killed process's child: it runs to its record or its restore.
            execFileSync("flock", [path.join(appDir(location), ".deploy.lock"), "true"]);
            await run.reap();
            assert.strictEqual(deployInfoAt(location).digest, env.runningDigests(composeProject(location))[0], "the host agrees with itself");

            // What the operator guide says after an interruption, whether or not the killed run left its lock.
            const cancel = await dev.cli(["cancel", "--yes"]).result;
            assert.strictEqual(cancel.status, 0, cancel.output);
            await dev.stack.setConfig("hello-world:tag", { value: env.images.a.tag });
            const up = await dev.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
            assert.strictEqual(up.status, 0, up.output);
            await assertAgree(dev, location, env.images.a);
            assert.strictEqual((await refreshChecks(dev)).status, 0);
        });
    }

    it("fails when the deploy root's disk is full, changing nothing, and deploys once there is room", async () => {
        const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "iac-full-"));
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
        const full = await createTestStack("full", {
            ...env.stackConfig(env.images.a.tag), "iac:org": { value: "full" }, "iac:deployRoot": { value: mountPoint },
            "hello-world:environment.PORT": { value: String(await freePort()) },
        });
        const fullLocation = { ...location, workspace: "full", org: "full", deployRoot: mountPoint };
        try {
            await full.stack.up({ color: "never" });
            const filler = path.join(mountPoint, "filler");
            execFileSync("sh", ["-c", `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null || true`]);
            await full.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
            const up = await full.cli(["up", "--yes", "--skip-preview"]).result;
            assert.notStrictEqual(up.status, 0);
            assert.match(up.output, /disk full/);
            await assertAgree(full, fullLocation, env.images.a);
            fs.rmSync(filler);
            const retry = await full.cli(["up", "--yes", "--skip-preview"]).result;
            assert.strictEqual(retry.status, 0, retry.output);
            await assertAgree(full, fullLocation, env.images.b);
        } finally {
            try {
                await full.remove();
            } finally {
                execFileSync("umount", [mountPoint]);
                fs.rmdirSync(mountPoint);
            }
        }
    });

    it("deploys a 120 KB label full of shell, quotes, escapes and NUL, and records it exactly", async () => {
        const hostile = "$(id) `id` 'single' \"double\" __IAC_DEPLOYED_AT__ \u0000 \u001b[2J\u001b]0;pwned\u0007 ".repeat(2_000);
        assert.ok(hostile.length > 120_000);
        const accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
        const base = `http://${env.registry.address}/v2/${repository}`;
        const manifestResponse = await fetch(`${base}/manifests/${env.images.a.digest}`, { headers: { accept } });
        const mediaType = manifestResponse.headers.get("content-type")!;
        const manifest = await manifestResponse.json() as { config: { digest: string; size: number } };
        const config = await (await fetch(`${base}/blobs/${manifest.config.digest}`)).json() as { config: { Labels: Record<string, string> } };
        config.config.Labels["org.opencontainers.image.description"] = hostile;
        const pusher = new TestPusher(env.registry.address);
        const configBytes = Buffer.from(JSON.stringify(config));
        manifest.config = { ...manifest.config, digest: await pusher.pushBlob(repository, configBytes), size: configBytes.length };
        const digest = await pusher.putManifest(repository, "hostile", mediaType, Buffer.from(JSON.stringify(manifest)));

        await dev.stack.setConfig("hello-world:tag", { value: "hostile" });
        const up = await dev.cli(["up", "--yes", "--skip-preview"]).result;
        assert.strictEqual(up.status, 0, up.output.slice(0, 5_000));
        assert.doesNotMatch(up.output, /[\u0000\u001b\u0007]/, "no raw control character reaches the terminal");
        const record = deployInfoAt(location);
        assert.strictEqual(record.digest, digest);
        assert.strictEqual(record.description, hostile, "deploy-info.yml holds the label exactly");
        assert.deepStrictEqual(env.runningDigests(composeProject(location)), [digest]);
        const outputs = await dev.stack.outputs();
        assert.doesNotMatch(JSON.stringify(outputs.deployed.value) + outputs.overview.value, /[\u0000\u001b\u0007]/);

        await dev.stack.setConfig("hello-world:tag", { value: env.images.a.tag });
        assert.strictEqual((await dev.cli(["up", "--yes", "--skip-preview"]).result).status, 0);
        await assertAgree(dev, location, env.images.a);
    });

    // Last: it stops the engine every other test uses.
    it("fails and says what to run when dockerd stops mid-deploy, and converges once it is back", async () => {
        const since = Date.now();
        await dev.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        const run = dev.cli(["up", "--yes", "--skip-preview"]);
        await hostSays(/waiting up to/, since);
        process.kill(env.dockerd.pid, "SIGKILL");
        const failed = await run.result;
        assert.notStrictEqual(failed.status, 0);
        assert.match(failed.output, /fix the host, then run pulumi up --refresh/);
        const refresh = await dev.cli(["refresh", "--yes"]).result;
        assert.notStrictEqual(refresh.status, 0, "a refresh cannot mistake a silent engine for an app that is gone");

        const restarted = await restartKilledDockerd(env.dockerd.dir);
        try {
            const up = await dev.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
            assert.strictEqual(up.status, 0, up.output);
            await assertAgree(dev, location, env.images.b);
            assert.strictEqual((await refreshChecks(dev)).status, 0);
            await dev.remove();
        } finally {
            await restarted.stop();
        }
    });
});
