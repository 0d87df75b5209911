// The HostDeployment provider, loaded from the text the engine stores, against a real SSH host, dockerd and
// registry: a deploy observes what it left, a refresh of an untouched host changes nothing, a hand change is
// drift that the next diff turns into a deploy, and delete takes the app down.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { renderCompose, renderEnvFile } from "../../components/model/compose";
import { HostDeploymentInputs, HostDeploymentOutputs } from "../../components/providers/host-deployment";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { buildObserveScript } from "../../components/remote/scripts";
import { runRemote } from "../../components/remote/ssh";
import { BuiltImage } from "../../local/app-repository";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { loadedProvider } from "../helpers/loaded-provider";

type Provider = Required<pulumi.dynamic.ResourceProvider<HostDeploymentInputs, HostDeploymentOutputs>>;

const template = fs.readFileSync(path.resolve(__dirname, "..", "..", "apps", "hello-world", "compose.yml"), "utf8");

// One scenario: the provider state carries from test to test.
describe("HostDeployment provider (loaded as the engine loads it) against a real host (one scenario, in order)", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let provider: Provider;
    let location: AppLocation;

    before(async () => {
        env = await startDeployEnvironment();
        provider = loadedProvider<Provider>("HostDeployment");
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    });
    after(async () => env?.stop());

    const inputsFor = (image: BuiltImage): HostDeploymentInputs => {
        const compose = renderCompose("apps/hello-world/compose.yml", template, `${env.registry.address}/${repository}@${image.digest}`);
        return {
            connection: { host: env.ssh.host, port: env.ssh.port, user: env.ssh.user, privateKey: env.ssh.privateKey, hostKey: env.ssh.hostKey },
            location, registry: env.registry.address, repository, platform: "linux/amd64", insecure: true,
            image: { digest: image.digest, tag: image.tag, description: image.description, created: null },
            compose: compose.content, services: compose.services, env: renderEnvFile({ PORT: String(env.port) }),
            deployedBy: "wander@casa", healthTimeoutSeconds: 30,
        };
    };
    const docker = (...args: string[]) => execFileSync("docker", args, {
        cwd: appDir(location), encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host }, stdio: ["ignore", "pipe", "ignore"],
    });

    let state: HostDeploymentOutputs;

    it("deploys and records what it observed on the host", async () => {
        const created = await provider.create(inputsFor(env.images.a));
        state = created.outs!;
        assert.deepStrictEqual(state.drift, []);
        assert.strictEqual(state.observed.record?.digest, env.images.a.digest);
        assert.deepStrictEqual(state.observed.containers, [{ service: "web", state: "running", digest: env.images.a.digest }]);
        assert.deepStrictEqual(state.written, state.observed.record);
    });

    it("reads an untouched host back exactly as the deploy left it, and diffs no change", async () => {
        const read = await provider.read(`id`, state);
        assert.deepStrictEqual(read.props, state);
        assert.strictEqual((await provider.diff("id", state, inputsFor(env.images.a))).changes, false);
    });

    it("reads the apps of a host that arrive together in one script, each as it reads alone, one's failure its own", async () => {
        // Never deployed here: its record is missing. On a host in no swarm: its observation fails, as it did alone.
        const missing = { ...state, location: { ...location, app: "never-deployed" } };
        const swarm = { ...state, location: { ...location, app: "swarm-app" }, target: "swarm" as const };
        const alone = await runRemote(swarm.connection, buildObserveScript(swarm.location, "swarm")).then(() => "", (error: Error) => error.message);
        assert.match(alone, new RegExp(`the script on ${env.ssh.user}@${env.ssh.host}:${env.ssh.port} exited with`));
        const [read, readMissing, readSwarm] = await Promise.allSettled([provider.read("id", state), provider.read("id", missing), provider.read("id", swarm)]);
        assert.deepStrictEqual(read.status === "fulfilled" && read.value.props, state);
        assert.deepStrictEqual(readMissing.status === "fulfilled" && readMissing.value.props!.drift, [
            `${env.ssh.user}@${env.ssh.host}:${appDir(missing.location)}/deploy-info.yml is missing`, "service web has no container"]);
        assert.strictEqual(readSwarm.status === "rejected" && (readSwarm.reason as Error).message, alone);
    });

    it("reports a container stopped by hand and a record edited by hand, and the next deploy converges", async () => {
        docker("compose", "-p", composeProject(location), "-f", "compose.yml", "--env-file", "/dev/null", "stop");
        const file = path.join(appDir(location), "deploy-info.yml");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/^deployed_by: .*$/m, 'deployed_by: "mallory@elsewhere"'));
        const read = (await provider.read("id", state)).props!;
        assert.deepStrictEqual(read.drift, ["deploy-info.yml was changed on the host (deployed_by)", "service web is exited"]);
        assert.strictEqual((await provider.diff("id", read, inputsFor(env.images.a))).changes, true);
        const updated = (await provider.update("id", read, inputsFor(env.images.a))).outs!;
        assert.deepStrictEqual(updated.drift, []);
        assert.deepStrictEqual(updated.observed.containers.map((c) => c.state), ["running"]);
        assert.strictEqual(updated.observed.record?.deployed_by, "wander@casa");
        state = updated;
    });

    it("reports another digest put there by hand", async () => {
        const other = inputsFor(env.images.b);
        await provider.update("id", state, other);
        const read = (await provider.read("id", state)).props!;
        assert.deepStrictEqual(read.drift, [
            `deploy-info.yml names ${env.images.b.digest}, the stack deployed ${env.images.a.digest}`,
            "deploy-info.yml was changed on the host (tag, description, deployed_at)",
            `compose.yml names ${env.images.b.digest}, the stack deployed ${env.images.a.digest}`,
            `service web runs ${env.images.b.digest}, the stack deployed ${env.images.a.digest}`,
        ]);
        state = (await provider.update("id", read, inputsFor(env.images.a))).outs!;
        assert.deepStrictEqual(state.drift, []);
        assert.strictEqual(state.observed.record?.digest, env.images.a.digest);
    });

    it("lists the host once for the reads of a pass, each app at most once, and never across a change of its own", async () => {
        const other = (app: string) => ({ ...state, location: { ...location, app } });
        const stopByHand = () => docker("compose", "-p", composeProject(location), "-f", "compose.yml", "--env-file", "/dev/null", "stop");
        const containers = async () => (await provider.read("id", state)).props!.observed.containers.map((c) => c.state);

        // Another app's read lists the host; this app's read a moment later, after a stop by hand, takes that listing.
        await provider.read("id", other("first-of-the-pass"));
        stopByHand();
        assert.deepStrictEqual(await containers(), ["running"], "the pass's listing, taken before the stop");
        assert.deepStrictEqual(await containers(), ["exited"], "an app read again is read afresh");

        // A listing taken before this process changes the host serves no read after.
        await provider.read("id", other("second-of-the-pass"));
        state = (await provider.update("id", state, inputsFor(env.images.a))).outs!;
        assert.deepStrictEqual(state.drift, []);
        const read = (await provider.read("id", state)).props!;
        assert.deepStrictEqual([read.observed.containers.map((c) => c.state), read.drift], [["running"], []]);
    });

    it("takes the app down on delete", async () => {
        await provider.delete("id", state);
        assert.deepStrictEqual(env.runningDigests(composeProject(location)), []);
        const read = (await provider.read("id", state)).props!;
        assert.deepStrictEqual(read.drift, [`${env.ssh.user}@${env.ssh.host}:${appDir(location)}/deploy-info.yml is missing`,
            "service web has no container"]);
    });
});
