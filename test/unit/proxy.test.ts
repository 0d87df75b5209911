// The proxy's host-side shell and the colours' ports: the text as built, the admin API requests it makes (through
// a stand-in curl that reports what it was given), and the port rules.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { AppLocation, appDir } from "../../components/remote/layout";
import {
    PortAssignmentError, ProxyAdmin, ProxyRouteSpec, ProxyUnreachableError, UnexpectedProxyRouteError, assignColourPorts, canonicalJson, colourPorts,
    drainColour, parseProxyRoute, parsePortRange, proxyApiFunction, proxyRoute, proxyRouteAbsent, proxyRouteId, proxyServer,
    proxyServerId, readProxyRoute, removeProxyRoute, switchProxyRoute, upstreamFile,
} from "../../components/remote/proxy";
import { sayFunction, script } from "../../components/remote/shell";

const location: AppLocation = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt" };
const spec: ProxyRouteSpec = { ...location, listen: { port: 8080 }, healthPath: "/up" };
const port = 20001;
/** The routes' files in a temp dir, as the host's shell writes them; Caddy's view of them as in its container. */
const admin: ProxyAdmin = {
    socket: "/run/iac-proxy/admin.sock",
    upstreams: { onHost: fs.mkdtempSync(path.join(os.tmpdir(), "iac-proxy-upstreams-")), inProxy: "/run/iac-proxy/upstreams" },
};
const routeFile = () => upstreamFile(admin, location).onHost;
const namedPort = () => fs.readFileSync(routeFile(), "utf8");

const parses = (text: string) => spawnSync("sh", ["-n"], { input: text }).status === 0;

/**
 * Runs `lines` with a curl that logs its arguments and stdin, one request per line of the log, and answers each
 * request with the next of `answers` (body and status), as curl -w '\n%{http_code}' prints them.
 */
function runWithStandInCurl(lines: string[], answers: string[]): { status: number | null; stdout: string; stderr: string; requests: string[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-proxy-curl-"));
    try {
        fs.writeFileSync(path.join(dir, "answers"), answers.join("\n") + "\n");
        fs.writeFileSync(path.join(dir, "curl"), [
            "#!/bin/sh",
            `log=${dir}/requests`,
            "body=$(cat)",
            "printf '%s|%s\\n' \"$*\" \"$body\" >> \"$log\"",
            `answer=$(head -n 1 ${dir}/answers); sed -i 1d ${dir}/answers`,
            "printf '%b' \"$answer\"",
        ].join("\n"), { mode: 0o755 });
        const result = spawnSync("sh", ["-c", script(sayFunction("test"), proxyApiFunction(admin), lines)],
            { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
        const log = path.join(dir, "requests");
        return { status: result.status, stdout: result.stdout, stderr: result.stderr, requests: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [] };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

after(() => fs.rmSync(admin.upstreams.onHost, { recursive: true, force: true }));

describe("proxy route", () => {
    it("sends the app to the loopback port its file names, behind an active health check of its health path", () => {
        const route = proxyRoute(admin, spec) as { "@id": string; match?: unknown; handle: { upstreams: { dial: string }[]; health_checks: { active: { uri: string } } }[] };
        assert.strictEqual(route["@id"], proxyRouteId(location));
        assert.strictEqual(route.match, undefined);
        assert.deepStrictEqual(route.handle[0].upstreams, [{ dial: `127.0.0.1:{file./run/iac-proxy/upstreams/${proxyRouteId(location)}}` }]);
        assert.strictEqual(route.handle[0].health_checks.active.uri, spec.healthPath);
        assert.deepStrictEqual((proxyRoute(admin, { ...spec, hostName: "app.example.com" }) as { match: unknown }).match, [{ host: ["app.example.com"] }]);
        assert.strictEqual(routeFile(), `${admin.upstreams.onHost}/${proxyRouteId(location)}`);
    });

    it("has an id per app dir: two workspaces' routes of one app never share one", () => {
        const other = proxyRouteId({ ...location, org: "other" });
        const otherRoot = proxyRouteId({ ...location, deployRoot: "/srv" });
        assert.strictEqual(new Set([proxyRouteId(location), other, otherRoot]).size, 3);
        assert.strictEqual(proxyRouteId({ ...location, deployRoot: "/opt/." }), proxyRouteId(location));
    });

    it("has a server per listen address, with plain HTTP", () => {
        assert.notStrictEqual(proxyServerId({ port: 8080 }), proxyServerId({ port: 8080, address: "127.0.0.1" }));
        assert.deepStrictEqual((proxyServer({ port: 8080, address: "127.0.0.1" }) as { listen: string[] }).listen, ["127.0.0.1:8080"]);
        assert.deepStrictEqual((proxyServer({ port: 8080 }) as { listen: string[] }).listen, [":8080"]);
    });

    it("refuses every value that is not what it claims to be before any text is built", () => {
        const refused: [string, Partial<ProxyRouteSpec>][] = [
            ["health path", { healthPath: "/up'; rm -rf /" }],
            ["health path", { healthPath: "up" }],
            ["health path", { healthPath: "/up now" }],
            ["host name", { hostName: "App.example.com" }],
            ["host name", { hostName: "*.example.com" }],
            ["host name", { hostName: "a..b" }],
            ["port", { listen: { port: 1.5 } }],
            ["listen address", { listen: { port: 80, address: "0.0.0.0; true" } }],
            ["listen address", { listen: { port: 80, address: "256.0.0.1" } }],
            ["app", { app: "Hello" }],
        ];
        for (const [kind, change] of refused) {
            assert.throws(() => switchProxyRoute(admin, { ...spec, ...change }, port), new RegExp(`invalid .*${kind}`), JSON.stringify(change));
        }
        for (const wrong of [0, 65536]) {
            assert.throws(() => switchProxyRoute(admin, spec, wrong), /invalid colour port/);
        }
        assert.throws(() => proxyApiFunction({ ...admin, socket: "admin.sock" }), /invalid proxy admin socket/);
        for (const inProxy of ["upstreams", "/run/{x}"]) {
            assert.throws(() => proxyRoute({ ...admin, upstreams: { ...admin.upstreams, inProxy } }, spec), /invalid proxy upstreams dir/);
        }
    });

    it("builds shell that sh reads", () => {
        for (const lines of [proxyApiFunction(admin), switchProxyRoute(admin, spec, port), readProxyRoute(admin, location), removeProxyRoute(admin, location)]) {
            assert.ok(parses(script(sayFunction("test"), lines)), lines.join("\n"));
        }
    });
});

describe("proxy switch, against a stand-in curl", () => {
    const healthy = "200";

    it("checks the colour's health, then names its port in the route's file, and changes no config when the route is as set", () => {
        fs.rmSync(routeFile(), { force: true });
        const asSet = `${canonicalJson(proxyRoute(admin, spec))}\\n200`;
        const result = runWithStandInCurl(switchProxyRoute(admin, spec, port), [healthy, "{}\\n200", asSet]);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.requests[0], new RegExp(`http://127\\.0\\.0\\.1:${port}/up\\|$`));
        assert.match(result.requests[1], new RegExp(`--unix-socket ${admin.socket} -X GET .*http://localhost/id/${proxyServerId(spec.listen)}\\|`));
        assert.match(result.requests[2], new RegExp(`-X GET .*http://localhost/id/${proxyRouteId(location)}\\|`));
        assert.strictEqual(result.requests.length, 3);
        assert.strictEqual(namedPort(), `${port}\n`);
        assert.deepStrictEqual(fs.readdirSync(admin.upstreams.onHost), [proxyRouteId(location)], "no staged file left");
    });

    it("sets a route that is not as set again by its id: the route's JSON reaches curl intact", () => {
        const withHost = { ...spec, hostName: "app.example.com" };
        const result = runWithStandInCurl(switchProxyRoute(admin, withHost, port), [healthy, "{}\\n200", "{}\\n200", "\\n200"]);
        assert.strictEqual(result.status, 0, result.stderr);
        const [args, body] = result.requests[3].split("|");
        assert.match(args, new RegExp(`-X PATCH .*http://localhost/id/${proxyRouteId(location)}$`));
        assert.deepStrictEqual(JSON.parse(body), proxyRoute(admin, withHost));
        assert.strictEqual(result.requests.length, 4);
    });

    it("fails saying so, the file as it was, when the route's file cannot be written", () => {
        fs.writeFileSync(routeFile(), "20000\n");
        // Where the new file is staged, a dir: writing it fails as on a full disk (this may run as root).
        fs.mkdirSync(`${routeFile()}.new`);
        try {
            const result = runWithStandInCurl(switchProxyRoute(admin, spec, port), [healthy]);
            assert.notStrictEqual(result.status, 0);
            assert.match(result.stderr, new RegExp(`could not write ${routeFile()}, which names the port the proxy sends hello-world to \\(disk full\\?\\)`));
            assert.strictEqual(result.requests.length, 1);
        } finally {
            fs.rmdirSync(`${routeFile()}.new`);
        }
        assert.strictEqual(namedPort(), "20000\n");
    });

    it("creates the server, then adds the route, when neither exists yet", () => {
        const notFound = "{\"error\":\"unknown object ID\"}\\n404";
        const result = runWithStandInCurl(switchProxyRoute(admin, spec, port), [healthy, notFound, "\\n200", notFound, "\\n200"]);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.requests[2], new RegExp(`-X PUT .*http://localhost/config/apps/http/servers/${proxyServerId(spec.listen)}\\|`));
        assert.deepStrictEqual(JSON.parse(result.requests[2].split("|")[1]), proxyServer(spec.listen));
        assert.match(result.requests[4], new RegExp(`-X POST .*http://localhost/id/${proxyServerId(spec.listen)}/routes\\|`));
        assert.deepStrictEqual(JSON.parse(result.requests[4].split("|")[1]), proxyRoute(admin, spec));
    });

    it("adds a route by host name before the server's other routes, where the one without a host name cannot shadow it", () => {
        const withHost = { ...spec, hostName: "app.example.com" };
        const result = runWithStandInCurl(switchProxyRoute(admin, withHost, port), [healthy, "{}\\n200", "{}\\n404", "\\n200"]);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.requests[3], new RegExp(`-X PUT .*http://localhost/id/${proxyServerId(spec.listen)}/routes/0\\|`));
    });

    it("never touches the proxy or the route's file when the colour fails its health check, and says what it answered", () => {
        fs.writeFileSync(routeFile(), "20000\n");
        const result = runWithStandInCurl(switchProxyRoute(admin, spec, port), ["503"]);
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, new RegExp(`GET http://127\\.0\\.0\\.1:${port}/up answered HTTP 503`));
        assert.strictEqual(result.requests.length, 1);
        const silent = runWithStandInCurl(switchProxyRoute(admin, spec, port), ["000"]);
        assert.notStrictEqual(silent.status, 0);
        assert.match(silent.stderr, new RegExp(`GET http://127\\.0\\.0\\.1:${port}/up did not answer within \\d+ s`));
        assert.strictEqual(silent.requests.length, 1);
        assert.strictEqual(namedPort(), "20000\n");
    });

    it("fails naming the proxy's answer when it refuses the change", () => {
        const result = runWithStandInCurl(switchProxyRoute(admin, spec, port), [healthy, "{}\\n200", "{}\\n200", "{\"error\":\"loading config: bad\"}\\n400"]);
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, new RegExp(`the proxy refused setting route ${proxyRouteId(location)}: 400 \\{"error":"loading config: bad"\\}`));
    });

    it("reads the route back, or says it has none or that the proxy does not answer, for refresh to tell apart", () => {
        fs.writeFileSync(routeFile(), `${port}\n`);
        const found = runWithStandInCurl(readProxyRoute(admin, location), [`${JSON.stringify(proxyRoute(admin, spec))}\\n200`]);
        assert.strictEqual(found.status, 0);
        assert.deepStrictEqual(parseProxyRoute(admin, location, found.stdout), { upstreamPort: port, healthPath: spec.healthPath });
        const absent = runWithStandInCurl(readProxyRoute(admin, location), ["{}\\n404"]);
        assert.strictEqual(absent.status, 0);
        assert.strictEqual(parseProxyRoute(admin, location, absent.stdout), undefined);
        const down = runWithStandInCurl(readProxyRoute(admin, location), ["\\n000"]);
        assert.strictEqual(down.status, 0);
        assert.throws(() => parseProxyRoute(admin, location, down.stdout),
            (error: Error) => error instanceof ProxyUnreachableError && /does not answer on its admin socket/.test(error.message));
    });

    it("removes the route by its id, then its file, a route already gone or a proxy that does not answer included", () => {
        for (const [answer, fileLeft] of [["\\n200", false], ["{}\\n404", false], ["\\n000", true]] as const) {
            fs.writeFileSync(routeFile(), `${port}\n`);
            const result = runWithStandInCurl(removeProxyRoute(admin, location), [answer]);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.match(result.requests[0], new RegExp(`-X DELETE .*http://localhost/id/${proxyRouteId(location)}\\|`));
            assert.strictEqual(fs.existsSync(routeFile()), fileLeft, answer);
        }
        assert.notStrictEqual(runWithStandInCurl(removeProxyRoute(admin, location), ["\\n500"]).status, 0);
        assert.ok(fs.existsSync(routeFile()), "a route the proxy still has keeps its file");
    });

    it("removes a server of ours left without a route, freeing its port, and keeps one still in use", () => {
        const servers = JSON.stringify({ "iac-server-127-0-0-1-8080": { routes: [] }, "iac-server-9090": { routes: [{}] }, other: { routes: [] } });
        const result = runWithStandInCurl(removeProxyRoute(admin, location), ["\\n200", `${servers}\\n200`, "[]\\n200", "\\n200", "[{}]\\n200"]);
        assert.strictEqual(result.status, 0, result.stderr);
        const deleted = result.requests.filter((request) => request.includes("-X DELETE")).map((request) => /http:\/\/localhost([^\s|]+)/.exec(request)?.[1]);
        assert.deepStrictEqual(deleted, [`/id/${proxyRouteId(location)}`, "/config/apps/http/servers/iac-server-127-0-0-1-8080"]);
    });
});

describe("the drain of the old colour, against this machine's table of connections", () => {
    /** Runs the drain of `port` in the background; resolves with its exit status, stderr and seconds taken. */
    const drain = (port: number, seconds: number) => new Promise<{ status: number | null; stderr: string; took: number }>((resolve) => {
        const start = performance.now();
        const child = spawn("sh", ["-c", script(sayFunction("test"), [`old_port=${port}`], drainColour(seconds))]);
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("exit", (status) => resolve({ status, stderr, took: (performance.now() - start) / 1000 }));
    });
    let server: net.Server;
    let port: number;
    before(async () => {
        server = net.createServer(() => undefined);
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        port = (server.address() as net.AddressInfo).port;
    });
    after(() => server.close());

    it("waits while a connection to the old colour's port is open, and ends soon after it closes", async () => {
        const socket = net.connect(port, "127.0.0.1");
        await new Promise((resolve) => socket.once("connect", resolve));
        const draining = drain(port, 30);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        socket.destroy();
        const result = await draining;
        assert.strictEqual(result.status, 0, result.stderr);
        assert.ok(result.took >= 1.4 && result.took < 5, `took ${result.took} s`);
    });

    it("ends at once with no connection, and after its bound with one that stays, saying so", async () => {
        const idle = await drain(port, 30);
        assert.ok(idle.took < 1.5, `took ${idle.took} s`);
        const socket = net.connect(port, "127.0.0.1");
        await new Promise((resolve) => socket.once("connect", resolve));
        try {
            const bounded = await drain(port, 1);
            assert.strictEqual(bounded.status, 0);
            assert.match(bounded.stderr, /still in flight after 1 s: stopping it anyway/);
        } finally {
            socket.destroy();
        }
    });
});

describe("proxy route read back", () => {
    /** readProxyRoute's answer: the route's JSON, then what its file names. */
    const answer = (route: object, named: string) => `${JSON.stringify(route)}\nupstream-file ${named}\n`;

    it("gives back the port its file names, and the health path and host the route was written with", () => {
        const withHost = { ...spec, hostName: "app.example.com" };
        assert.deepStrictEqual(parseProxyRoute(admin, location, answer(proxyRoute(admin, withHost), "20003")),
            { upstreamPort: 20003, healthPath: withHost.healthPath, hostName: withHost.hostName });
        assert.deepStrictEqual(parseProxyRoute(admin, location, answer(proxyRoute(admin, spec), String(port))), { upstreamPort: port, healthPath: spec.healthPath });
        assert.strictEqual(parseProxyRoute(admin, location, `${proxyRouteAbsent}\n`), undefined);
    });

    it("refuses a route this program does not write, or a file that names no port, naming them", () => {
        const foreign = { handle: [{ handler: "static_response", body: "hi" }] };
        assert.throws(() => parseProxyRoute(admin, location, answer(foreign, String(port))),
            (error: Error) => error instanceof UnexpectedProxyRouteError && error.message.includes(proxyRouteId(location)));
        assert.throws(() => parseProxyRoute(admin, location, "<html>"), UnexpectedProxyRouteError);
        for (const dial of ["10.0.0.1:20001", "127.0.0.1:20001", "127.0.0.1:{file./etc/other}"]) {
            const elsewhere = JSON.parse(JSON.stringify(proxyRoute(admin, spec)));
            elsewhere.handle[0].upstreams[0].dial = dial;
            assert.throws(() => parseProxyRoute(admin, location, answer(elsewhere, String(port))), UnexpectedProxyRouteError, dial);
        }
        assert.throws(() => parseProxyRoute(admin, location, answer(proxyRoute(admin, spec), "")), /names no port \(it is missing or empty\)/);
        assert.throws(() => parseProxyRoute(admin, location, answer(proxyRoute(admin, spec), "x\u001b[2J")),
            (error: Error) => error.message.includes(`its file ${routeFile()} names no port`) && !error.message.includes("\u001b"));
    });
});

describe("canonicalJson", () => {
    it("writes JSON as Caddy gives its config back: keys sorted at every depth, no spaces, <>& escaped as Go does", () => {
        assert.strictEqual(canonicalJson({ b: 1, a: ["x&y", { d: null, c: "<>" }], e: true }),
            '{"a":["x\\u0026y",{"c":"\\u003c\\u003e","d":null}],"b":1,"e":true}');
    });
});

describe("colour ports", () => {
    const range = parsePortRange("20000-20199");
    const apps = Array.from({ length: 300 }, (_, i) => `app-${i}`);
    const dirOf = (app: string) => appDir({ ...location, app });

    it("gives each app two neighbouring ports inside its workspace's range, the same whatever the other apps", () => {
        for (const app of apps) {
            const ports = colourPorts(range, dirOf(app));
            assert.strictEqual(ports.green, ports.blue + 1);
            assert.strictEqual((ports.blue - range.first) % 2, 0);
            assert.ok(ports.blue >= range.first && ports.green < range.first + range.count, `${app}: ${JSON.stringify(ports)}`);
            assert.deepStrictEqual(colourPorts(range, dirOf(app)), ports);
        }
        const [first, second] = [apps[0], apps.find((app) => colourPorts(range, dirOf(app)).blue !== colourPorts(range, dirOf(apps[0])).blue)!];
        const alone = assignColourPorts(range, [{ app: first, dir: dirOf(first), proxyPort: 80 }]);
        const together = assignColourPorts(range, [{ app: second, dir: dirOf(second), proxyPort: 80 }, { app: first, dir: dirOf(first), proxyPort: 80 }]);
        assert.deepStrictEqual(together.get(first), alone.get(first));
    });

    it("refuses two apps whose ports would collide, naming both", () => {
        const holders = new Map<number, string>();
        let pair: [string, string] | undefined;
        for (const app of apps) {
            const holder = holders.get(colourPorts(range, dirOf(app)).blue);
            pair ??= holder === undefined ? undefined : [holder, app];
            holders.set(colourPorts(range, dirOf(app)).blue, app);
        }
        assert.ok(pair, "300 apps in 100 pairs of ports collide somewhere");
        const [a, b] = pair;
        assert.throws(() => assignColourPorts(range, [{ app: a, dir: dirOf(a), proxyPort: 80 }, { app: b, dir: dirOf(b), proxyPort: 80 }]),
            (error: Error) => error instanceof PortAssignmentError && error.message.includes(`apps ${a} and ${b}`));
    });

    it("refuses a proxy port that is one of an app's colour ports", () => {
        const ports = colourPorts(range, dirOf("hello-world"));
        for (const proxyPort of [ports.blue, ports.green]) {
            assert.throws(() => assignColourPorts(range, [{ app: "hello-world", dir: dirOf("hello-world"), proxyPort }]),
                (error: Error) => error instanceof PortAssignmentError && error.message.includes(`port ${proxyPort}`));
        }
    });

    it("gives the same app of two workspaces on one host other ports: their dirs differ", () => {
        const inDev = colourPorts(range, appDir(location));
        const inProd = colourPorts(range, appDir({ ...location, org: "rednaw-prod" }));
        assert.notDeepStrictEqual(inProd, inDev);
    });

    it("refuses a range that is not one", () => {
        for (const text of ["20000", "20000-20000", "200-300", "60000-70000", "b-c", "20000 - 20100"]) {
            assert.throws(() => parsePortRange(text), /invalid colour port range/, text);
        }
        assert.deepStrictEqual(parsePortRange("20000-20001"), { first: 20000, count: 2 });
    });
});
