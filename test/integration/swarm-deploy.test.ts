// The host scripts with a swarm target, run over a real SSH host whose dockerd is a single-node Swarm manager
// on loopback: a stack pinned by digest, rolled by Swarm, gated on health and the update's end, recorded only
// then; Swarm's own rollback of an unhealthy image; a service changed by hand; moving between compose and swarm.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { buildContainerImagesScript, parseContainerImages } from "../../components/cleanup/host-references";
import { parseDeployInfo } from "../../components/model/deploy-info";
import { AppLocation, DeployTarget, appDir, composeProject, swarmStack } from "../../components/remote/layout";
import { driftOf, parseObservation } from "../../components/remote/observation";
import { buildObserveScript, buildRemoveScript } from "../../components/remote/scripts";
import { BuiltImage } from "../../local/app-repository";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { DeployRequestOptions, deployRequest, helloWorldTemplate, ownerOf } from "../helpers/deploy-request";
import { RemoteResult, runOverSsh } from "../helpers/ssh";

describe("host scripts with a swarm target, over a real SSH host and a single-node swarm (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let location: AppLocation;

    before(async () => {
        env = await startDeployEnvironment({ swarm: true });
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    });
    after(async () => env?.stop());

    const image = () => `${env.registry.address}/${repository}`;
    const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } }).trim();

    function deploy(built: BuiltImage, options: Partial<DeployRequestOptions> = {}): Promise<RemoteResult> {
        const request = deployRequest(built, {
            registry: env.registry.address, location, port: env.port, target: "swarm", healthTimeoutSeconds: 90,
            // `'` and `$` reach the container exactly: the swarm env file is literal.
            environment: { NOTE: "it's $HOME" }, ...options,
        });
        return runOverSsh(env.ssh, request.script, request.stdin);
    }

    const observe = async (at: AppLocation = location, target: DeployTarget = "swarm") => {
        const result = await runOverSsh(env.ssh, buildObserveScript(at, target));
        assert.strictEqual(result.status, 0, result.stderr);
        return parseObservation(result.stdout, image(), "", appDir(at));
    };
    const deployInfoText = (at: AppLocation = location) => fs.readFileSync(path.join(appDir(at), "deploy-info.yml"), "utf8");
    const history = () => YAML.parseAllDocuments(fs.readFileSync(path.join(appDir(location), "deploy-history.yml"), "utf8"))
        .map((doc) => doc.toJS() as Record<string, string>);
    const serviceVersion = () => docker("service", "inspect", "--format", "{{.Version.Index}}", `${swarmStack(location)}_web`);

    it("deploys A as a stack pinned by digest, healthy on every task, and records it only then", async () => {
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /waiting up to 90 s for Swarm to run it healthy on every task and finish the update/);
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(`version <code id="version">${env.images.a.tag}</code>`));
        assert.strictEqual(docker("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", `${swarmStack(location)}_web`),
            `${image()}@${env.images.a.digest}`, "Swarm keeps the pinned reference, never re-resolved");
        const container = docker("ps", "-q", "--filter", `label=com.docker.stack.namespace=${swarmStack(location)}`);
        assert.match(docker("exec", container, "env"), /^NOTE=it's \$HOME$/m);

        const info = parseDeployInfo(deployInfoText(), "deploy-info.yml");
        assert.deepStrictEqual({ ...info, deployed_at: "" }, {
            app: "hello-world", workspace: "dev", image: image(), tag: env.images.a.tag, digest: env.images.a.digest,
            description: "initial deploy", deployed_at: "", deployed_by: "wander@casa",
        });
        const observed = parseObservation(result.stdout, image(), env.images.a.digest, "");
        assert.deepStrictEqual(observed.record, info, "the script reports the record it wrote");
        assert.deepStrictEqual(observed.containers, [{ service: "web", state: "running", digest: env.images.a.digest }]);
        assert.deepStrictEqual(observed.specs, [{ service: "web", digest: env.images.a.digest, replicas: 1 }]);
        assert.deepStrictEqual(driftOf(observed, { record: info, services: ["web"] }), []);
    });

    it("does nothing, and updates no service, when the target already runs", async () => {
        const [before, version] = [deployInfoText(), serviceVersion()];
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /already running and recorded; nothing to do/);
        assert.strictEqual(deployInfoText(), before);
        assert.strictEqual(serviceVersion(), version, "no service update");
    });

    it("rolls forward to B and back to A", async () => {
        const toB = await deploy(env.images.b);
        assert.strictEqual(toB.status, 0, toB.stderr);
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), [env.images.b.digest]);
        assert.match(await env.page(), new RegExp(env.images.b.tag));
        const toA = await deploy(env.images.a);
        assert.strictEqual(toA.status, 0, toA.stderr);
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), [env.images.a.digest]);
        assert.deepStrictEqual(history().map((h) => h.digest), [env.images.a.digest, env.images.b.digest, env.images.a.digest]);
    });

    it("fails when Swarm rolls an unhealthy C back, says why, and leaves A running and recorded", async () => {
        const before = deployInfoText();
        const result = await deploy(env.images.c);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /Swarm rolled back the update of .*_web/);
        assert.match(result.stderr, /unhealthy container/, "the tasks' errors are shown");
        assert.match(result.stderr, /the previous deployment is running again/);
        assert.match(result.stderr, /deploy-info.yml left as it was/);
        assert.strictEqual(deployInfoText(), before);
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
        assert.strictEqual(history().length, 3);
    });

    it("fails an update that never converges after the health timeout, and deploys the previous stack again", async () => {
        const before = deployInfoText();
        // No node has this label: the new task stays pending.
        const unplaceable = helloWorldTemplate.replace("    init: true\n", "    init: true\n    deploy:\n      placement:\n        constraints: [node.labels.iac-test == nowhere]\n");
        const result = await deploy(env.images.b, { template: unplaceable, healthTimeoutSeconds: 40 });
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /not converged within 40 s: /);
        assert.match(result.stderr, /the previous deployment is running again/);
        assert.strictEqual(deployInfoText(), before);
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
    });

    it("sees a service changed by hand, and the next deploy converges it", async () => {
        docker("service", "update", "--quiet", "--image", `${image()}@${env.images.b.digest}`, `${swarmStack(location)}_web`);
        const observed = await observe();
        const drift = driftOf(observed, { record: parseDeployInfo(deployInfoText(), ""), services: ["web"] });
        assert.ok(drift.includes(`service web's spec names ${env.images.b.digest}, the stack deployed ${env.images.a.digest}`), drift.join("; "));
        assert.ok(drift.includes(`service web runs ${env.images.b.digest}, the stack deployed ${env.images.a.digest}`), drift.join("; "));
        // Cleanup keeps both: what the service runs now and what a rollback would return it to.
        const seen = await runOverSsh(env.ssh, buildContainerImagesScript());
        assert.strictEqual(seen.status, 0, seen.stderr);
        const references = parseContainerImages(seen.stdout);
        for (const digest of [env.images.a.digest, env.images.b.digest]) {
            assert.ok(references.includes(`${image()}@${digest}`), `${digest} in ${references.join(" ")}`);
        }

        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), [env.images.a.digest]);
        assert.deepStrictEqual(driftOf(await observe(), { record: parseDeployInfo(deployInfoText(), ""), services: ["web"] }), []);
    });

    it("moves an app from compose to swarm and back, one restart each way", async () => {
        const moving: AppLocation = { ...location, org: "moving" };
        const port = await freePort();
        const page = async () => (await fetch(`http://127.0.0.1:${port}/`)).text();
        const onCompose = await deploy(env.images.a, { target: "compose", location: moving, port });
        assert.strictEqual(onCompose.status, 0, onCompose.stderr);
        assert.match(await page(), new RegExp(env.images.a.tag));

        const toSwarm = await deploy(env.images.b, { location: moving, port });
        assert.strictEqual(toSwarm.status, 0, toSwarm.stderr);
        assert.match(toSwarm.stderr, /moving from compose to swarm: stopping the compose deployment/);
        assert.deepStrictEqual(env.runningDigests(composeProject(moving)).filter(Boolean), [env.images.b.digest],
            "only the stack's task runs (the compose project's containers are gone)");
        assert.strictEqual(docker("ps", "-aq", "--filter", `label=com.docker.compose.project=${composeProject(moving)}`), "");
        assert.match(await page(), new RegExp(env.images.b.tag));

        const back = await deploy(env.images.a, { target: "compose", location: moving, port });
        assert.strictEqual(back.status, 0, back.stderr);
        assert.match(back.stderr, /moving from swarm to compose: stopping the swarm deployment/);
        assert.strictEqual(docker("service", "ls", "-q", "--filter", `label=com.docker.stack.namespace=${swarmStack(moving)}`), "");
        assert.match(await page(), new RegExp(env.images.a.tag));
        const removed = await runOverSsh(env.ssh, buildRemoveScript(moving, ownerOf(moving)));
        assert.strictEqual(removed.status, 0, removed.stderr);
    });

    it("removes the stack and records removed_at", async () => {
        const result = await runOverSsh(env.ssh, buildRemoveScript(location, ownerOf(location)));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(docker("service", "ls", "-q", "--filter", `label=com.docker.stack.namespace=${swarmStack(location)}`), "");
        assert.deepStrictEqual(env.runningDigests(swarmStack(location)), []);
        assert.ok(!fs.existsSync(path.join(appDir(location), "deploy-info.yml")));
        const last = history().at(-1)!;
        assert.strictEqual(last.digest, env.images.a.digest);
        assert.match(last.removed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.deepStrictEqual((await observe()).containers, []);
    });
});
