// Benchmark (not a test): what one switch of a route costs the clients of Caddy, by how it is made. Caddy from
// .tools/bin (local/caddy.ts) in front of two HTTP servers on loopback that both stay up; clients send requests as
// fast as they can, each on a new connection; the route is switched from one server to the other every 0.3 s.
// Per way of switching: the requests answered and failed. "patch" changes Caddy's config (a PATCH of the route's
// dial, as the switch did before); "file" renames a new route file into place (components/remote/proxy.ts's
// switch, which changes no config). docs/zero-downtime.md ("Why a switch changes no config") keeps the figures.
//   npm run bench:proxy-switch [-- --switches 60] [--clients 4]
import { execFile } from "child_process";
import * as http from "http";
import { parseArgs, promisify } from "util";
import { AppLocation } from "../components/remote/layout";
import { proxyApiFunction, proxyRouteId, switchProxyRoute } from "../components/remote/proxy";
import { sayFunction, script } from "../components/remote/shell";
import { CaddyServer, startCaddy } from "../local/caddy";
import { freePort } from "../local/sshd";

type Way = "patch" | "file";

const location: AppLocation = { app: "web", workspace: "bench", org: "bench", deployRoot: "/opt" };

async function startServer(): Promise<{ port: number; close(): void }> {
    const port = await freePort();
    const server = http.createServer((_request, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return { port, close: () => server.close() };
}

/** Runs the proxy's builders on this machine, as a deploy runs them on a host (not blocking: the servers are ours). */
async function onHost(caddy: CaddyServer, lines: string[]): Promise<void> {
    await promisify(execFile)("sh", ["-c", script(sayFunction("bench"), proxyApiFunction(caddy.admin), lines)]);
}

/** One request after the other on new connections until `running()` is false; failures counted by reason. */
async function client(url: string, running: () => boolean, failures: Record<string, number>): Promise<number> {
    let answered = 0;
    while (running()) {
        await new Promise<void>((resolve) => {
            http.get(url, { agent: false, timeout: 5000 }, (res) => {
                res.resume();
                res.on("end", () => {
                    if (res.statusCode === 200) {
                        answered += 1;
                    } else {
                        failures[`HTTP ${res.statusCode}`] = (failures[`HTTP ${res.statusCode}`] ?? 0) + 1;
                    }
                    resolve();
                });
            }).on("error", (error: NodeJS.ErrnoException) => {
                failures[error.code ?? error.message] = (failures[error.code ?? error.message] ?? 0) + 1;
                resolve();
            });
        });
    }
    return answered;
}

async function measure(way: Way, switches: number, clients: number): Promise<{ answered: number; failures: Record<string, number> }> {
    const caddy = await startCaddy();
    const servers = [await startServer(), await startServer()];
    try {
        const listen = { address: "127.0.0.1", port: await freePort() };
        const spec = { ...location, listen, healthPath: "/" };
        await onHost(caddy, switchProxyRoute(caddy.admin, spec, servers[0].port));
        const dialOf = (port: number) => JSON.stringify(`127.0.0.1:${port}`);
        const routeDial = `/id/${proxyRouteId(location)}/handle/0/upstreams/0/dial`;
        if (way === "patch") {
            await onHost(caddy, [`proxy_api PATCH '${routeDial}' '${dialOf(servers[0].port)}' || exit 1`]);
        }
        const failures: Record<string, number> = {};
        let running = true;
        const url = `http://127.0.0.1:${listen.port}/`;
        const sending = Array.from({ length: clients }, () => client(url, () => running, failures));
        for (let i = 1; i <= switches; i++) {
            await new Promise((resolve) => setTimeout(resolve, 300));
            const port = servers[i % 2].port;
            if (way === "patch") {
                await onHost(caddy, [`proxy_api PATCH '${routeDial}' '${dialOf(port)}' || exit 1`]);
            } else {
                await onHost(caddy, switchProxyRoute(caddy.admin, spec, port));
            }
        }
        running = false;
        const answered = (await Promise.all(sending)).reduce((sum, count) => sum + count, 0);
        return { answered, failures };
    } finally {
        servers.forEach((server) => server.close());
        await caddy.stop();
    }
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { switches: { type: "string", default: "60" }, clients: { type: "string", default: "4" } } });
    const switches = Number(values.switches);
    const clients = Number(values.clients);
    console.log(`${switches} switches, one every 0.3 s, ${clients} clients each sending on new connections as fast as answered`);
    for (const way of ["patch", "file"] as Way[]) {
        const { answered, failures } = await measure(way, switches, clients);
        const failed = Object.values(failures).reduce((sum, count) => sum + count, 0);
        console.log(`bench: ${way}: ${answered + failed} requests, ${failed} failed ${JSON.stringify(failures)}`);
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
