// The local swarm harness (local/swarm.ts) on a real dockerd: a single-node swarm on loopback that serves a
// stack on the host network from a digest-pinned image in Registry v3, and leaves nothing behind when stopped.
import * as assert from "assert";
import * as fs from "fs";
import * as YAML from "yaml";
import { AppRepository, BuiltImage } from "../../local/app-repository";
import { RegistryServer, startRegistry } from "../../local/registry";
import { freePort } from "../../local/sshd";
import { gatewayBridge, gossipPort, listenersOn, startSwarm, SwarmManager, waitFor } from "../../local/swarm";

/** The stack file a swarm deploy hands to `docker stack deploy`: the host network is the external one named host. */
export function hostNetworkStack(image: string, port: number, deploy: Record<string, unknown> = {}): string {
    return YAML.stringify({
        services: {
            web: {
                image,
                environment: { PORT: String(port) },
                networks: ["host"],
                deploy,
            },
        },
        networks: { host: { external: true, name: "host" } },
    });
}

/** Every mount point under `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
    return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
        .map((line) => line.split(" ")[4]).filter((point) => point?.startsWith(dir + "/"));
}

async function page(port: number): Promise<string> {
    return (await fetch(`http://127.0.0.1:${port}/`)).text();
}

describe("local/swarm.ts: a single-node swarm on loopback", function () {
    // Waiting for another swarm to free port 7946 is part of the budget (one swarm per machine).
    this.timeout(600_000);
    let registry: RegistryServer;
    let swarm: SwarmManager;
    let app: AppRepository;
    let image: BuiltImage;
    let stopped = false;

    before(async () => {
        registry = await startRegistry({ flavour: "v3" });
        swarm = await startSwarm({ gossipPortWaitMs: 300_000 });
        app = new AppRepository(swarm.engine.host);
        image = app.build(`${registry.address}/rednaw/hello-world`, "serve from a swarm");
    });
    after(async () => {
        app?.remove();
        if (!stopped) {
            await swarm?.stop();
        }
        await registry?.stop();
    });

    it("is a manager whose every listener (TCP and UDP) is on 127.0.0.1, gossip on 7946 included", () => {
        assert.strictEqual(swarm.docker(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]), "active true");
        assert.ok(swarm.dataPathPort >= 1024 && swarm.dataPathPort <= 49151);
        const ours = [gossipPort, swarm.listenPort].flatMap(listenersOn);
        assert.ok(ours.some((line) => line.includes(`127.0.0.1:${gossipPort}`)), ours.join("\n"));
        assert.ok(ours.some((line) => line.includes(`127.0.0.1:${swarm.listenPort}`)), ours.join("\n"));
        // Anything of dockerd's (and the kernel's VXLAN socket, which has no process) off loopback is a leak.
        const offLoopback = listenersOn().filter((line) =>
            (line.includes(`pid=${swarm.engine.pid},`) || line.includes(`:${swarm.dataPathPort} `)) && !/ 127\.0\.0\.1:\d+ /.test(line));
        assert.deepStrictEqual(offLoopback, []);
    });

    it("deploys a stack on the host network from 127.0.0.1:PORT/repo@sha256:…, serves it on loopback, and removes it", async () => {
        const port = await freePort();
        const reference = `${registry.address}/rednaw/hello-world@${image.digest}`;
        swarm.docker(["stack", "deploy", "--detach=false", "--quiet", "-c", "-", "harness"], hostNetworkStack(reference, port));
        assert.strictEqual(swarm.docker(["service", "inspect", "harness_web", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}"]), reference);
        await waitFor(`hello-world on 127.0.0.1:${port}`, 60_000, async () => (await page(port)).includes(image.tag));

        swarm.docker(["stack", "rm", "harness"]);
        // stack rm returns before the task's container is gone.
        await waitFor("the stack's containers to go", 60_000, () => swarm.docker(["ps", "-aq"]) === "");
        await assert.rejects(page(port));
    });

    it("stops leaving nothing behind: no listener, no docker_gwbridge, no mount, no engine dir", async () => {
        const { dir } = swarm.engine;
        const { listenPort, dataPathPort } = swarm;
        stopped = true;
        await swarm.stop();
        assert.deepStrictEqual([gossipPort, listenPort, dataPathPort].flatMap(listenersOn), []);
        assert.ok(!fs.existsSync(`/sys/class/net/${gatewayBridge}`), `${gatewayBridge} is still there`);
        assert.deepStrictEqual(mountsUnder(dir), []);
        assert.ok(!fs.existsSync(dir), `${dir} is still there`);
    });
});
