// The proxy as it runs on a host: the image images/caddy built and pushed by scripts/build-image to a real Registry
// v3, started by ensureProxyRunning's lines over a real SSH host on a real dockerd, reconfigured through the admin
// socket in its host dir by proxy.ts's switch, and kept (routes included) through restarts and recreations.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AppLocation } from "../../components/remote/layout";
import { ObservedProxyRoute, ProxyListen, parseProxyRoute, proxyApiFunction, readProxyRoute, switchProxyRoute } from "../../components/remote/proxy";
import { ensureProxyRunning, observeProxy, proxyAdminOf, proxyContainerName, proxyHostDir } from "../../components/remote/proxy-host";
import { sayFunction, script } from "../../components/remote/shell";
import { DockerEngine, startDockerd } from "../../local/dockerd";
import { BuiltProxyImage, buildProxyImage, proxyImageDir } from "../../local/proxy-image";
import { RegistryServer, startRegistry } from "../../local/registry";
import { SshHost, freePort, startSshHost } from "../../local/sshd";
import { RemoteResult, runOverSsh } from "../helpers/ssh";

const projectRoot = path.resolve(__dirname, "..", "..");

/** GET over the host's admin socket, as a user of the host who may open it. */
function adminGet(socketPath: string, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        http.get({ socketPath, path: urlPath, agent: false }, (res) => {
            let body = "";
            res.on("data", (chunk) => body += chunk);
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        }).once("error", reject);
    });
}

function page(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
            let body = "";
            res.on("data", (chunk) => body += chunk);
            res.on("end", () => resolve(`${res.statusCode} ${body}`));
        }).once("error", reject);
    });
}

describe("the proxy container on a host: images/caddy from Registry v3, started over SSH on a real dockerd (one scenario, in order)", function () {
    this.timeout(600_000);
    let dockerd: DockerEngine;
    let registry: RegistryServer;
    let ssh: SshHost;
    let proxy: BuiltProxyImage;
    let colour: http.Server;
    let colourPort: number;
    let listen: ProxyListen;
    let web: AppLocation;
    let name: string;

    const docker = (...args: string[]) => execFileSync("docker", args, {
        encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerd.host }, stdio: ["ignore", "pipe", "pipe"],
    }).trim();
    const inspect = (format: string) => docker("inspect", "--type", "container", "--format", format, name);
    const ensure = (ref: string): Promise<RemoteResult> => runOverSsh(ssh, script(
        "set -eu", sayFunction("proxy"), "fail() { say \"$1\"; exit 1; }", ensureProxyRunning({ deployRoot: ssh.deployRoot, ref })));
    const observe = async (): Promise<string> => {
        const result = await runOverSsh(ssh, script("set -eu", observeProxy(ssh.deployRoot)));
        assert.strictEqual(result.status, 0, result.stderr);
        return result.stdout;
    };
    const admin = () => proxyAdminOf(ssh.deployRoot);
    const onAdmin = (lines: string[]) => runOverSsh(ssh, script(sayFunction("web"), proxyApiFunction(admin()), lines));
    const route = async (): Promise<ObservedProxyRoute | undefined> => {
        const result = await onAdmin(readProxyRoute(admin(), web));
        assert.strictEqual(result.status, 0, result.stderr);
        return parseProxyRoute(admin(), web, result.stdout);
    };
    /** What the proxy's process listens on over TCP, from the host's socket table: `address:port` per listener. */
    const tcpListeners = () => {
        const pid = inspect("{{.State.Pid}}");
        return execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).split("\n")
            .filter((line) => line.includes(`pid=${pid},`)).map((line) => line.trim().split(/\s+/)[3]).sort();
    };

    before(async () => {
        dockerd = await startDockerd();
        registry = await startRegistry({ flavour: "v3" });
        ssh = await startSshHost({ dockerHost: dockerd.host });
        proxy = buildProxyImage(dockerd.host, `${registry.address}/iac/caddy`);
        name = proxyContainerName(ssh.deployRoot);
        web = { app: "web", workspace: "dev", org: "rednaw", deployRoot: ssh.deployRoot };
        listen = { address: "127.0.0.1", port: await freePort() };
        colourPort = await freePort();
        colour = http.createServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(req.url === "/up" ? "ok" : "blue"));
        await new Promise<void>((resolve) => colour.listen(colourPort, "127.0.0.1", resolve));
    });
    after(async () => {
        colour?.closeAllConnections();
        colour?.close();
        if (dockerd && name) {
            try {
                docker("rm", "-f", name);
            } catch {
                // never started: nothing to remove
            }
        }
        await ssh?.stop();
        await registry?.stop();
        await dockerd?.stop();
    });

    it("pushes images/caddy with one short-SHA tag and the labels of scripts/image-labels, like an app", async () => {
        const labels = JSON.parse(docker("image", "inspect", "--format", "{{json .Config.Labels}}", proxy.ref)) as Record<string, string>;
        const expected = execFileSync(path.join(projectRoot, "scripts", "image-labels"), [proxyImageDir], { encoding: "utf8" })
            .trim().split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2));
        assert.deepStrictEqual(Object.entries(labels).sort(), expected.sort());
        const tagged = await fetch(`http://${registry.address}/v2/iac/caddy/manifests/${proxy.tag}`, {
            method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" },
        });
        assert.strictEqual(tagged.headers.get("docker-content-digest"), proxy.digest);
        const tags = await (await fetch(`http://${registry.address}/v2/iac/caddy/tags/list`)).json() as { tags: string[] };
        assert.deepStrictEqual(tags.tags, [proxy.tag]);
        assert.strictEqual(docker("run", "--rm", "--network", "none", "--entrypoint", "/usr/bin/caddy", proxy.ref, "version").split(" ")[0],
            execFileSync(path.join(projectRoot, ".tools", "bin", "caddy"), ["version"], { encoding: "utf8" }).split(" ")[0]);
    });

    it("prints no proxy before one runs", async () => {
        assert.strictEqual(await observe(), "");
    });

    it("starts the proxy from the pinned digest, in its own dir, and waits until the admin API answers on the host's socket", async () => {
        const result = await ensure(proxy.ref);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, new RegExp(`proxy: starting the proxy ${name} from ${proxy.ref}`));

        assert.strictEqual(inspect("{{.State.Running}} {{.Config.Image}} {{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy.Name}}"),
            `true ${proxy.ref} host unless-stopped`);
        const imageId = inspect("{{.Image}}");
        assert.ok(docker("image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", imageId).split("\n").includes(proxy.ref));
        assert.deepStrictEqual(JSON.parse(inspect("{{json .Mounts}}")).map((m: { Source: string; Destination: string }) => [m.Source, m.Destination]),
            [[proxyHostDir(ssh.deployRoot), "/run/iac-proxy"]]);
        assert.strictEqual(JSON.parse(inspect("{{json .Config.Labels}}"))["iac.proxy.dir"], proxyHostDir(ssh.deployRoot));

        const dir = fs.statSync(proxyHostDir(ssh.deployRoot));
        assert.strictEqual(dir.mode & 0o777, 0o700);
        assert.strictEqual(dir.uid, os.userInfo().uid);
        const config = await adminGet(proxyAdminOf(ssh.deployRoot).socket, "/config/");
        assert.strictEqual(config.status, 200, config.body);
        assert.deepStrictEqual(JSON.parse(config.body).admin, { listen: "unix//run/iac-proxy/admin.sock|0666", config: { persist: true } });
        assert.strictEqual(await observe(), `${proxy.ref}\n`);
    });

    it("serves a route set through the switch, with its admin API on the socket and on no TCP port", async () => {
        // The route's file, in the dir the container mounts, is what the proxy in the container reads the port from.
        const switched = await onAdmin(switchProxyRoute(admin(), { ...web, listen, healthPath: "/up" }, colourPort));
        assert.strictEqual(switched.status, 0, switched.stderr);
        assert.strictEqual(await page(listen.port), "200 blue");
        // The server the route added is the proxy's one TCP listener: the table sees its listeners, and no admin port.
        assert.deepStrictEqual(tcpListeners(), [`127.0.0.1:${listen.port}`]);
        const pid = inspect("{{.State.Pid}}");
        const unixListeners = execFileSync("ss", ["-lxpH"], { encoding: "utf8" }).split("\n").filter((line) => line.includes(`pid=${pid},`));
        assert.ok(unixListeners.some((line) => line.includes("/run/iac-proxy/admin.sock")), unixListeners.join("\n"));
    });

    it("lets only the dir's owner reach the admin socket: the dir's mode is the gate, which ensure sets back", async () => {
        const socket = proxyAdminOf(ssh.deployRoot).socket;
        assert.strictEqual(fs.statSync(socket).mode & 0o777, 0o666);
        /** curl's exit status for `nobody` asking the admin API: 0 answered, 7 could not connect. */
        const asNobody = () => spawnSync("runuser", ["-u", "nobody", "--", "curl", "-fsS", "-o", "/dev/null", "--unix-socket", socket, "http://localhost/config/"]).status;
        // The temp dirs above the deploy root are the test's own (0700): opened to others for this check only.
        const parents = [ssh.dir, ssh.deployRoot];
        const modes = parents.map((dir) => fs.statSync(dir).mode & 0o777);
        try {
            parents.forEach((dir) => fs.chmodSync(dir, 0o711));
            assert.strictEqual(asNobody(), 7);
            fs.chmodSync(proxyHostDir(ssh.deployRoot), 0o755);
            assert.strictEqual(asNobody(), 0, "with the dir open, anyone reaches the socket: the socket's mode gates nothing");
            const result = await ensure(proxy.ref);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.strictEqual(fs.statSync(proxyHostDir(ssh.deployRoot)).mode & 0o777, 0o700);
            assert.strictEqual(asNobody(), 7);
        } finally {
            parents.forEach((dir, i) => fs.chmodSync(dir, modes[i]));
        }
    });

    it("does nothing when the proxy already runs the pinned digest", async () => {
        const before = inspect("{{.Id}} {{.State.StartedAt}}");
        const result = await ensure(proxy.ref);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(result.stderr, "");
        assert.strictEqual(inspect("{{.Id}} {{.State.StartedAt}}"), before);
    });

    it("keeps its routes through a docker restart", async () => {
        const before = inspect("{{.State.StartedAt}}");
        docker("restart", name);
        assert.notStrictEqual(inspect("{{.State.StartedAt}}"), before);
        const result = await ensure(proxy.ref);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(await route(), { upstreamPort: colourPort, healthPath: "/up" });
        assert.strictEqual(await page(listen.port), "200 blue");
    });

    it("comes back with its routes when its container is removed and the proxy ensured again", async () => {
        const before = inspect("{{.Id}}");
        docker("rm", "-f", name);
        assert.strictEqual(await observe(), "");
        const result = await ensure(proxy.ref);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /starting the proxy/);
        assert.notStrictEqual(inspect("{{.Id}}"), before);
        assert.deepStrictEqual(await route(), { upstreamPort: colourPort, healthPath: "/up" });
        assert.strictEqual(await page(listen.port), "200 blue");
        assert.strictEqual(await observe(), `${proxy.ref}\n`);
    });

    it("starts a stopped proxy again", async () => {
        docker("stop", name);
        assert.strictEqual(await observe(), "");
        const result = await ensure(proxy.ref);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, new RegExp(`the proxy ${name} is exited: starting it again from ${proxy.ref}`));
        assert.strictEqual(await page(listen.port), "200 blue");
    });

    it("refuses another digest, naming both and what to do, and leaves the running proxy as it was", async () => {
        // Another build of the proxy: the same image with one more label, pushed to the same repository.
        const context = fs.mkdtempSync(path.join(os.tmpdir(), "iac-proxy-other-"));
        let otherRef: string;
        try {
            fs.writeFileSync(path.join(context, "Dockerfile"), `FROM ${proxy.ref}\nLABEL test.variant=other\n`);
            docker("build", "--quiet", "--tag", `${registry.address}/iac/caddy:other`, context);
            const pushed = docker("push", `${registry.address}/iac/caddy:other`);
            otherRef = `${registry.address}/iac/caddy@${/digest: (sha256:[a-f0-9]{64})/.exec(pushed)![1]}`;
        } finally {
            fs.rmSync(context, { recursive: true, force: true });
        }
        assert.notStrictEqual(otherRef, proxy.ref);
        const before = inspect("{{.Id}} {{.State.StartedAt}}");
        const result = await ensure(otherRef);
        assert.strictEqual(result.status, 1);
        assert.ok(result.stderr.includes(`the proxy ${name} on this host runs ${proxy.ref}, and this workspace pins ${otherRef}: ` +
            `pin the digest the host runs, or move the host to the new one: docker rm -f ${name} there, then deploy again`), result.stderr);
        assert.strictEqual(inspect("{{.Id}} {{.State.StartedAt}}"), before);
        assert.strictEqual(await observe(), `${proxy.ref}\n`);
    });

    it("refuses a container it did not start that holds the proxy's name", async () => {
        docker("rm", "-f", name);
        docker("create", "--name", name, proxy.ref);
        const result = await ensure(proxy.ref);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, new RegExp(`a container named ${name} that this program did not start holds the proxy's name`));
        assert.strictEqual(inspect("{{.State.Status}}"), "created");
        docker("rm", "-f", name);
    });
});
