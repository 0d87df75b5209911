// The local swarm harness (local/swarm.ts) on a real dockerd: a single-node swarm on loopback that serves a
// stack on the host network from a digest-pinned image in Registry v3, and leaves nothing behind when stopped;
// and two nodes (a worker in a network namespace of the test's own) joined, reaching the registry, and stopped clean.
import * as assert from "assert";
import * as fs from "fs";
import * as YAML from "yaml";
import { AppRepository, BuiltImage } from "../../local/app-repository";
import { RegistryServer, startRegistry } from "../../local/registry";
import { freePort } from "../../local/sshd";
import { gatewayBridge, gossipPort, listenersOn, startSwarm, SwarmManager, SwarmWorker, waitFor } from "../../local/swarm";

/** The stack file a swarm deploy hands to `docker stack deploy`: the host network is the external one named host. */
function hostNetworkStack(image: string, port: number): string {
    return YAML.stringify({
        services: {
            web: {
                image,
                environment: { PORT: String(port) },
                networks: ["host"],
                // httpd as PID 1 ignores SIGTERM: without an init every task stop waits out the 10 s grace period.
                init: true,
            },
        },
        networks: { host: { external: true, name: "host" } },
    });
}

/**
 * The docker_gwbridge interface's index while it exists: another swarm started right after ours would make a
 * bridge of the same name, so "ours is gone" means no bridge with our index.
 */
function gatewayBridgeIndex(): string | undefined {
    const file = `/sys/class/net/${gatewayBridge}/ifindex`;
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : undefined;
}

/** Listeners on `port` held by one of these processes: another swarm may take 7946 as soon as ours frees it. */
function listenersOf(pids: number[], port: number): string[] {
    return listenersOn(port).filter((line) => pids.some((pid) => line.includes(`pid=${pid},`)));
}

/** Every mount point under `dir` in this mount namespace. */
function mountsUnder(dir: string): string[] {
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
    /**
     * The engine's listeners off loopback, and the data path port's (the kernel's VXLAN socket has no process):
     * with the ingress network in place a running task opens that socket on 0.0.0.0.
     */
    const offLoopback = () => listenersOn().filter((line) =>
        (line.includes(`pid=${swarm.engine.pid},`) || line.includes(`:${swarm.dataPathPort} `)) && !/ 127\.0\.0\.1:\d+ /.test(line));

    it("is a manager whose every listener (TCP and UDP) is on 127.0.0.1, gossip on 7946 included", () => {
        assert.strictEqual(swarm.docker(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]), "active true");
        assert.ok(swarm.dataPathPort >= 1024 && swarm.dataPathPort <= 49151);
        const ours = [gossipPort, swarm.listenPort].flatMap(listenersOn);
        assert.ok(ours.some((line) => line.includes(`127.0.0.1:${gossipPort}`)), ours.join("\n"));
        assert.ok(ours.some((line) => line.includes(`127.0.0.1:${swarm.listenPort}`)), ours.join("\n"));
        assert.deepStrictEqual(offLoopback(), []);
    });

    it("deploys a stack on the host network from 127.0.0.1:PORT/repo@sha256:…, serves it on loopback, and removes it", async () => {
        const port = await freePort();
        const reference = `${registry.address}/rednaw/hello-world@${image.digest}`;
        swarm.docker(["stack", "deploy", "--detach=false", "--quiet", "-c", "-", "harness"], hostNetworkStack(reference, port));
        assert.strictEqual(swarm.docker(["service", "inspect", "harness_web", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}"]), reference);
        await waitFor(`hello-world on 127.0.0.1:${port}`, 60_000, async () => (await page(port)).includes(image.tag));
        // A running task is when the ingress network would open its VXLAN socket on 0.0.0.0.
        assert.deepStrictEqual(offLoopback(), []);

        swarm.docker(["stack", "rm", "harness"]);
        // stack rm returns before the task's container is gone.
        await waitFor("the stack's containers to go", 60_000, () => swarm.docker(["ps", "-aq"]) === "");
        await assert.rejects(page(port));
    });

    it("stops leaving nothing behind: no listener, no docker_gwbridge, no mount, no engine dir", async () => {
        const { dir, pid } = swarm.engine;
        const { listenPort, dataPathPort } = swarm;
        const bridge = gatewayBridgeIndex();
        assert.ok(bridge, `the swarm made no ${gatewayBridge}`);
        stopped = true;
        await swarm.stop();
        assert.deepStrictEqual(listenersOf([pid], gossipPort), []);
        assert.deepStrictEqual([listenPort, dataPathPort].flatMap((port) => listenersOn(port)), []);
        assert.notStrictEqual(gatewayBridgeIndex(), bridge, `our ${gatewayBridge} is still there`);
        assert.deepStrictEqual(mountsUnder(dir), []);
        assert.ok(!fs.existsSync(dir), `${dir} is still there`);
    });
});

describe("local/swarm.ts: two nodes, the worker in a network namespace of its own", function () {
    // What a deploy across the two nodes does is test/integration/swarm-two-node.test.ts; here, the harness.
    this.timeout(900_000);
    let registry: RegistryServer;
    let swarm: SwarmManager;
    let worker: SwarmWorker;
    let stopped = false;

    before(async () => {
        registry = await startRegistry({ flavour: "v3" });
        swarm = await startSwarm({ multiNode: true, gossipPortWaitMs: 300_000 });
        worker = await swarm.addWorker({ registries: [registry] });
    });
    after(async () => {
        if (!stopped) {
            await swarm?.stop();
        }
        await registry?.stop();
    });

    it("joins the worker over its veth link: two Ready nodes, the manager advertising 10.213.0.1", () => {
        assert.strictEqual(swarm.advertiseAddress, "10.213.0.1");
        const nodes = swarm.docker(["node", "ls", "--format", "{{.ID}} {{.Status}} {{.ManagerStatus}}"]).split("\n")
            .map((line) => line.trim()).sort();
        assert.deepStrictEqual(nodes, [`${swarm.nodeId} Ready Leader`, `${worker.nodeId} Ready`].sort());
        assert.strictEqual(worker.address, "10.213.1.2");
    });

    it("serves the registry inside the worker's namespace at the same 127.0.0.1 address", () => {
        assert.match(worker.exec("/usr/bin/wget", ["-qO-", `http://${registry.address}/v2/`]), /^\{\}/);
    });

    it("stops leaving no namespace, link, address, listener, docker_gwbridge or mount", async () => {
        const dirs = [swarm.engine.dir, worker.engine.dir];
        const pids = [swarm.engine.pid, worker.engine.pid];
        const netns = worker.netns;
        const bridge = gatewayBridgeIndex();
        stopped = true;
        await swarm.stop();
        assert.deepStrictEqual(listenersOf(pids, gossipPort), []);
        assert.ok(!listenersOn().some((line) => line.includes(" 10.213.")), listenersOn().join("\n"));
        assert.ok(!fs.existsSync(`/run/netns/${netns}`), `${netns} is still there`);
        assert.ok(!fs.existsSync("/sys/class/net/iacsw1r"), "the worker's link is still there");
        assert.notStrictEqual(gatewayBridgeIndex(), bridge, `our ${gatewayBridge} is still there`);
        assert.ok(!fs.readFileSync("/proc/net/fib_trie", "utf8").includes("10.213."), "a 10.213.x address is still there");
        for (const dir of dirs) {
            assert.deepStrictEqual(mountsUnder(dir), []);
            assert.ok(!fs.existsSync(dir), `${dir} is still there`);
        }
    });
});
