// A `pulumi up` killed -9 mid-deploy, as an operator's kill or a CI runner's timeout does, under the real engine
// against a real SSH host, dockerd and Registry v3: the dynamic provider it started (the pulumi-resource-pulumi-nodejs
// shim and its node process) must not outlive it by more than a few seconds. The engine gives every plugin a stdin
// pipe that ends when the engine does, and the provider exits on it (patches/).
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as path from "path";
import { appDir } from "../../components/remote/layout";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";

/** How long the provider may outlive the engine: its exit, and the shim's, once stdin ends. */
const graceMs = 5_000;

describe("a pulumi up killed -9 mid-deploy, under the real Pulumi engine", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let dev: TestStack;
    let lockFile: string;

    before(async () => {
        env = await startDeployEnvironment();
        lockFile = path.join(appDir({ app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot }), ".deploy.lock");
        dev = await createTestStack("dev", env.stackConfig(env.images.a.tag));
        await dev.stack.up({ color: "never" });
    });
    after(async () => {
        try {
            await dev?.remove();
        } finally {
            await env?.stop();
        }
    });

    /** The dynamic-provider processes of the session `sid`, as `pid args`. */
    const providersIn = (sid: number): string[] => spawnSync("ps", ["-s", String(sid), "-o", "pid=,args="], { encoding: "utf8" }).stdout
        .split("\n").map((line) => line.trim()).filter((line) => /pulumi-resource-pulumi-nodejs|cmd\/dynamic-provider/.test(line));
    /** Whether a deploy of the app holds its lock on the host now. */
    const deploying = () => spawnSync("flock", ["-n", lockFile, "true"]).status !== 0;

    it("leaves no dynamic-provider process running a few seconds after", async () => {
        await dev.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        const run = dev.cli(["up", "--yes", "--skip-preview"]);
        const sid = run.child.pid!;
        let recovered: Awaited<typeof run.result>;
        try {
            for (let waited = 0; !deploying(); waited += 20) {
                assert.ok(waited < 120_000, "the deploy never started on the host");
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            assert.notDeepStrictEqual(providersIn(sid), [], "the run's dynamic provider is running while it deploys");
            run.child.kill("SIGKILL");
            await run.result;
            const killedAt = Date.now();
            while (providersIn(sid).length > 0 && Date.now() - killedAt < graceMs) {
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            assert.deepStrictEqual(providersIn(sid), [], `the run's dynamic provider outlived the engine by ${graceMs / 1000} s`);
        } finally {
            // The deploy on the host is not the provider's child: it runs to its record or its restore.
            execFileSync("flock", [lockFile, "true"]);
            await run.reap();
            // What docs/faults.md says after an interruption, so that the stack is whole again to be removed.
            await dev.cli(["cancel", "--yes"]).result;
            recovered = await dev.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
        }
        assert.strictEqual(recovered.status, 0, recovered.output);
    });
});
