// The swarm deploy across two nodes: the manager (the SSH host's engine) and a worker in a network namespace of
// the test's own, 2 replicas of hello-world one per node on each node's host network. The deploy goes through
// the same host scripts as HostDeployment's: a rolling update, Swarm's rollback of an unhealthy image across
// both nodes (the deploy fails, nothing recorded), and a rollback by deploying the earlier image again. The
// registry takes only its one user: the manager logs in and hands its login to the worker that pulls.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseDeployInfo } from "../../components/model/deploy-info";
import { AppLocation, appDir, swarmStack } from "../../components/remote/layout";
import { buildRemoveScript } from "../../components/remote/scripts";
import { BuiltImage } from "../../local/app-repository";
import { dockerCli, waitFor } from "../../local/swarm";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { deployRequest, helloWorldTemplate, ownerOf } from "../helpers/deploy-request";
import { runOverSsh } from "../helpers/ssh";

// One task per node (they share each node's host network, so two on one node would want one port).
const spread = helloWorldTemplate.replace("    init: true\n",
    "    init: true\n    deploy:\n      replicas: 2\n      placement:\n        max_replicas_per_node: 1\n      update_config:\n        parallelism: 1\n");

describe("the swarm deploy across two nodes, a worker in a network namespace (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let location: AppLocation;

    before(async () => {
        env = await startDeployEnvironment({ swarm: "two-node", registryAuth: { username: "deployer", password: "it's a $ecret" } });
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    });
    after(async () => env?.stop());

    const deploy = (built: BuiltImage) => {
        const request = deployRequest(built, {
            registry: env.registry.address, location, port: env.port, target: "swarm", template: spread, healthTimeoutSeconds: 120,
            registryAuth: env.registryAuth,
        });
        return runOverSsh(env.ssh, request.script, request.stdin);
    };
    const recorded = () => parseDeployInfo(fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8"), "deploy-info.yml").digest;
    /** `node digest` of every task Swarm wants running. */
    const tasks = () => {
        const ids = dockerCli(env.dockerd, ["service", "ps", "-q", "--filter", "desired-state=running", `${swarmStack(location)}_web`])
            .split("\n").filter(Boolean);
        return ids.map((id) => dockerCli(env.dockerd, ["inspect", "--format", "{{.NodeID}} {{.Spec.ContainerSpec.Image}}", id]))
            .map((line) => line.replace(`${env.registry.address}/${repository}@`, "")).sort();
    };
    const nodes = () => dockerCli(env.dockerd, ["node", "ls", "-q"]).split("\n").filter(Boolean).sort();
    /** The version each node serves on its own loopback: the manager's here, the worker's in its namespace. */
    const served = async () => [
        await env.page(),
        env.worker!.exec("/usr/bin/wget", ["-qO-", `http://127.0.0.1:${env.port}/`]),
    ].map((html) => /id="version">([0-9a-f]+)</.exec(html)?.[1]);
    const onBothNodes = (built: BuiltImage) => nodes().map((node) => `${node} ${built.digest}`).sort();

    it("deploys A with one replica on each node, each serving A, and records it", async () => {
        assert.strictEqual((await fetch(`http://${env.registry.address}/v2/`)).status, 401, "the registry refuses anonymous pulls");
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, new RegExp(`logging in to ${env.registry.address} as deployer`));
        assert.ok(fs.existsSync(path.join(env.ssh.dir, "docker-config", "config.json")), "the login is the SSH host's own");
        assert.strictEqual(nodes().length, 2);
        assert.deepStrictEqual(tasks(), onBothNodes(env.images.a));
        await waitFor("both nodes to serve A", 30_000, async () => (await served()).every((tag) => tag === env.images.a.tag));
        assert.strictEqual(recorded(), env.images.a.digest);
    });

    it("rolls B across both nodes, one task at a time, and records it once both run it healthy", async () => {
        const result = await deploy(env.images.b);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(tasks(), onBothNodes(env.images.b));
        assert.deepStrictEqual(await served(), [env.images.b.tag, env.images.b.tag]);
        assert.strictEqual(recorded(), env.images.b.digest);
    });

    it("fails on an unhealthy C that Swarm rolls back on both nodes, leaving B running and recorded", async () => {
        const result = await deploy(env.images.c);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /Swarm rolled back the update of .*_web/);
        assert.match(result.stderr, /deploy-info.yml left as it was/);
        assert.deepStrictEqual(tasks(), onBothNodes(env.images.b));
        assert.deepStrictEqual(await served(), [env.images.b.tag, env.images.b.tag]);
        assert.strictEqual(recorded(), env.images.b.digest);
    });

    it("rolls back to A on both nodes by deploying A again, then removes the stack", async () => {
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(tasks(), onBothNodes(env.images.a));
        assert.deepStrictEqual(await served(), [env.images.a.tag, env.images.a.tag]);
        assert.strictEqual(recorded(), env.images.a.digest);
        const removed = await runOverSsh(env.ssh, buildRemoveScript(location, ownerOf(location)));
        assert.strictEqual(removed.status, 0, removed.stderr);
        assert.strictEqual(dockerCli(env.dockerd, ["service", "ls", "-q"]), "");
    });
});
