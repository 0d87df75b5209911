// A stack made by the previous release (main before the move to Node.js 24 and Pulumi 3.276: Node.js 20,
// @pulumi/pulumi 3.248.0 and its CLI, and the last providers serialized into the state), taken over by this one as
// an operator's upgrade does: same state, same stack settings file, this checkout's program, CLI and Node.js, whose
// providers are loaded. Preview and up delete only the overview's retired resource and reach neither host nor
// registry, refresh replaces nothing; the next tag change records the loaded providers' few lines, and with them the
// repository's listing the app's pin now keeps (until then its reads run the serialized providers, which list
// nothing); and a record written by later providers than this checkout's is refused, under the real engine, with
// what to do.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap, Deployment, Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { appDir, composeProject } from "../../components/remote/layout";
import { ProviderType, providerText } from "../../components/pulumi/dynamic-resource";
import { providerInterface } from "../../components/providers/interface-version";
import { openWorkspace } from "../../local/pulumi-workspace";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { preparePreviousRelease, previousRelease, Release } from "../helpers/previous-release";

const passphrase = "e2e-test-passphrase";

interface StateResource {
    type: string;
    urn: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

const resourcesOf = (state: Deployment) => (state.deployment as { resources: StateResource[] }).resources;
const dynamicType = (resource: StateResource) => resource.type.match(/^pulumi-nodejs:dynamic\/iac:(\w+)$/)?.[1] as ProviderType | undefined;

describe(`a stack made by the previous release (${previousRelease.commit}: Node.js 20, Pulumi ${previousRelease.pulumi}, serialized providers), under this one (one scenario, in order)`, function () {
    // The first run on a machine sets the release up: npm ci and a build of its Go tools.
    this.timeout(1_800_000);
    let release: Release;
    let env: DeployEnvironment;
    let temp: string;
    let workDir: string;
    let stateDir: string;
    let cacheHome: string;
    let previousCache: string | undefined;
    let stack: Stack;
    let location: { app: string; workspace: string; org: string; deployRoot: string };
    /** What the host, the SSH server and the registry held or had seen when the previous release was done. */
    let leftByPrevious: { host: { record: string; history: string; containers: string }; sessions: number; requests: number };
    let serializedStateSize: number;

    const hostFile = (name: string) => fs.readFileSync(path.join(appDir(location), name), "utf8");
    const containers = () => execFileSync("docker", ["ps", "-q", "--no-trunc", "--filter", `label=com.docker.compose.project=${composeProject(location)}`],
        { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } }).trim().split("\n").sort().join(" ");
    const hostState = () => ({ record: hostFile("deploy-info.yml"), history: hostFile("deploy-history.yml"), containers: containers() });
    const hostNow = () => ({ host: hostState(), sessions: env.ssh.sessionCount(), requests: env.registry.requestCount() });
    const running = () => env.runningDigests(composeProject(location));

    /** The previous release's pulumi CLI in the stack's working copy; the value on stdin when given. */
    const previousCli = (args: string[], input?: string) => {
        const result = spawnSync(release.pulumi, [...args, "--non-interactive", "--color", "never"], {
            cwd: workDir, input, encoding: "utf8", maxBuffer: 64 << 20,
            // Its serialized provider texts are cached under XDG_CACHE_HOME: a temp one, so the run neither reads nor leaves any.
            env: { ...release.env, XDG_CACHE_HOME: cacheHome, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: passphrase },
        });
        assert.strictEqual(result.status, 0, `pulumi ${args.join(" ")} (previous release):\n${result.stdout}${result.stderr}`);
        return result.stdout;
    };

    before(async () => {
        release = preparePreviousRelease();
        temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-previous-"));
        workDir = path.join(temp, "work");
        stateDir = path.join(temp, "state");
        cacheHome = path.join(temp, "cache");
        fs.mkdirSync(workDir);
        fs.mkdirSync(stateDir);
        fs.mkdirSync(cacheHome);
        // This checkout's registry cache too, so that what the registry is asked is what the providers ask.
        previousCache = process.env.XDG_CACHE_HOME;
        process.env.XDG_CACHE_HOME = cacheHome;
        env = await startDeployEnvironment();
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    });
    after(async () => {
        try {
            if (stack) {
                await stack.destroy();
            }
        } finally {
            await env?.stop();
            if (previousCache === undefined) {
                delete process.env.XDG_CACHE_HOME;
            } else {
                process.env.XDG_CACHE_HOME = previousCache;
            }
            if (temp) {
                fs.rmSync(temp, { recursive: true, force: true });
            }
        }
    });

    it("deploys with the previous release's own toolchain, its providers serialized into the state", async () => {
        // The working copy as the previous release's local/pulumi-workspace.ts wrote it: its Pulumi.yaml, `main`
        // pointing at its program.
        const project = YAML.parse(fs.readFileSync(path.join(release.root, "Pulumi.yaml"), "utf8"));
        fs.writeFileSync(path.join(workDir, "Pulumi.yaml"), YAML.stringify({ ...project, main: release.root }));
        previousCli(["stack", "init", "dev"]);
        const config: ConfigMap = { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "15" } };
        for (const [key, { value, secret }] of Object.entries(config)) {
            previousCli(["config", "set", "--path", key, ...(secret ? ["--secret"] : [])], value);
        }
        previousCli(["up", "--yes", "--skip-preview"]);
        leftByPrevious = hostNow();
        assert.match(leftByPrevious.host.record, new RegExp(`digest: "?${env.images.a.digest}`), "the previous release deployed A");
        assert.deepStrictEqual(running(), [env.images.a.digest]);

        // From here on this checkout's Pulumi.yaml and program, this CLI; the stack's settings file and state as they were.
        const workspace = await openWorkspace({ workDir, stateDir, passphrase });
        stack = await Stack.select("dev", workspace);
        const state = await stack.exportStack();
        const dynamic = resourcesOf(state).filter(dynamicType);
        assert.deepStrictEqual(dynamic.map(dynamicType).sort(), ["HostDeployment", "ImageDigest", "ImageOverview", "StackIdentity"]);
        for (const resource of dynamic) {
            assert.ok(String(resource.outputs!.__provider).includes("exports.handler"), `${resource.urn} holds a serialized provider`);
            assert.notStrictEqual(resource.outputs!.__provider, providerText(dynamicType(resource)!));
        }
        serializedStateSize = JSON.stringify(state).length;
    });

    it("previews no change but the retired overview resource's deletion", async () => {
        assert.ok(stack, "the stack was made by the previous release");
        const preview = await stack.preview({ diff: true, color: "never" });
        assert.deepStrictEqual(preview.changeSummary.delete, 1, preview.stdout);
        assert.deepStrictEqual(Object.keys(preview.changeSummary).sort(), ["delete", "same"], preview.stdout);
        assert.match(preview.stdout, /- pulumi-nodejs:dynamic\/iac:ImageOverview: \(delete\)/);
    });

    it("goes through pulumi up touching nothing but that deletion: no SSH session, no registry request, the host as it was", async () => {
        assert.ok(stack, "the stack was made by the previous release");
        const up = await stack.up({ color: "never" });
        assert.strictEqual(up.summary.result, "succeeded");
        assert.strictEqual(up.summary.resourceChanges?.delete, 1, up.stdout);
        assert.deepStrictEqual(Object.keys(up.summary.resourceChanges ?? {}).sort(), ["delete", "same"], up.stdout);
        // Since the previous release's up: neither this preview nor this up opened a session or asked the registry.
        assert.deepStrictEqual(hostNow(), leftByPrevious, "no SSH session, no registry request, the host's record, history and container as the previous release left them");
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        const outputs = await stack.outputs();
        assert.strictEqual(outputs.pinned.value["hello-world"].digest, env.images.a.digest);
        // Until a refresh lists the repository, the pin's own tag, marked, and what brings the others.
        const tagsOf = (overview: string) => overview.split("\n").filter((line) => /^[→ ] \w/.test(line)).map((line) => line.slice(0, 1) + line.slice(2).split(/\s+/)[0]);
        assert.deepStrictEqual(tagsOf(outputs.overview.value), [`→${env.images.a.tag}`], outputs.overview.value);
        assert.match(outputs.overview.value, /the repository's other tags are listed by the next `pulumi refresh`/);
    });

    it("refreshes with no change, and previews none after", async () => {
        assert.ok(stack, "the stack was made by the previous release");
        await stack.refresh({ expectNoChanges: true, color: "never" });
        await stack.preview({ expectNoChanges: true, color: "never" });
        assert.deepStrictEqual(hostState(), leftByPrevious.host, "the host's record, history and container as the previous release left them");
        assert.deepStrictEqual(running(), [env.images.a.digest]);
    });

    it("records the loaded providers' few lines and this interface version on the next tag change", async () => {
        assert.ok(stack, "the stack was made by the previous release");
        await stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        const result = await stack.up({ color: "never" });
        assert.deepStrictEqual(Object.keys(result.summary.resourceChanges ?? {}).sort(), ["same", "update"], result.stdout);
        assert.deepStrictEqual(running(), [env.images.b.digest]);
        const state = await stack.exportStack();
        for (const resource of resourcesOf(state).filter((r) => dynamicType(r) && dynamicType(r) !== "StackIdentity")) {
            const text = providerText(dynamicType(resource)!);
            assert.strictEqual(resource.inputs!.__provider, text, resource.urn);
            assert.strictEqual(resource.outputs!.__provider, text, resource.urn);
            assert.strictEqual(resource.outputs!.providerInterface, providerInterface, resource.urn);
        }
        const images = (await stack.outputs()).images.value["hello-world"].tags as { tag: string; deployed: boolean }[];
        assert.deepStrictEqual(images.filter((row) => row.deployed).map((row) => row.tag), [env.images.b.tag]);
        assert.ok(images.some((row) => row.tag === env.images.a.tag), JSON.stringify(images));
        const loadedStateSize = JSON.stringify(state).length;
        console.log(`      state: ${serializedStateSize} bytes with serialized providers, ${loadedStateSize} after the tag change`);
        assert.ok(loadedStateSize < serializedStateSize, `${loadedStateSize} < ${serializedStateSize}`);
        await stack.refresh({ expectNoChanges: true, color: "never" });
    });

    it("refuses a record written by later providers, saying to pull, and changes nothing", async () => {
        assert.ok(stack, "the stack was made by the previous release");
        const state = await stack.exportStack();
        const newer = structuredClone(state);
        // As later providers would leave it: every record they wrote carries their version.
        const stamped = resourcesOf(newer).filter((r) => r.outputs?.providerInterface !== undefined);
        assert.strictEqual(stamped.length, 2, "ImageDigest and HostDeployment were written by this checkout");
        for (const resource of stamped) {
            resource.outputs!.providerInterface = providerInterface + 1;
        }
        await stack.importStack(newer);
        const sessions = env.ssh.sessionCount();
        const onHost = hostState();
        try {
            await stack.setConfig("hello-world:tag", { value: env.images.a.tag });
            await assert.rejects(stack.up({ color: "never" }), (error: Error) => {
                assert.match(error.message, new RegExp(`was last written by providers of interface version ${providerInterface + 1}`));
                assert.match(error.message, /git pull && npm ci/);
                return true;
            });
            assert.strictEqual(env.ssh.sessionCount(), sessions, "no SSH session");
            assert.deepStrictEqual(hostState(), onHost, "the host's record, history and container as they were");
            assert.deepStrictEqual(running(), [env.images.b.digest]);
        } finally {
            await stack.importStack(state);
        }
    });
});
