// The update order of the swarm translation, through the host scripts over a real SSH host and a single-node
// swarm on loopback, under a client sending about 50 requests a second. hello-world on the host network gets
// stop-first: its new task starts only once the old one has stopped, since both would bind one port of the node.
// A template that sets start-first itself, for a server that binds its port with SO_REUSEPORT (Caddy's), runs
// the new task beside the old one on that port, and the deploy drops no request; hello-world forced to
// start-first shows why it is not the default on the host network.
import * as assert from "assert";
import { execFile, execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { AppLocation, swarmStack } from "../../components/remote/layout";
import { BuiltImage } from "../../local/app-repository";
import { caddyBinary } from "../../local/caddy";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { deployRequest, helloWorldTemplate } from "../helpers/deploy-request";
import { runOverSsh } from "../helpers/ssh";
import { startTraffic } from "../helpers/traffic";

const execFileAsync = promisify(execFile);

/** A template for an app whose server binds with SO_REUSEPORT, asking Swarm for start-first on the host network. */
const reusePortTemplate = `services:
  web:
    image: \${IMAGE}
    network_mode: host
    restart: unless-stopped
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:$\${PORT}/"]
      interval: 1s
      timeout: 1s
      retries: 3
      start_period: 1s
    deploy:
      update_config:
        order: start-first
`;

describe("the swarm update order, over a real SSH host and a single-node swarm, under traffic", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let contextDir: string;

    before(async () => {
        env = await startDeployEnvironment({ swarm: true });
        contextDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-reuseport-"));
        fs.copyFileSync(caddyBinary(), path.join(contextDir, "caddy"));
        fs.copyFileSync("/bin/busybox", path.join(contextDir, "busybox"));
    });
    after(async () => {
        fs.rmSync(contextDir, { recursive: true, force: true });
        await env?.stop();
    });

    const dockerEnv = () => ({ ...process.env, DOCKER_HOST: env.dockerd.host });
    const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: dockerEnv(), stdio: ["ignore", "pipe", "pipe"] }).trim();
    const location = (app: string): AppLocation => ({ app, workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot });
    /** What a container wrote, stdout and stderr. */
    const containerOutput = (id: string) => {
        const logs = spawnSync("docker", ["logs", id], { encoding: "utf8", env: dockerEnv() });
        return `${logs.stdout}${logs.stderr}`;
    };
    const deploy = (at: AppLocation, built: BuiltImage, port: number, template?: string) => {
        const request = deployRequest(built, { registry: env.registry.address, location: at, port, target: "swarm", healthTimeoutSeconds: 90, template });
        return runOverSsh(env.ssh, request.script, request.stdin);
    };
    const updateOrder = (at: AppLocation) => docker("service", "inspect", "--format", "{{.Spec.UpdateConfig.Order}}", `${swarmStack(at)}_web`);

    /** A Caddy that answers `version` on $PORT, pushed to the test registry: Caddy binds its listeners with SO_REUSEPORT. */
    function buildReusePortImage(version: string): BuiltImage {
        fs.writeFileSync(path.join(contextDir, "Dockerfile"), [
            "FROM scratch",
            "COPY busybox /bin/busybox",
            `RUN ["/bin/busybox", "--install", "-s", "/bin"]`,
            "COPY caddy /bin/caddy",
            "ENV HOME=/tmp XDG_DATA_HOME=/tmp XDG_CONFIG_HOME=/tmp PORT=8080",
            `CMD ["/bin/sh", "-c", "exec caddy respond --listen 127.0.0.1:$PORT ${version}"]`,
        ].join("\n") + "\n");
        const tag = `${env.registry.address}/${repository}:${version}`;
        docker("build", "-q", "-t", tag, contextDir);
        docker("push", "-q", tag);
        const digest = docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", tag).split("@")[1];
        return { tag: version, digest, description: `caddy answering ${version}` };
    }

    /**
     * Deploys `built` while counting, every 100 ms, the stack's running containers (the fewest and the most seen),
     * and reports what a client sending about 50 requests a second saw meanwhile.
     */
    async function deployUnderTraffic(at: AppLocation, built: BuiltImage, port: number, template?: string) {
        const stack = swarmStack(at);
        const counts: number[] = [];
        let deploying = true;
        const sampling = (async () => {
            while (deploying) {
                const { stdout } = await execFileAsync("docker", ["ps", "-q", "--filter", `label=com.docker.stack.namespace=${stack}`], { env: dockerEnv() });
                counts.push(stdout.split("\n").filter(Boolean).length);
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        })();
        const traffic = startTraffic(`http://127.0.0.1:${port}/`);
        const result = await deploy(at, built, port, template);
        deploying = false;
        await sampling;
        return { result, traffic: await traffic.stop(), fewest: Math.min(...counts), most: Math.max(...counts) };
    }

    it("stops hello-world's old task before its new one starts: both would bind the one port of the host network", async () => {
        const at = location("hello-world");
        const first = await deploy(at, env.images.a, env.port);
        assert.strictEqual(first.status, 0, first.stderr);
        assert.strictEqual(updateOrder(at), "stop-first");

        const { result, traffic, most } = await deployUnderTraffic(at, env.images.b, env.port);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(most, 1, "never two tasks at once on the host network");
        assert.deepStrictEqual(env.runningDigests(swarmStack(at)), [env.images.b.digest]);
        // What stop-first costs, for the record: requests refused between the old task's stop and the new one's start.
        console.log(`      stop-first (hello-world): ${traffic.sent} requests, ${traffic.failed} failed ${JSON.stringify(traffic.failures)}, ` +
            `longest gap ${traffic.longestGapMs.toFixed(0)} ms`);
    });

    it("shows why: hello-world forced to start-first fails to bind the port its old task holds, and Swarm rolls it back", async () => {
        const at = location("hello-world");
        const forced = helloWorldTemplate.replace("    init: true\n", "    init: true\n    deploy:\n      update_config:\n        order: start-first\n");
        const { result, traffic } = await deployUnderTraffic(at, env.images.a, env.port, forced);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /Swarm rolled back the update of .*_web/);
        assert.match(result.stderr, /the previous deployment is running again/);
        assert.deepStrictEqual(env.runningDigests(swarmStack(at)), [env.images.b.digest]);
        const failedTask = docker("ps", "-a", "-q", "--filter", `label=com.docker.stack.namespace=${swarmStack(at)}`, "--filter", "status=exited")
            .split("\n").filter(Boolean).map(containerOutput).join("\n");
        assert.match(failedTask, /bind: Address already in use/);
        console.log(`      start-first forced on hello-world: ${traffic.sent} requests, ${traffic.failed} failed, longest gap ${traffic.longestGapMs.toFixed(0)} ms`);
    });

    it("runs the new task beside the old where the template asks for start-first and the server binds with SO_REUSEPORT: no request dropped", async () => {
        const at = location("reuseport");
        const port = await freePort();
        const [a, b] = [buildReusePortImage("reuse-a"), buildReusePortImage("reuse-b")];
        const first = await deploy(at, a, port, reusePortTemplate);
        assert.strictEqual(first.status, 0, first.stderr);
        assert.strictEqual(updateOrder(at), "start-first", "the template's own order is kept");
        assert.strictEqual(await (await fetch(`http://127.0.0.1:${port}/`)).text(), a.tag);

        const { result, traffic, fewest, most } = await deployUnderTraffic(at, b, port, reusePortTemplate);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(most, 2, "the new task ran beside the old one");
        assert.strictEqual(fewest, 1, "a task ran at every moment of the deploy");
        assert.deepStrictEqual({ failed: traffic.failed, failures: traffic.failures }, { failed: 0, failures: {} });
        assert.ok(traffic.sent > 0);
        assert.strictEqual(await (await fetch(`http://127.0.0.1:${port}/`)).text(), b.tag);
        console.log(`      start-first (SO_REUSEPORT): ${traffic.sent} requests, ${traffic.failed} failed, longest gap ${traffic.longestGapMs.toFixed(0)} ms`);
    });
});
