// A Docker Swarm on this machine for the tests and the demo: an engine from startDockerd made a single-node
// swarm manager bound to loopback, or (multiNode) a manager that workers in network namespaces of our own can
// join over veth links. Swarm listens on more than dockerd does (the cluster API, 2377 by default; gossip,
// 7946 TCP and UDP, which cannot be moved) and leaves things behind when dockerd stops (the docker_gwbridge
// interface, a netns/default mount), so starting and stopping it is kept in one place.
//
// Two nodes on one machine work (test/integration/swarm-harness.test.ts) on these terms:
// - the worker's dockerd enters its namespace with nsenter (see startDockerd's netns option);
// - the manager cannot advertise 127.0.0.1, which inside the worker's namespace is the worker's own loopback:
//   it advertises 10.213.0.1, an address on this machine's lo that workers reach over their veth links, so its
//   cluster API and gossip listen there, not on loopback. Linux accepts a packet for any local address on any
//   interface, so a neighbour on eth0 that routed 10.213.0.0/16 here could reach them, where 127.0.0.1 is
//   refused from outside by the kernel: the single-node swarm stays on 127.0.0.1 and multiNode is for tests;
// - every node pulls for itself, so each must reach the registry by the same name: for 127.0.0.1:PORT that is a
//   second registry process in the worker's namespace serving the same storage (as a team's nodes reach one
//   registry host; with credentials the deploy must pass --with-registry-auth);
// - both nodes have this machine's hostname: tell them apart by node ID, as placement does.
import { execFileSync } from "child_process";
import * as dgram from "dgram";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DockerEngine, startDockerd, unmountUnder } from "./dockerd";
import { requireExecutable, startProcess, StartedProcess } from "./process";
import { registryBinary, RegistryServer } from "./registry";
import { freePort } from "./sshd";

/** Swarm's gossip port (memberlist): fixed in dockerd 20.10, so one swarm per machine at a time. */
export const gossipPort = 7946;

/** The bridge Swarm creates in its engine's namespace for the ingress network; dockerd never removes it. */
export const gatewayBridge = "docker_gwbridge";

/**
 * Multi-node addresses. The manager's sits on the root namespace's lo (so it is on this machine whatever
 * links come and go); worker i gets a /30 link, root side 10.213.i.1, its namespace side 10.213.i.2, and a
 * route to the manager's address over it. Nothing leaves the machine: no default route, no forwarding.
 */
const multiNodeManagerAddress = "10.213.0.1";
const workerLink = (index: number) => ({
    rootSide: `iacsw${index}r`, namespaceSide: `iacsw${index}n`,
    rootAddress: `10.213.${index}.1`, workerAddress: `10.213.${index}.2`,
});

export class SwarmPortBusyError extends Error {
    constructor(listeners: string[], waitedMs: number) {
        super(`port ${gossipPort} (Swarm's gossip port, which cannot be moved) is in use after waiting ${waitedMs / 1000} s, ` +
            `so another swarm runs on this machine: ${listeners.join(" | ")}. ` +
            `Only one swarm can run here at a time: stop it (docker swarm leave --force on its engine) or wait for it.`);
        this.name = "SwarmPortBusyError";
    }
}

export class SwarmCommandError extends Error {
    constructor(command: string, detail: string) {
        super(`${command} failed: ${detail}`);
        this.name = "SwarmCommandError";
    }
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): string {
    try {
        return execFileSync(command, args, {
            encoding: "utf8", env: options.env ?? process.env, input: options.input, stdio: ["pipe", "pipe", "pipe"],
        }).trim();
    } catch (error) {
        const failed = error as { stderr?: string; message: string; code?: string };
        if (failed.code === "ENOENT") {
            throw new SwarmCommandError(command, "not found on PATH: run scripts/install-tools");
        }
        throw new SwarmCommandError(`${command} ${args.join(" ")}`, (failed.stderr || failed.message).trim());
    }
}

const ip = (...args: string[]) => run(requireExecutable("/usr/sbin/ip", "install Debian's iproute2"), args);

/** The docker CLI against `engine` (the CLI is on PATH; scripts/install-tools puts its plugins beside it). */
export function dockerCli(engine: DockerEngine, args: string[], input?: string): string {
    return run("docker", args, { env: { ...process.env, DOCKER_HOST: engine.host }, input });
}

/** Every TCP and UDP listener on `port` (all of them without one), as `ss` prints it with its process, in this namespace. */
export function listenersOn(port?: number): string[] {
    const ss = requireExecutable("/usr/bin/ss", "install Debian's iproute2");
    return run(ss, ["-Hltunp", ...port === undefined ? [] : [`sport = :${port}`]]).split("\n").filter((line) => line.trim() !== "")
        .map((line) => line.replace(/\s+/g, " "));
}

/** Waits for the gossip port to be free, for up to `waitMs`: a colleague's swarm may be finishing its run. */
export async function waitForGossipPort(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
        const listeners = listenersOn(gossipPort);
        if (listeners.length === 0) {
            return;
        }
        if (Date.now() >= deadline) {
            throw new SwarmPortBusyError(listeners, waitMs);
        }
        await new Promise((resolve) => setTimeout(resolve, 2000));
    }
}

/** A free UDP port for the data path (VXLAN): Swarm takes only 1024–49151, below the kernel's ephemeral range. */
export async function freeDataPathPort(): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
        const port = 20_000 + Math.floor(Math.random() * 12_000);
        const free = await new Promise<boolean>((resolve) => {
            const socket = dgram.createSocket("udp4");
            socket.once("error", () => resolve(false));
            socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
        });
        if (free && listenersOn(port).length === 0) {
            return port;
        }
    }
    throw new Error("no free UDP port in 20000–31999 for Swarm's data path");
}

function linkExists(name: string): boolean {
    return fs.existsSync(path.join("/sys/class/net", name));
}

/** Removes the root namespace's docker_gwbridge: dockerd leaves it behind, and the next swarm would reuse a stale one. */
/**
 * Deletes a network interface of ours if it exists. Deleting a namespace takes its veth pair along a moment
 * later, and another run's teardown may delete a bridge first: gone by the time we get there is done.
 */
function deleteLink(name: string): void {
    if (linkExists(name)) {
        try {
            ip("link", "del", name);
        } catch (error) {
            if (!/Cannot find device|No such device/.test((error as Error).message)) {
                throw error;
            }
        }
    }
}

/** Removes the root namespace's docker_gwbridge: dockerd leaves it behind, and the next swarm would reuse a stale one. */
export function removeGatewayBridge(): void {
    deleteLink(gatewayBridge);
}

export interface SwarmWorker {
    /** The network namespace it runs in. */
    netns: string;
    /** The address it advertises to the swarm (its end of the veth link). */
    address: string;
    engine: DockerEngine;
    /** Its node ID in the swarm. */
    nodeId: string;
    /** Runs a command inside the worker's namespace (`ip netns exec`), e.g. wget of a service on its loopback. */
    exec(command: string, args: string[]): string;
    /** Leaves the swarm, stops its engine and registries, deletes its namespace and link. */
    stop(): Promise<void>;
}

export interface SwarmManager {
    engine: DockerEngine;
    /** 127.0.0.1, or the multi-node manager address on lo that workers reach over their links. */
    advertiseAddress: string;
    /** The cluster API's port (2377 moved to a free one). */
    listenPort: number;
    /** Swarm's data path (VXLAN) UDP port. */
    dataPathPort: number;
    nodeId: string;
    workers: SwarmWorker[];
    /** The docker CLI against the manager. */
    docker(args: string[], input?: string): string;
    /**
     * A second dockerd in a network namespace of its own, joined as a worker (multiNode only). Every registry in
     * `registries` is served in the worker's namespace at the same 127.0.0.1 address by a second registry process
     * over the same storage, so an image reference pulls the same bytes on every node.
     */
    addWorker(options?: { registries?: RegistryServer[] }): Promise<SwarmWorker>;
    /** Stops the workers, leaves the swarm, stops the engine and removes what outlives it (gwbridge, mounts, addresses). */
    stop(): Promise<void>;
}

export interface SwarmOptions {
    /**
     * Advertise an address workers in other namespaces can reach (10.213.0.1 on lo) instead of 127.0.0.1: the
     * swarm's ports then listen on that address, which is not loopback.
     */
    multiNode?: boolean;
    /** How long to wait for another swarm to free port 7946 before failing (default 0: fail at once). */
    gossipPortWaitMs?: number;
}

/** Makes `engine` (from startDockerd) a swarm manager; its `stop` stops the engine too. */
export async function initSwarm(engine: DockerEngine, options: SwarmOptions = {}): Promise<SwarmManager> {
    await waitForGossipPort(options.gossipPortWaitMs ?? 0);
    // Nobody else's swarm runs (7946 is free), so a docker_gwbridge here is a crashed run's: Swarm would adopt it.
    removeGatewayBridge();
    const advertiseAddress = options.multiNode ? multiNodeManagerAddress : "127.0.0.1";
    if (options.multiNode) {
        removeManagerAddress();
        ip("addr", "add", `${multiNodeManagerAddress}/32`, "dev", "lo");
    }
    const listenPort = await freePort();
    const dataPathPort = await freeDataPathPort();
    const docker = (args: string[], input?: string) => dockerCli(engine, args, input);
    const workers: SwarmWorker[] = [];
    try {
        // --listen-addr and --data-path-addr keep the cluster API and data path off every other address;
        // gossip (7946) follows --advertise-addr.
        docker(["swarm", "init",
            "--advertise-addr", advertiseAddress,
            "--listen-addr", `${advertiseAddress}:${listenPort}`,
            "--data-path-addr", advertiseAddress,
            "--data-path-port", String(dataPathPort)]);
    } catch (error) {
        await stopManager(engine, workers, options.multiNode ?? false);
        throw error;
    }
    try {
        // The ingress (routing mesh) network's VXLAN socket listens on 0.0.0.0:<data path port> whatever
        // --data-path-addr says; services here use the host network and publish nothing through the mesh.
        await removeIngress(docker);
    } catch (error) {
        await stopManager(engine, workers, options.multiNode ?? false);
        throw error;
    }
    const nodeId = docker(["info", "--format", "{{.Swarm.NodeID}}"]);
    return {
        engine, advertiseAddress, listenPort, dataPathPort, nodeId, workers, docker,
        addWorker: async (workerOptions = {}) => {
            if (!options.multiNode) {
                throw new Error("addWorker needs a swarm started with multiNode: a single-node manager advertises 127.0.0.1, " +
                    "which another network namespace cannot reach");
            }
            const worker = await startWorker(docker, workers.length + 1, listenPort, workerOptions.registries ?? []);
            workers.push(worker);
            return worker;
        },
        stop: () => stopManager(engine, workers, options.multiNode ?? false),
    };
}

/** startDockerd, then initSwarm: one call for the tests and the demo. */
export async function startSwarm(options: SwarmOptions & { dir?: string; keepRunning?: boolean } = {}): Promise<SwarmManager> {
    // Check before starting an engine at all: a busy port is the likely failure and costs nothing to see.
    await waitForGossipPort(options.gossipPortWaitMs ?? 0);
    const engine = await startDockerd({ dir: options.dir, keepRunning: options.keepRunning });
    try {
        return await initSwarm(engine, options);
    } catch (error) {
        // initSwarm stops the engine itself once init has run; a swarm that took 7946 meanwhile fails before.
        if (error instanceof SwarmPortBusyError) {
            await engine.stop();
        }
        throw error;
    }
}

async function removeIngress(docker: (args: string[], input?: string) => string): Promise<void> {
    // `network rm ingress` asks for confirmation on stdin.
    docker(["network", "rm", "ingress"], "y\n");
    await waitFor("the ingress network to be gone", 30_000, () => !docker(["network", "ls", "--format", "{{.Name}}"]).split("\n").includes("ingress"));
}

function removeManagerAddress(): void {
    if (ip("-4", "addr", "show", "dev", "lo").includes(`inet ${multiNodeManagerAddress}/32`)) {
        ip("addr", "del", `${multiNodeManagerAddress}/32`, "dev", "lo");
    }
}

async function stopManager(engine: DockerEngine, workers: SwarmWorker[], multiNode: boolean): Promise<void> {
    // Every step is tried whatever the one before did: a worker that fails to stop must not leave the manager's
    // dockerd running, holding 7946 for every later swarm on this machine.
    const failures: string[] = [];
    const attempt = async (step: () => unknown) => {
        try {
            await step();
        } catch (error) {
            failures.push((error as Error).message);
        }
    };
    for (const worker of workers.splice(0).reverse()) {
        await attempt(() => worker.stop());
    }
    // Leaving while dockerd runs takes the tasks down and closes the swarm's ports in order; a dockerd only
    // killed keeps its swarm state, which a demo dir reused by the next run would bring back.
    await attempt(() => leaveSwarm(engine.host));
    await attempt(() => engine.stop());
    await attempt(() => cleanAfterSwarm(engine.dir));
    if (multiNode) {
        await attempt(removeManagerAddress);
    }
    if (failures.length > 0) {
        throw new Error(`stopping the swarm of ${engine.host}: ${failures.join("; ")}`);
    }
}

/**
 * What a swarm engine leaves once dockerd has stopped: the docker_gwbridge interface and the netns/default
 * mount under its exec-root (engine.stop unmounts the latter; the demo stops dockerd by pid, so it comes here).
 */
export async function cleanAfterSwarm(engineDir: string): Promise<void> {
    unmountUnder(engineDir);
    // The bridge has one name per namespace: while another swarm holds 7946 here, the bridge is that swarm's.
    if (listenersOn(gossipPort).length === 0) {
        removeGatewayBridge();
    }
}

/** Leaves the swarm of a running engine by its socket, for `npm run demo -- --stop` before it stops dockerd by pid. */
export function leaveSwarm(dockerHost: string): void {
    try {
        run("docker", ["swarm", "leave", "--force"], { env: { ...process.env, DOCKER_HOST: dockerHost } });
    } catch (error) {
        if (!/not part of a swarm|Cannot connect/.test((error as Error).message)) {
            throw error;
        }
    }
}

async function startWorker(
    managerDocker: (args: string[]) => string, index: number, managerPort: number, registries: RegistryServer[],
): Promise<SwarmWorker> {
    const link = workerLink(index);
    const netns = `iac-swarm-w${index}`;
    const inNamespace = (command: string, args: string[]) => run("/usr/sbin/ip", ["netns", "exec", netns, command, ...args]);
    // A crashed run's namespace or link would make `add` fail; they are ours by name.
    if (fs.existsSync(path.join("/run/netns", netns))) {
        ip("netns", "del", netns);
    }
    deleteLink(link.rootSide);
    const processes: StartedProcess[] = [];
    let engine: DockerEngine | undefined;
    const teardown = async () => {
        await engine?.stop();
        for (const started of processes.splice(0)) {
            await started.stop();
        }
        // The root end first: deleting it takes its peer along at once, where deleting the namespace would take
        // both ends a moment later, racing whoever looks for them next.
        deleteLink(link.rootSide);
        if (fs.existsSync(path.join("/run/netns", netns))) {
            // The namespace takes its own docker_gwbridge with it.
            ip("netns", "del", netns);
        }
    };
    try {
        ip("netns", "add", netns);
        ip("link", "add", link.rootSide, "type", "veth", "peer", "name", link.namespaceSide);
        ip("link", "set", link.namespaceSide, "netns", netns);
        ip("addr", "add", `${link.rootAddress}/30`, "dev", link.rootSide);
        ip("link", "set", link.rootSide, "up");
        inNamespace("/usr/sbin/ip", ["link", "set", "lo", "up"]);
        inNamespace("/usr/sbin/ip", ["addr", "add", `${link.workerAddress}/30`, "dev", link.namespaceSide]);
        inNamespace("/usr/sbin/ip", ["link", "set", link.namespaceSide, "up"]);
        // Only the manager's address, not a default route: the worker reaches this machine and nothing else.
        inNamespace("/usr/sbin/ip", ["route", "add", `${multiNodeManagerAddress}/32`, "via", link.rootAddress]);

        for (const registry of registries) {
            processes.push(await startRegistryMirror(registry, netns));
        }
        engine = await startDockerd({ netns, dir: fs.mkdtempSync(path.join(os.tmpdir(), "iac-dkw-")) });
        const token = managerDocker(["swarm", "join-token", "-q", "worker"]);
        dockerCli(engine, ["swarm", "join", "--token", token,
            "--advertise-addr", link.workerAddress,
            "--listen-addr", `${link.workerAddress}:2377`,
            "--data-path-addr", link.workerAddress,
            `${multiNodeManagerAddress}:${managerPort}`]);
        const nodeId = dockerCli(engine, ["info", "--format", "{{.Swarm.NodeID}}"]);
        await waitFor(`worker ${nodeId} to be Ready on the manager`, 60_000,
            () => managerDocker(["node", "inspect", nodeId, "--format", "{{.Status.State}}"]) === "ready");
        const workerEngine = engine;
        const ownDir = workerEngine.dir;
        return {
            netns, address: link.workerAddress, engine: workerEngine, nodeId,
            exec: inNamespace,
            stop: async () => {
                try {
                    dockerCli(workerEngine, ["swarm", "leave", "--force"]);
                } catch (error) {
                    if (!/not part of a swarm/.test((error as Error).message)) {
                        throw error;
                    }
                }
                // The manager keeps a left node as Down until removed; a node list with ghosts misleads the next test.
                try {
                    managerDocker(["node", "rm", "--force", nodeId]);
                } catch {
                    // Gone already, or the manager is stopping: nothing to keep.
                }
                await teardown();
                fs.rmSync(ownDir, { recursive: true, force: true });
            },
        };
    } catch (error) {
        await teardown();
        throw error;
    }
}

/** A second registry process inside `netns` on the registry's own 127.0.0.1 port, serving the same storage. */
async function startRegistryMirror(registry: RegistryServer, netns: string): Promise<StartedProcess> {
    const config = fs.readFileSync(path.join(registry.dir, "config.yml"), "utf8")
        .replace(/addr: 127\.0\.0\.1:\d+/, `addr: 127.0.0.1:${registry.port}`);
    const configFile = path.join(registry.dir, `config-${netns}.yml`);
    fs.writeFileSync(configFile, config);
    const logFile = path.join(registry.dir, `registry-${netns}.log`);
    return startProcess(`registry mirror in ${netns}`, "/usr/sbin/ip", ["netns", "exec", netns, registryBinary(registry.flavour), "serve", configFile], {
        logFile, ready: /listening on 127\.0\.0\.1:\d+/, timeoutMs: 20_000,
    });
}

/** Polls `check` until it holds, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            if (await check()) {
                return;
            }
        } catch (error) {
            last = error;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}
