// A stack deployed while the providers' code was serialized into the state (the last commit that did so), taken
// over by this checkout, whose providers are loaded: preview and up change nothing and reach neither host nor
// registry, refresh replaces nothing; the next tag change records the loaded providers' few lines; and a record
// written by later providers than this checkout's is refused, under the real engine, with what to do.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Deployment, Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";
import { appDir, composeProject } from "../../components/remote/layout";
import { ProviderType, providerText } from "../../components/pulumi/dynamic-resource";
import { providerInterface } from "../../components/providers/interface-version";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { createTestStack, TestStack } from "../helpers/pulumi-stack";

/** The last commit of main whose dynamic resources serialized their providers into the state. */
const lastSerialized = "0720312e0a1992f69c4816ea89beb4040a81ad81";
const projectRoot = path.resolve(__dirname, "..", "..");

interface StateResource {
    type: string;
    urn: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

const resourcesOf = (state: Deployment) => (state.deployment as { resources: StateResource[] }).resources;
const dynamicType = (resource: StateResource) => resource.type.match(/^pulumi-nodejs:dynamic\/iac:(\w+)$/)?.[1] as ProviderType | undefined;

/** That commit's tree, runnable with this checkout's node_modules. */
function checkoutOf(commit: string, dir: string): void {
    let tar: Buffer;
    try {
        tar = execFileSync("git", ["-C", projectRoot, "archive", "--format=tar", commit], { maxBuffer: 256 << 20 });
    } catch (error) {
        throw new Error(`this test deploys with commit ${commit} of the project, which this clone lacks ` +
            `(a shallow clone?): git fetch --unshallow. ${(error as Error).message}`);
    }
    execFileSync("tar", ["-x", "-C", dir], { input: tar });
    fs.symlinkSync(fs.realpathSync(path.join(projectRoot, "node_modules")), path.join(dir, "node_modules"));
}

describe("a stack deployed with serialized providers, taken over by loaded ones (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let testStack: TestStack;
    let stack: Stack;
    let oldCheckout: string;
    let cacheHome: string;
    let previousCache: string | undefined;
    let deployInfoFile: string;
    let serializedStateSize: number;

    /** Which checkout the stack's Pulumi.yaml runs. */
    const runProgramOf = (root: string) => {
        const file = path.join(testStack.workDir, "Pulumi.yaml");
        const project = YAML.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
        fs.writeFileSync(file, YAML.stringify({ ...project, main: path.relative(testStack.workDir, root) }));
    };
    const cli = async (args: string[]) => {
        const run = await testStack.cli(args).result;
        assert.strictEqual(run.status, 0, run.output);
        return run.output;
    };
    let project: string;
    const running = () => env.runningDigests(project);

    before(async () => {
        // The old code keeps its serialized texts in this cache: a temp one, so this run neither reads nor leaves any.
        cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-cache-"));
        previousCache = process.env.XDG_CACHE_HOME;
        process.env.XDG_CACHE_HOME = cacheHome;
        oldCheckout = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-serialized-"));
        checkoutOf(lastSerialized, oldCheckout);
        env = await startDeployEnvironment();
        const location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        deployInfoFile = path.join(appDir(location), "deploy-info.yml");
        project = composeProject(location);
        testStack = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "15" } });
        stack = testStack.stack;
    });
    after(async () => {
        try {
            await testStack?.remove();
        } finally {
            await env?.stop();
            fs.rmSync(oldCheckout, { recursive: true, force: true });
            if (previousCache === undefined) {
                delete process.env.XDG_CACHE_HOME;
            } else {
                process.env.XDG_CACHE_HOME = previousCache;
            }
            fs.rmSync(cacheHome, { recursive: true, force: true });
        }
    });

    it("deploys with the serialized providers of the last commit that had them", async () => {
        runProgramOf(oldCheckout);
        await stack.up({ color: "never" });
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        const state = await stack.exportStack();
        const dynamic = resourcesOf(state).filter(dynamicType);
        assert.deepStrictEqual(dynamic.map(dynamicType).sort(), ["HostDeployment", "ImageDigest", "ImageOverview", "StackIdentity"]);
        for (const resource of dynamic) {
            assert.ok(String(resource.outputs!.__provider).includes("exports.handler"), `${resource.urn} holds a serialized provider`);
            assert.notStrictEqual(resource.outputs!.__provider, providerText(dynamicType(resource)!));
        }
        serializedStateSize = JSON.stringify(state).length;
    });

    it("previews and runs up with this checkout changing nothing, asking neither host nor registry", async () => {
        runProgramOf(projectRoot);
        const record = fs.readFileSync(deployInfoFile, "utf8");
        const sessions = env.ssh.sessionCount();
        const requests = env.registry.requestCount();
        await cli(["preview", "--expect-no-changes"]);
        const result = await stack.up({ color: "never" });
        assert.deepStrictEqual(Object.keys(result.summary.resourceChanges ?? {}).sort(), ["same"], result.stdout);
        assert.strictEqual(env.ssh.sessionCount(), sessions, "no SSH session: nothing deployed");
        assert.strictEqual(env.registry.requestCount(), requests, "no registry request");
        assert.strictEqual(fs.readFileSync(deployInfoFile, "utf8"), record);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
    });

    it("refreshes with no change, and previews none after", async () => {
        const record = fs.readFileSync(deployInfoFile, "utf8");
        await cli(["refresh", "--expect-no-changes", "--yes"]);
        await cli(["preview", "--expect-no-changes"]);
        assert.strictEqual(fs.readFileSync(deployInfoFile, "utf8"), record);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
    });

    it("records the loaded providers' few lines and this interface version on the next tag change", async () => {
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
        const loadedStateSize = JSON.stringify(state).length;
        console.log(`      state: ${serializedStateSize} bytes with serialized providers, ${loadedStateSize} after the tag change`);
        assert.ok(loadedStateSize < serializedStateSize, `${loadedStateSize} < ${serializedStateSize}`);
        await cli(["refresh", "--expect-no-changes", "--yes"]);
    });

    it("refuses a record written by later providers, saying to pull, and changes nothing", async () => {
        const state = await stack.exportStack();
        const newer = structuredClone(state);
        // As later providers would leave it: every record they wrote carries their version.
        const stamped = resourcesOf(newer).filter((r) => r.outputs?.providerInterface !== undefined);
        assert.strictEqual(stamped.length, 3, "ImageDigest, HostDeployment and ImageOverview were written by this checkout");
        for (const resource of stamped) {
            resource.outputs!.providerInterface = providerInterface + 1;
        }
        await stack.importStack(newer);
        const sessions = env.ssh.sessionCount();
        try {
            await stack.setConfig("hello-world:tag", { value: env.images.a.tag });
            await assert.rejects(stack.up({ color: "never" }), (error: Error) => {
                assert.match(error.message, new RegExp(`was last written by providers of interface version ${providerInterface + 1}`));
                assert.match(error.message, /git pull && npm ci/);
                return true;
            });
            assert.strictEqual(env.ssh.sessionCount(), sessions);
            assert.deepStrictEqual(running(), [env.images.b.digest]);
        } finally {
            await stack.importStack(state);
        }
    });
});
