// A stack made by the previous release (main before the move to Node.js 24 and Pulumi 3.276: Node.js 20,
// @pulumi/pulumi 3.248.0 and its CLI), taken over by this one as an operator's upgrade does: same state, same stack
// settings file, this checkout's program, CLI and Node.js. `pulumi preview` shows no change, and `pulumi up` goes
// through touching nothing: no resource replaced or updated, the host's record, history and container as they were.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { appDir, composeProject } from "../../components/remote/layout";
import { openWorkspace } from "../../local/pulumi-workspace";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { preparePreviousRelease, previousRelease, Release } from "../helpers/previous-release";

const passphrase = "e2e-test-passphrase";

describe(`a stack made by the previous release (${previousRelease.commit}: Node.js 20, Pulumi ${previousRelease.pulumi}), under this one`, function () {
    // The first run on a machine sets the release up: npm ci and a build of its Go tools.
    this.timeout(1_800_000);
    let release: Release;
    let env: DeployEnvironment;
    let temp: string;
    let workDir: string;
    let stateDir: string;
    let stack: Stack;
    let location: { app: string; workspace: string; org: string; deployRoot: string };
    /** What the host holds for the app, as the previous release left it. */
    let leftByPrevious: { record: string; history: string; containers: string };

    const hostFile = (name: string) => fs.readFileSync(path.join(appDir(location), name), "utf8");
    const containers = () => execFileSync("docker", ["ps", "-q", "--no-trunc", "--filter", `label=com.docker.compose.project=${composeProject(location)}`],
        { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } }).trim().split("\n").sort().join(" ");
    const hostNow = () => ({ record: hostFile("deploy-info.yml"), history: hostFile("deploy-history.yml"), containers: containers() });

    /** The previous release's pulumi CLI in the stack's working copy; the value on stdin when given. */
    const previousCli = (args: string[], input?: string) => {
        const result = spawnSync(release.pulumi, [...args, "--non-interactive", "--color", "never"], {
            cwd: workDir, input, encoding: "utf8",
            env: { ...release.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: passphrase },
        });
        assert.strictEqual(result.status, 0, `pulumi ${args.join(" ")} (previous release):\n${result.stdout}${result.stderr}`);
        return result.stdout;
    };

    before(async () => {
        release = preparePreviousRelease();
        env = await startDeployEnvironment();
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-previous-"));
        workDir = path.join(temp, "work");
        stateDir = path.join(temp, "state");
        fs.mkdirSync(workDir);
        fs.mkdirSync(stateDir);
        // The working copy as the previous release's local/pulumi-workspace.ts wrote it: its Pulumi.yaml, `main`
        // pointing at its program.
        const project = YAML.parse(fs.readFileSync(path.join(release.root, "Pulumi.yaml"), "utf8"));
        fs.writeFileSync(path.join(workDir, "Pulumi.yaml"), YAML.stringify({ ...project, main: release.root }));
        previousCli(["stack", "init", "dev"]);
        for (const [key, { value, secret }] of Object.entries(env.stackConfig(env.images.a.tag))) {
            previousCli(["config", "set", "--path", key, ...(secret ? ["--secret"] : [])], value);
        }
        previousCli(["up", "--yes", "--skip-preview"]);
        leftByPrevious = hostNow();
        assert.match(leftByPrevious.record, new RegExp(`digest: "?${env.images.a.digest}`), "the previous release deployed A");
    });
    after(async () => {
        try {
            if (stack) {
                await stack.destroy();
            }
        } finally {
            if (temp) {
                fs.rmSync(temp, { recursive: true, force: true });
            }
            await env?.stop();
        }
    });

    it("shows no change on pulumi preview", async () => {
        // This checkout's Pulumi.yaml and program, this CLI; the stack's settings file and state as they were.
        const workspace = await openWorkspace({ workDir, stateDir, passphrase });
        stack = await Stack.select("dev", workspace);
        const preview = await stack.preview({ diff: true, expectNoChanges: true, color: "never" });
        assert.deepStrictEqual(Object.keys(preview.changeSummary), ["same"], preview.stdout);
    });

    it("goes through pulumi up with nothing replaced or redeployed", async () => {
        assert.ok(stack, "the stack was opened by the preview");
        const up = await stack.up({ color: "never" });
        assert.strictEqual(up.summary.result, "succeeded");
        assert.deepStrictEqual(Object.keys(up.summary.resourceChanges ?? {}), ["same"], up.stdout);
        assert.deepStrictEqual(hostNow(), leftByPrevious, "the host's record, history and container as the previous release left them");
        const outputs = await stack.outputs();
        assert.strictEqual(outputs.pinned.value["hello-world"].digest, env.images.a.digest);
    });
});
