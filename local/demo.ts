// The main job on the local default: Registry v3, an SSH test host and dockerd on loopback, two versions of
// hello-world and the proxy's image (images/caddy) built and pushed, `pulumi up` of the dev workspace (hello-world
// served through the host's proxy), then the URL it is served on, fetched once, and how to roll back.
// The services keep running afterwards (stop them with `npm run demo -- --stop`). With `--team` the stack's
// state lives in a PostgreSQL on loopback, as a team's shared store would (docs/team.md), instead of a file backend.
// With `--swarm` the demo's dockerd is also a single-node swarm manager on loopback (local/swarm.ts) and the dev
// workspace targets it (iac:target swarm: hello-world runs as a stack, on the proxy's port without the proxy, which
// a swarm does not support yet); `--stop` leaves the swarm before stopping dockerd and removes what a swarm engine
// leaves behind.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { printable } from "../components/model/printable";
import { Workspace, readWorkspace } from "../components/model/workspace";
import { proxyContainerName } from "../components/remote/proxy-host";
import { AppRepository } from "./app-repository";
import { startDockerd, unmountUnder } from "./dockerd";
import { stopPid } from "./process";
import { buildProxyImage, proxyImageSource } from "./proxy-image";
import { startPostgres } from "./postgres";
import { openWorkspace } from "./pulumi-workspace";
import { startRegistry } from "./registry";
import { startSshHost } from "./sshd";
import { cleanAfterSwarm, initSwarm, leaveSwarm, waitForGossipPort } from "./swarm";

const projectRoot = path.resolve(__dirname, "..");
const demoDir = path.join(projectRoot, ".demo");
const servicesFile = path.join(demoDir, "services.json");
/**
 * The demo's engine, for --stop: a swarm's must leave the swarm while dockerd still runs, and every engine leaves
 * the netns/default mount under its exec-root behind once stopped by pid.
 */
const engineFile = path.join(demoDir, "engine.json");
/**
 * Where the --team demo's PostgreSQL keeps its files, for --stop. Not in the checkout: the server runs as the
 * postgres user (postgres refuses root), who may not reach a checkout, e.g. one in a directory only root can enter.
 */
const stateStoreFile = path.join(demoDir, "state-store.json");
const passphrase = "demo";

const step = (text: string) => console.log(`\n==> ${text}`);

async function stopServices(): Promise<void> {
    const engine = fs.existsSync(engineFile)
        ? JSON.parse(fs.readFileSync(engineFile, "utf8")) as { dockerHost: string; dockerDir: string; swarm: boolean }
        : undefined;
    if (engine?.swarm) {
        console.log(`demo: leaving the swarm of ${engine.dockerHost}`);
        leaveSwarm(engine.dockerHost);
    } else if (engine) {
        removeProxyContainer(engine.dockerHost);
    }
    if (fs.existsSync(servicesFile)) {
        await stopProcesses();
    }
    if (engine) {
        if (engine.swarm) {
            // A swarm's engine also leaves its docker_gwbridge behind.
            await cleanAfterSwarm(engine.dockerDir);
        } else {
            unmountUnder(engine.dockerDir);
        }
        fs.rmSync(engine.dockerDir, { recursive: true, force: true });
        fs.rmSync(engineFile);
    }
    if (fs.existsSync(stateStoreFile)) {
        const store = JSON.parse(fs.readFileSync(stateStoreFile, "utf8")) as { dir: string };
        fs.rmSync(store.dir, { recursive: true, force: true });
        fs.rmSync(stateStoreFile);
    }
    clearDemoDeployRoot();
}

/**
 * The proxy's container, while the demo's dockerd still runs (its dir, `<deployRoot>/.proxy`, goes with the deploy
 * root). A dockerd that is gone already took it along: the demo says so and goes on stopping the rest.
 */
function removeProxyContainer(dockerHost: string): void {
    const name = proxyContainerName(readWorkspace("dev", projectRoot).host.deployRoot);
    console.log(`demo: removing the proxy container ${name}`);
    const removed = spawnSync("docker", ["rm", "-f", name], { encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerHost } });
    if (removed.status !== 0) {
        console.log(`demo: could not remove ${name} (${removed.stderr.trim()}): it goes with the demo's dockerd`);
    }
}

/**
 * The demo's host is new on every run (a fresh dockerd: what ran there is gone with the old one), so the dev
 * workspace's deploy root goes with it, as a new machine's would be empty: the app dirs an earlier demo left name a
 * stack whose state went with .demo, and the next deploy would rightly refuse them as another stack's. Only a root
 * under the temp dir (Pulumi.dev.yaml's /tmp/iac-dev/opt) is the demo's to clear; any other is left alone.
 */
function clearDemoDeployRoot(): void {
    const root = path.resolve(readWorkspace("dev", projectRoot).host.deployRoot);
    if (root.startsWith(path.join(os.tmpdir(), path.sep))) {
        fs.rmSync(root, { recursive: true, force: true });
    } else {
        console.log(`demo: leaving ${root} as it is (not under ${os.tmpdir()}): an app dir of an earlier demo there is refused as another stack's, ` +
            "and its .proxy brings that demo's routes back");
    }
}

async function stopProcesses(): Promise<void> {
    const services = JSON.parse(fs.readFileSync(servicesFile, "utf8")) as Record<string, number>;
    for (const [name, pid] of Object.entries(services)) {
        console.log(`demo: stopping ${name} (pid ${pid})`);
        await stopPid(pid);
    }
    fs.rmSync(servicesFile);
}

async function main(): Promise<void> {
    await stopServices();
    if (process.argv.includes("--stop")) {
        return;
    }
    const swarm = process.argv.includes("--swarm");
    if (swarm) {
        // Before anything starts: another swarm on this machine holds port 7946, which cannot be moved.
        await waitForGossipPort(0);
    }
    fs.rmSync(demoDir, { recursive: true, force: true });
    fs.mkdirSync(demoDir, { recursive: true });
    const dev = readWorkspace("dev", projectRoot);
    const registryPort = Number(dev.registry.address.split(":")[1]);
    const sshPort = dev.host.port;
    const services: Record<string, number> = {};
    const remember = (name: string, pid: number) => {
        services[name] = pid;
        fs.writeFileSync(servicesFile, JSON.stringify(services, null, 2));
    };

    step("starting dockerd (no bridge, no iptables; containers use host networking)");
    // Short path: containerd's socket lives under it and unix socket paths are limited to ~108 bytes.
    const dockerDir = fs.mkdtempSync("/tmp/iac-demo-docker-");
    const dockerd = await startDockerd({ dir: dockerDir, keepRunning: true });
    remember("dockerd", dockerd.pid);
    fs.writeFileSync(engineFile, JSON.stringify({ dockerHost: dockerd.host, dockerDir, swarm }, null, 2));
    console.log(`demo: dockerd on ${dockerd.host}`);
    if (swarm) {
        step("making dockerd a single-node swarm manager on loopback");
        const manager = await initSwarm(dockerd);
        console.log(`demo: swarm manager ${manager.nodeId}, cluster API on 127.0.0.1:${manager.listenPort}, gossip on 127.0.0.1:7946`);
    }

    step(`starting Registry v3 on 127.0.0.1:${registryPort}`);
    const registry = await startRegistry({ flavour: "v3", port: registryPort, dir: path.join(demoDir, "registry"), keepRunning: true });
    remember("registry", registry.pid);

    step(`starting the SSH test host on 127.0.0.1:${sshPort}`);
    const ssh = await startSshHost({ dockerHost: dockerd.host, port: sshPort, dir: path.join(demoDir, "ssh"), keepRunning: true });
    remember("sshd", ssh.pid);

    const team = process.argv.includes("--team");
    let backend: { backendUrl?: string; stateDir?: string; env: Record<string, string> } = { stateDir: path.join(demoDir, "state"), env: {} };
    if (team) {
        step("starting PostgreSQL on loopback, the team's state store");
        const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-demo-postgres-"));
        fs.writeFileSync(stateStoreFile, JSON.stringify({ dir: storeDir }, null, 2));
        const store = await startPostgres({ dir: storeDir, keepRunning: true });
        remember("postgres", store.pid);
        // The password in a pgpass file, as an operator keeps it: never in the URL, the shell history or the repo.
        const passFile = path.join(demoDir, "pgpass");
        fs.writeFileSync(passFile, `${store.host}:${store.port}:${store.database}:${store.user}:${store.password}\n`, { mode: 0o600 });
        backend = { backendUrl: store.backendUrl, env: { PGPASSFILE: passFile } };
        console.log(`demo: state store ${store.backendUrl} (password in ${path.relative(process.cwd(), passFile)})`);
    }

    step("building and pushing two versions of hello-world (labels from git, one short-SHA tag each)");
    const repository = dev.apps.find((app) => app.name === "hello-world")!.repository;
    const app = new AppRepository(dockerd.host, path.join(demoDir, "hello-world-src"));
    const first = app.build(`${registry.address}/${repository}`, "initial deploy");
    const second = app.build(`${registry.address}/${repository}`, "add healthcheck + fix nginx proxy header");
    for (const image of [first, second]) {
        console.log(`demo: ${registry.address}/${repository}:${image.tag} → ${image.digest} "${image.description}"`);
    }
    const served = servedUrl(dev);
    let proxyImage: string | undefined;
    if (!swarm) {
        step("building and pushing the proxy's image (images/caddy: the Caddy scripts/install-tools built)");
        const proxyRepository = dev.proxy!.repository;
        const proxy = buildProxyImage(dockerd.host, `${registry.address}/${proxyRepository}`, proxyImageSource(path.join(demoDir, "caddy-src")));
        proxyImage = `${proxyRepository}:${proxy.tag}`;
        console.log(`demo: ${registry.address}/${proxyImage} → ${proxy.digest}`);
    }

    step(`pulumi up of the dev workspace with hello-world:tag ${second.tag}${swarm ? " (iac:target swarm)" : ""}`);
    const workDir = path.join(demoDir, "workspace");
    fs.mkdirSync(workDir);
    fs.copyFileSync(path.join(projectRoot, "Pulumi.dev.yaml"), path.join(workDir, "Pulumi.dev.yaml"));
    const workspace = await openWorkspace({ workDir, stateDir: backend.stateDir, backendUrl: backend.backendUrl, env: backend.env, passphrase });
    const stack = await Stack.create("dev", workspace);
    await stack.setConfig("iac:sshPrivateKey", { value: ssh.privateKey, secret: true });
    await stack.setConfig("iac:sshHostKey", { value: ssh.hostKey });
    await stack.setConfig("hello-world:tag", { value: second.tag });
    if (proxyImage) {
        await stack.setConfig("iac:proxyImage", { value: proxyImage });
    } else {
        // A swarm has no proxy yet (docs/zero-downtime.md): hello-world listens on the proxy's port itself.
        await stack.setConfig("iac:target", { value: "swarm" });
        await stack.removeConfig("hello-world:proxy");
        await stack.setConfig("hello-world:environment.PORT", { value: String(served.port) }, true);
    }
    await stack.up({ color: "always", onOutput: (out) => process.stdout.write(out) });

    step("pulumi stack output overview");
    console.log((await stack.outputs()).overview.value);

    step(`hello-world is served on ${served.url}${swarm ? " (by the swarm's task)" : " (by the proxy)"}`);
    const page = await fetchPage(served.url);
    console.log(`demo: GET ${served.url} → ${page.status} "${page.title}"`);

    const env = path.join(demoDir, "env");
    fs.writeFileSync(env, [
        `source ${path.join(projectRoot, "scripts", "tools-env")}`,
        `export PULUMI_BACKEND_URL=${backend.backendUrl ?? `file://${backend.stateDir}`}`,
        ...Object.entries(backend.env).map(([name, value]) => `export ${name}=${value}`),
        `export PULUMI_CONFIG_PASSPHRASE=${passphrase}`,
        `export DOCKER_HOST=${dockerd.host}`,
        `cd ${workDir}`,
        "",
    ].join("\n"));
    step("hello-world runs; roll back by config");
    console.log([
        `  curl -s ${served.url}            # the page shows version ${second.tag}`,
        `  source ${path.relative(process.cwd(), env)}                     # pulumi, its state and the demo's workspace`,
        `  npm run images:overview -- dev ${repository} --identity ${path.relative(process.cwd(), ssh.privateKeyFile)}`,
        `  pulumi config set hello-world:tag ${first.tag}       # "initial deploy"`,
        "  pulumi up",
        "  pulumi stack output overview",
        `  npm run demo -- --stop                       # ${swarm ? "leave the swarm, " : ""}stop the demo's dockerd, registry${team ? ", sshd and PostgreSQL" : " and sshd"}`,
    ].join("\n"));
}

/** Where hello-world answers: the proxy's address and port for it, as the dev workspace configures them. */
function servedUrl(dev: Workspace): { url: string; port: number } {
    const port = dev.apps.find((app) => app.name === "hello-world")?.proxy?.port;
    if (port === undefined) {
        throw new Error("Pulumi.dev.yaml sets no hello-world:proxy.port: the demo serves hello-world through the proxy");
    }
    return { url: `http://${dev.proxy?.address || "127.0.0.1"}:${port}/`, port };
}

/** One GET of the page, as a visitor would: its status and title; anything but 200 fails the demo. */
async function fetchPage(url: string): Promise<{ status: number; title: string }> {
    const page = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((error: Error) => {
        // fetch says only "fetch failed"; what failed (refused, reset) is its cause.
        throw new Error(`GET ${url}: ${error.cause instanceof Error ? error.cause.message : error.message}`);
    });
    const body = await page.text();
    if (page.status !== 200) {
        throw new Error(`GET ${url} answered ${page.status}: ${printable(body.slice(0, 200))}`);
    }
    return { status: page.status, title: printable(/<title>([^<]*)<\/title>/.exec(body)?.[1] ?? "") };
}

main().catch((error: Error) => {
    console.error(`demo: ${error.message}`);
    process.exitCode = 1;
});
