// The proxy builders' shell, run over a real SSH host against a real Caddy (local/caddy.ts, the binary
// scripts/install-tools builds) whose admin socket that host reaches: the colours are small HTTP servers on
// loopback, each answering slowly enough that a switch always has requests in flight.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import { AppLocation } from "../../components/remote/layout";
import {
    ObservedProxyRoute, ProxyListen, ProxyUnreachableError, canonicalJson, colourPortFreeCheck, parseProxyRoute, proxyApiFunction, proxyRoute, proxyRouteId, readProxyRoute,
    removeProxyRoute, switchProxyRoute, upstreamFile,
} from "../../components/remote/proxy";
import { sayFunction, script, shellQuote } from "../../components/remote/shell";
import { CaddyServer, startCaddy } from "../../local/caddy";
import { SshHost, freePort, startSshHost } from "../../local/sshd";
import { runOverSsh } from "../helpers/ssh";
import { startTraffic } from "../helpers/traffic";

/** One colour of an app: answers `/` with its name after `delayMs`, and `/up` with 200 while healthy, else 503. */
interface Colour {
    name: string;
    port: number;
    healthy: boolean;
    /** Requests to `/` it answered. */
    served: number;
    close(): Promise<void>;
}

async function startColour(name: string, delayMs = 50, port?: number): Promise<Colour> {
    port ??= await freePort();
    const colour: Colour = { name, port, healthy: true, served: 0, close: async () => undefined };
    const server = http.createServer((req, res) => {
        if (req.url === "/up") {
            res.writeHead(colour.healthy ? 200 : 503).end();
            return;
        }
        setTimeout(() => {
            colour.served += 1;
            res.writeHead(200, { "content-type": "text/plain" }).end(name);
        }, delayMs);
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    colour.close = () => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
    });
    return colour;
}

async function page(port: number, hostName?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, path: "/", agent: false, headers: hostName ? { host: hostName } : {} }, (res) => {
            let body = "";
            res.on("data", (chunk) => body += chunk);
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        }).once("error", reject);
    });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("proxy builders against a real Caddy, over a real SSH host", function () {
    this.timeout(120_000);
    let caddy: CaddyServer;
    let ssh: SshHost;
    const colours: Colour[] = [];
    let listen: ProxyListen;
    const web: AppLocation = { app: "web", workspace: "dev", org: "rednaw", deployRoot: "/opt" };
    const api: AppLocation = { ...web, app: "api" };

    const onHost = (app: string, lines: string[]) => runOverSsh(ssh, script(sayFunction(app), proxyApiFunction(caddy.admin), lines));
    const switchTo = (location: AppLocation, colour: Colour, hostName?: string) =>
        onHost(location.app, switchProxyRoute(caddy.admin, { ...location, listen, hostName, healthPath: "/up" }, colour.port));
    const readBack = async (location: AppLocation): Promise<ObservedProxyRoute | undefined> => {
        const result = await onHost(location.app, readProxyRoute(caddy.admin, location));
        assert.strictEqual(result.status, 0, result.stderr);
        return parseProxyRoute(caddy.admin, location, result.stdout);
    };
    /** How many times Caddy has replaced its servers: once per change of its config. */
    const reloads = () => fs.readFileSync(caddy.logFile, "utf8").split("\n").filter((line) => line.includes('"msg":"stopped previous server"')).length;

    before(async () => {
        caddy = await startCaddy();
        ssh = await startSshHost();
        listen = { address: "127.0.0.1", port: await freePort() };
        for (const name of ["blue", "green", "broken", "api"]) {
            colours.push(await startColour(name));
        }
        colours[2].healthy = false;
    });
    after(async () => {
        await Promise.all(colours.map((colour) => colour.close()));
        await ssh?.stop();
        await caddy?.stop();
    });

    it("switches an app from one colour to the other under about 50 requests a second without failing one", async () => {
        const [blue, green] = colours;
        const first = await switchTo(web, blue);
        assert.strictEqual(first.status, 0, first.stderr);
        assert.deepStrictEqual(await page(listen.port), { status: 200, body: "blue" });

        const traffic = startTraffic(`http://127.0.0.1:${listen.port}/`);
        await sleep(1500);
        const servedByBlue = blue.served;
        // Back and forth, ending on green: each switch with requests in flight on the colour it leaves.
        for (const colour of [green, blue, green]) {
            const switched = await switchTo(web, colour);
            assert.strictEqual(switched.status, 0, switched.stderr);
            await sleep(750);
        }
        const report = await traffic.stop();

        assert.deepStrictEqual(report.failures, {});
        assert.strictEqual(report.answered, report.sent);
        assert.ok(report.sent >= 150, `only ${report.sent} requests sent in over 3 s`);
        assert.ok(servedByBlue > 0 && green.served > 0, `blue served ${servedByBlue}, green ${green.served}`);
        assert.deepStrictEqual(await page(listen.port), { status: 200, body: "green" });
        assert.deepStrictEqual(await readBack(web), { upstreamPort: green.port, healthPath: "/up" });
        console.log(`      3 switches: ${report.sent} requests, ${report.failed} failed, longest gap ${report.longestGapMs.toFixed(0)} ms`);
    });

    it("switches back and forth under about 500 requests a second, each on a new connection, without changing the proxy's config", async () => {
        const [blue, green] = colours;
        const before = reloads();
        const traffic = startTraffic(`http://127.0.0.1:${listen.port}/`, { intervalMs: 2 });
        // A change of Caddy's config closed about one such connection per change without an answer.
        for (const colour of [blue, green, blue, green, blue, green, blue, green, blue, green]) {
            const switched = await switchTo(web, colour);
            assert.strictEqual(switched.status, 0, switched.stderr);
            await sleep(200);
        }
        const report = await traffic.stop();
        assert.deepStrictEqual(report.failures, {});
        assert.strictEqual(reloads(), before, "switches of a route as set change no config");
        assert.deepStrictEqual(await readBack(web), { upstreamPort: green.port, healthPath: "/up" });
        console.log(`      10 switches: ${report.sent} requests, ${report.failed} failed, longest gap ${report.longestGapMs.toFixed(0)} ms`);
    });

    it("refuses a colour that fails its health check: the route and the traffic stay where they were", async () => {
        const [, green, broken] = colours;
        const traffic = startTraffic(`http://127.0.0.1:${listen.port}/`);
        const refused = await switchTo(web, broken);
        await sleep(500);
        const report = await traffic.stop();

        assert.notStrictEqual(refused.status, 0);
        assert.match(refused.stderr, new RegExp(`does not pass its health check: GET http://127\\.0\\.0\\.1:${broken.port}/up answered HTTP 503`));
        assert.deepStrictEqual(report.failures, {});
        assert.strictEqual(broken.served, 0);
        assert.deepStrictEqual(await readBack(web), { upstreamPort: green.port, healthPath: "/up" });
    });

    it("holds a request while the port its route's file names refuses, until a colour listens there (try_duration)", async () => {
        const [, green] = colours;
        const file = upstreamFile(caddy.admin, web).onHost;
        const late = await freePort();
        fs.writeFileSync(file, `${late}\n`);
        let lateColour: Colour | undefined;
        try {
            const answer = page(listen.port);
            await sleep(800);
            lateColour = await startColour("late", 0, late);
            assert.deepStrictEqual(await answer, { status: 200, body: "late" });
        } finally {
            fs.writeFileSync(file, `${green.port}\n`);
            await lateColour?.close();
        }
        assert.deepStrictEqual(await page(listen.port), { status: 200, body: "green" });
    });

    it("takes an upstream that turns unhealthy out of service by the proxy's own check, and never sends it a request", async () => {
        const upstream = colours[3];
        const added = await switchTo(api, upstream, "api.example.test");
        assert.strictEqual(added.status, 0, added.stderr);
        assert.deepStrictEqual(await page(listen.port, "api.example.test"), { status: 200, body: "api" });

        upstream.healthy = false;
        const deadline = Date.now() + 10_000;
        while ((await page(listen.port, "api.example.test")).status !== 503) {
            assert.ok(Date.now() < deadline, "the proxy still forwards to an upstream failing its health check after 10 s");
            await sleep(200);
        }
        const served = upstream.served;
        // Each waits the route's try_duration for an upstream in service before its 503.
        for (let i = 0; i < 2; i++) {
            assert.strictEqual((await page(listen.port, "api.example.test")).status, 503);
        }
        assert.strictEqual(upstream.served, served);
        upstream.healthy = true;
    });

    it("routes two apps on one port by host name, and one app's switch leaves the other's route as it was", async () => {
        const [blue] = colours;
        const apiRoute = (await onHost("api", [`proxy_api GET ${shellQuote(`/id/${proxyRouteId(api)}`)}`, "printf '%s' \"$proxy_body\""])).stdout;
        // Byte for byte as canonicalJson writes it: how a deploy tells a route as it set it from one changed since.
        assert.strictEqual(apiRoute, canonicalJson(proxyRoute(caddy.admin, { ...api, listen, hostName: "api.example.test", healthPath: "/up" })));
        const switched = await switchTo(web, blue);
        assert.strictEqual(switched.status, 0, switched.stderr);
        assert.strictEqual((await onHost("api", [`proxy_api GET ${shellQuote(`/id/${proxyRouteId(api)}`)}`, "printf '%s' \"$proxy_body\""])).stdout, apiRoute);
        assert.deepStrictEqual(await readBack(web), { upstreamPort: blue.port, healthPath: "/up" });
    });

    it("removes an app's route, and reads it back as absent", async () => {
        const removed = await onHost("api", removeProxyRoute(caddy.admin, api));
        assert.strictEqual(removed.status, 0, removed.stderr);
        assert.strictEqual(await readBack(api), undefined);
        assert.strictEqual((await onHost("api", removeProxyRoute(caddy.admin, api))).status, 0);
        assert.deepStrictEqual((await readBack(web))?.upstreamPort, colours[0].port);
    });

    it("reads an admin socket that does not answer as a proxy that does not answer, for refresh to report", async () => {
        const result = await runOverSsh(ssh, script(sayFunction("web"), proxyApiFunction({ ...caddy.admin, socket: `${caddy.dir}/no-such.sock` }),
            readProxyRoute(caddy.admin, web)));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.throws(() => parseProxyRoute(caddy.admin, web, result.stdout),
            (error: Error) => error instanceof ProxyUnreachableError && /does not answer on its admin socket/.test(error.message));
    });

    it("lets a colour start only on a port where nothing listens", async () => {
        const free = await freePort();
        assert.strictEqual((await onHost("web", colourPortFreeCheck(free))).status, 0);
        const taken = await onHost("web", colourPortFreeCheck(colours[0].port));
        assert.notStrictEqual(taken.status, 0);
        assert.match(taken.stderr, new RegExp(`port ${colours[0].port} is already in use on this host`));
    });

    it("has its admin API on the unix socket only", async () => {
        const result = await onHost("web", ["proxy_api GET /config/admin/listen", "printf '%s' \"$proxy_body\""]);
        assert.strictEqual(JSON.parse(result.stdout), `unix/${caddy.adminSocket}`);
    });
});
