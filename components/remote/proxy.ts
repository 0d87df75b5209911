// The proxy's part of the host-side shell: Caddy, configured through its admin API on a unix socket, with one
// route per app dir that sends the app's traffic to 127.0.0.1:<port of the colour that serves it>, behind an
// active health check of the app's health path. The route carries an `@id` derived from the app dir, so setting
// one app's route never touches another app's (or another workspace's). The port is not in the route: the route
// dials `{file.…}`, a file per route that Caddy reads on each request, and a switch renames a new one into place.
// Any change of Caddy's config (a PATCH of one route included) replaces its listeners, and under load that
// closes about one new connection per change without an answer (docs/zero-downtime.md); a switch changes none.
// The host needs curl (Debian's `curl`): the admin API is HTTP on a unix socket, which curl speaks with
// --unix-socket; Caddy's own CLI can only load a whole config, and the image Caddy runs from has no shell to exec.
// Also here: the two ports of an app's colours, derived from the workspace's port range and checked.
import * as crypto from "crypto";
import { InvalidValueError } from "../model/invalid-value";
import { printable } from "../model/printable";
import { AppLocation, composeProject, validateAbsolutePath } from "./layout";
import { shellQuote } from "./shell";

/** How the host's shell reaches the proxy. */
export interface ProxyAdmin {
    /** The admin API: a unix socket, so only who may open that file may change routes. */
    socket: string;
    /** The dir of the files that name each route's serving port: as the host's shell writes it, and as Caddy reads it. */
    upstreams: { onHost: string; inProxy: string };
}

/** What the proxy serves an app on: a port (`<app>:proxy.port`), on every address unless one is named. */
export interface ProxyListen {
    port: number;
    /** A literal IPv4 address to bind (tests bind 127.0.0.1); absent: every address. */
    address?: string;
}

export interface ProxyRouteSpec extends AppLocation {
    listen: ProxyListen;
    /** `<app>:proxy.host`: route by host name, so several apps share one port. */
    hostName?: string;
    /** What the proxy checks, and the switch checks first: `<app>:proxy.healthPath`. */
    healthPath: string;
}

/** An app served through the host's proxy: what each of its deploys switches. */
export interface AppProxy {
    /** The proxy's image, pinned: registry/repository@sha256:…, which the host runs (or is made to). */
    image: string;
    listen: ProxyListen;
    hostName?: string;
    healthPath: string;
    colours: ColourPorts;
}

/** The route as the proxy holds it, read back for refresh. */
export interface ObservedProxyRoute {
    /** The port its file names: where the proxy sends the app's traffic. */
    upstreamPort: number;
    healthPath: string;
    hostName?: string;
}

/** Seconds between the proxy's active health checks, and how long one may take. */
const healthIntervalSeconds = 1;
const healthTimeoutSeconds = 2;
/** How long a request waits for an upstream that can take it. */
const retrySeconds = 5;
/**
 * How long the proxy keeps an idle connection to a colour: after a switch, the old colour's idle ones close within
 * this, so the drain, which counts the connections to it, sees only requests in flight.
 */
const idleUpstreamSeconds = 1;

export function validatePort(kind: string, value: number): number {
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
        throw new InvalidValueError(kind, String(value), "expected a port number from 1 to 65535");
    }
    return value;
}

/** A health path as Caddy's health checker and curl both take it: an absolute path, an optional plain query. */
export function validateHealthPath(value: string): string {
    if (!/^\/[A-Za-z0-9._~\/-]*(?:\?[A-Za-z0-9._~=&-]*)?$/.test(value)) {
        throw new InvalidValueError("proxy health path", value, "expected an absolute URL path such as /up (letters, digits, '._~/-', an optional ?query)");
    }
    return value;
}

/** A host name to route by (DNS grammar, lowercase, no wildcard): Caddy matches it against the Host header. */
export function validateHostName(value: string): string {
    const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
    if (value.length > 253 || !new RegExp(`^${label}(?:\\.${label})*$`).test(value)) {
        throw new InvalidValueError("proxy host name", value, "expected a lowercase DNS name such as app.example.com");
    }
    return value;
}

/** The address the proxy binds (`iac:proxyAddress`): a literal IPv4 address. */
export function validateListenAddress(address: string): string {
    const octets = address.split(".");
    if (octets.length !== 4 || !octets.every((octet) => /^(?:0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255)) {
        throw new InvalidValueError("proxy listen address", address, "expected an IPv4 address such as 127.0.0.1");
    }
    return address;
}

function validateListen(listen: ProxyListen): string {
    const port = validatePort("proxy port", listen.port);
    return listen.address === undefined ? `:${port}` : `${validateListenAddress(listen.address)}:${port}`;
}

/** The route's `@id`: from the app dir, as the compose project is, so two workspaces' routes never share one. */
export function proxyRouteId(location: AppLocation): string {
    return `iac-route-${composeProject(location)}`;
}

/** The Caddy server of one listen address: every app served on that port shares it, each with its own route. */
export function proxyServerId(listen: ProxyListen): string {
    return `iac-server-${validateListen(listen).replace(/[.:]/g, "-").replace(/^-/, "")}`;
}

/** The file naming the port the app's route sends to, as the host's shell reaches it and as Caddy does. */
export function upstreamFile(admin: ProxyAdmin, location: AppLocation): { onHost: string; inProxy: string } {
    const name = proxyRouteId(location);
    const inProxy = `${validateAbsolutePath("proxy upstreams dir", admin.upstreams.inProxy)}/${name}`;
    // Caddy reads the name up to the placeholder's closing brace.
    if (/[{}]/.test(inProxy)) {
        throw new InvalidValueError("proxy upstreams dir", admin.upstreams.inProxy, "expected a path without braces");
    }
    return { onHost: `${validateAbsolutePath("proxy upstreams dir", admin.upstreams.onHost)}/${name}`, inProxy };
}

/** The route's dial: the port is read from the route's file on each request, so a switch changes no config. */
function upstreamDial(admin: ProxyAdmin, location: AppLocation): string {
    return `127.0.0.1:{file.${upstreamFile(admin, location).inProxy}}`;
}

/** The route's JSON, as the admin API takes it and gives it back. */
export function proxyRoute(admin: ProxyAdmin, spec: ProxyRouteSpec): object {
    const healthPath = validateHealthPath(spec.healthPath);
    return {
        "@id": proxyRouteId(spec),
        ...(spec.hostName === undefined ? {} : { match: [{ host: [validateHostName(spec.hostName)] }] }),
        handle: [{
            handler: "reverse_proxy",
            upstreams: [{ dial: upstreamDial(admin, spec) }],
            // Taken out of service by the proxy once its health path fails twice running (once could be a slow answer
            // on a loaded host, and it is the only upstream). Caddy checks the port the file names at each check,
            // but counts a new route's upstream healthy until its first one (Caddy 2.11), and a switched-to colour
            // keeps the count of the one before: which is why the switch checks the colour itself first.
            health_checks: {
                active: { uri: healthPath, interval: `${healthIntervalSeconds}s`, timeout: `${healthTimeoutSeconds}s`, fails: 2 },
            },
            // A request that finds no upstream to take it (out of service, or refusing for an instant) waits for one
            // rather than failing at once, as Caddy advises for deploys without downtime.
            load_balancing: { try_duration: `${retrySeconds}s`, try_interval: "250ms" },
            transport: { protocol: "http", keep_alive: { idle_timeout: `${idleUpstreamSeconds}s` } },
        }],
        terminal: true,
    };
}

/** JSON as Caddy gives a config back: object keys sorted, no spaces, `<>&` escaped (Go's encoding of a map). */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonicalJson).join(",")}]`;
    }
    if (typeof value === "object" && value !== null) {
        return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(",")}}`;
    }
    return JSON.stringify(value).replace(/[<>&]/g, (character) => `\\u00${character.charCodeAt(0).toString(16)}`);
}

/** The server's JSON: plain HTTP (TLS is not managed here yet), no routes until an app's switch adds its own. */
export function proxyServer(listen: ProxyListen): object {
    return { "@id": proxyServerId(listen), listen: [validateListen(listen)], routes: [], automatic_https: { disable: true } };
}

/**
 * proxy_api METHOD PATH [JSON]: one request to the admin API; sets $proxy_status (the HTTP status, 000 when the
 * socket did not answer) and $proxy_body. Returns 0 only on a 2xx answer.
 */
export function proxyApiFunction(admin: ProxyAdmin): string[] {
    const socket = shellQuote(validateAbsolutePath("proxy admin socket", admin.socket));
    return [
        "proxy_api() {",
        `  proxy_response=$(printf '%s' "\${3-}" | curl -sS --max-time 10 --unix-socket ${socket} -X "$1" ` +
        `-H 'Content-Type: application/json' \${3+--data-binary @-} -w '\\n%{http_code}' "http://localhost$2" 2>&1)`,
        "  proxy_status=$(printf '%s\\n' \"$proxy_response\" | tail -n 1)",
        "  proxy_body=$(printf '%s\\n' \"$proxy_response\" | sed '$d')",
        "  case $proxy_status in 2??) return 0 ;; *) return 1 ;; esac",
        "}",
    ];
}

/** Fails, saying what it answered, unless the colour on 127.0.0.1:PORT answers its health path with a 2xx. */
export function colourHealthCheck(port: number, healthPath: string): string[] {
    const url = shellQuote(`http://127.0.0.1:${validatePort("colour port", port)}${validateHealthPath(healthPath)}`);
    return [
        // curl prints 000 as the status when nothing answered (refused, reset, timed out).
        `health=$(curl -s -o /dev/null --max-time ${healthTimeoutSeconds} -w '%{http_code}' ${url}) || true`,
        "case $health in",
        "  2??) ;;",
        `  000|'') say "the new version does not pass its health check: GET "${url}" did not answer within ${healthTimeoutSeconds} s"; exit 1 ;;`,
        `  *) say "the new version does not pass its health check: GET "${url}" answered HTTP $health"; exit 1 ;;`,
        "esac",
    ];
}

/** Fails unless nothing listens on 127.0.0.1:PORT: a colour's port held by anything else is never taken over. */
export function colourPortFreeCheck(port: number): string[] {
    const url = shellQuote(`http://127.0.0.1:${validatePort("colour port", port)}/`);
    return [
        // curl's exit status 7: the connection was refused, so the port is free.
        `if curl -sS -o /dev/null --max-time 2 ${url} 2>/dev/null; then port_state=0; else port_state=$?; fi`,
        `[ "$port_state" = 7 ] || { say "port ${port} is already in use on this host: it cannot serve a colour"; exit 1; }`,
    ];
}

/**
 * The switch: the colour on `upstreamPort` must pass its health check first; then the route's file is made to name
 * it (renamed into place: Caddy reads the old port or the new, never a part of one), the app's server is created
 * if no app uses that listen address yet, and the app's route is added, or set again if it is not as `spec` has
 * it (one atomic PATCH of its own `@id`). A switch of a route already as set changes no config. Needs
 * sayFunction and proxyApiFunction. Of the apps served on one listen address, at most one may go without a host
 * name: the workspace's config must refuse a second one.
 */
export function switchProxyRoute(admin: ProxyAdmin, spec: ProxyRouteSpec, upstreamPort: number): string[] {
    const routeId = proxyRouteId(spec);
    const serverId = proxyServerId(spec.listen);
    const route = proxyRoute(admin, spec);
    const quotedRoute = shellQuote(JSON.stringify(route));
    const file = upstreamFile(admin, spec).onHost;
    const staged = `${file}.new`;
    const fail = (what: string) => `{ say ${shellQuote(`the proxy refused ${what}:`)} "$proxy_status $proxy_body"; exit 1; }`;
    return [
        ...colourHealthCheck(upstreamPort, spec.healthPath),
        `mkdir -p ${shellQuote(admin.upstreams.onHost)} && printf '%s\n' ${validatePort("colour port", upstreamPort)} > ${shellQuote(staged)} && ` +
        `mv -f ${shellQuote(staged)} ${shellQuote(file)} || ` +
        `{ say ${shellQuote(`could not write ${file}, which names the port the proxy sends ${spec.app} to (disk full?); the serving version serves on`)}; exit 1; }`,
        `if ! proxy_api GET ${shellQuote(`/id/${serverId}`)}; then`,
        `  [ "$proxy_status" = 404 ] || ${fail(`reading server ${serverId}`)}`,
        `  proxy_api PUT ${shellQuote(`/config/apps/http/servers/${serverId}`)} ${shellQuote(JSON.stringify(proxyServer(spec.listen)))} || ` +
        fail(`creating server ${serverId}`),
        "fi",
        `if proxy_api GET ${shellQuote(`/id/${routeId}`)}; then`,
        `  [ "$proxy_body" = ${shellQuote(canonicalJson(route))} ] || proxy_api PATCH ${shellQuote(`/id/${routeId}`)} ${quotedRoute} || ` +
        fail(`setting route ${routeId}`),
        `elif [ "$proxy_status" = 404 ]; then`,
        // Caddy tries a server's routes in order: a route by host name goes first (PUT at index 0 inserts), the
        // one route without a host name, which takes every request, last (POST appends).
        spec.hostName === undefined
            ? `  proxy_api POST ${shellQuote(`/id/${serverId}/routes`)} ${quotedRoute} || ${fail(`adding route ${routeId}`)}`
            : `  proxy_api PUT ${shellQuote(`/id/${serverId}/routes/0`)} ${quotedRoute} || ${fail(`adding route ${routeId}`)}`,
        "else",
        `  ${fail(`reading route ${routeId}`)}`,
        "fi",
        `say ${shellQuote(`the proxy sends ${spec.app} to 127.0.0.1:${upstreamPort}`)}`,
    ];
}

/**
 * Lines that wait until no connection to 127.0.0.1:$old_port is established, at most `drainSeconds`: the old
 * colour's requests in flight, which the proxy goes on serving after the switch, and its idle connections to it,
 * which it closes within idleUpstreamSeconds. Caddy's own count of requests (/reverse_proxy/upstreams) is one per
 * route, not per colour; the kernel's table of connections (the proxy runs on the host's network) tells the
 * colours apart. Needs sayFunction.
 */
export function drainColour(drainSeconds: number): string[] {
    return [
        "port_hex=$(printf ':%04X' \"$old_port\")",
        // /proc/net/tcp*: the remote address is field 3 (hex address:port), the state field 4 (01: established).
        "in_flight() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v port=\"$port_hex\" '$4 == \"01\" && substr($3, length($3) - 4) == port' | grep -c . || true; }",
        `end=$(( $(date +%s) + ${drainSeconds} ))`,
        "while [ \"$(in_flight)\" -gt 0 ]; do",
        `  [ "$(date +%s)" -lt "$end" ] || { say "requests to the old version were still in flight after ${drainSeconds} s: stopping it anyway"; break; }`,
        "  sleep 0.2",
        "done",
    ];
}

export const proxyRouteAbsent = "proxy-route-absent";

const proxyUnreachable = "proxy-unreachable";

/** The line under the route's JSON that gives what its file names. */
const upstreamLine = "upstream-file";

/**
 * Prints the app's route as the proxy holds it and, on a line of its own, what its file names; or
 * `proxy-route-absent`, or `proxy-unreachable STATUS ANSWER` when the proxy cannot be read (for refresh, that is
 * drift: nothing serves the app's traffic).
 */
export function readProxyRoute(admin: ProxyAdmin, location: AppLocation): string[] {
    const routeId = proxyRouteId(location);
    return [
        `if proxy_api GET ${shellQuote(`/id/${routeId}`)}; then`,
        `  printf '%s\\n${upstreamLine} %s\\n' "$proxy_body" "$(head -c 32 ${shellQuote(upstreamFile(admin, location).onHost)} 2>/dev/null | tr -d '\\n')"`,
        `elif [ "$proxy_status" = 404 ]; then echo ${proxyRouteAbsent}`,
        `else printf '${proxyUnreachable} %s %s\\n' "$proxy_status" "$(printf '%s' "$proxy_body" | tr -s '\\n' ' ' | cut -c 1-200)"`,
        "fi",
    ];
}

/**
 * Removes the app's route; one already gone is not an error, nor is a proxy that does not answer (it serves
 * nothing; what to do once it runs again is said). A server of ours left without a route is removed too, so its
 * port is free again: an app that leaves the proxy may serve on that port itself. Runs `onFailure` when the proxy
 * refuses.
 */
export function removeProxyRoute(admin: ProxyAdmin, location: AppLocation, onFailure = "exit 1"): string[] {
    const routeId = proxyRouteId(location);
    const servers = "/config/apps/http/servers";
    return [
        `if proxy_api DELETE ${shellQuote(`/id/${routeId}`)} || [ "$proxy_status" = 404 ]; then`,
        `  rm -f ${shellQuote(upstreamFile(admin, location).onHost)}`,
        // Our servers' ids are of our own grammar (proxyServerId): letters, digits and '-'.
        `  if proxy_api GET ${servers}; then`,
        `    for server in $(printf '%s' "$proxy_body" | grep -o '"iac-server-[a-z0-9-]*":' | tr -d '":'); do`,
        `      proxy_api GET "${servers}/$server/routes" || continue`,
        `      case $proxy_body in '[]'|null|'') proxy_api DELETE "${servers}/$server" || true ;; esac`,
        "    done",
        "  fi",
        "elif [ \"$proxy_status\" = 000 ]; then",
        `  say ${shellQuote(`the proxy does not answer, so its route ${routeId} was not removed: once it runs again, remove it ` +
            `with curl --unix-socket <the proxy's admin socket> -X DELETE http://localhost/id/${routeId}`)}`,
        "else",
        `  say ${shellQuote(`the proxy refused removing route ${routeId}:`)} "$proxy_status $proxy_body"; ${onFailure}`,
        "fi",
    ];
}

export class UnexpectedProxyRouteError extends Error {
    constructor(routeId: string, detail: string) {
        super(`the proxy's route ${routeId} is not one this program writes (${detail}): run pulumi up to set it again`);
        this.name = "UnexpectedProxyRouteError";
    }
}

export class ProxyUnreachableError extends Error {
    constructor(status: string, answer: string) {
        super(status === "000" ? `the proxy does not answer on its admin socket (${answer || "no answer"}): is its container running?`
            : `the proxy answered HTTP ${status} (${answer})`);
        this.name = "ProxyUnreachableError";
    }
}

/** What readProxyRoute printed: the route's upstream, health path and host, or undefined when it has none. */
export function parseProxyRoute(admin: ProxyAdmin, location: AppLocation, text: string): ObservedProxyRoute | undefined {
    const routeId = proxyRouteId(location);
    if (text.trim() === proxyRouteAbsent) {
        return undefined;
    }
    if (text.startsWith(`${proxyUnreachable} `)) {
        const [, status, ...answer] = text.trim().split(" ");
        throw new ProxyUnreachableError(status, answer.join(" "));
    }
    const lines = text.trim().split("\n");
    const last = lines[lines.length - 1];
    // The trim took the space after the line's word when the file named nothing.
    const named = last === upstreamLine || last.startsWith(`${upstreamLine} `) ? lines.pop()!.slice(upstreamLine.length + 1) : undefined;
    let route: {
        match?: { host?: string[] }[];
        handle?: { handler?: string; upstreams?: { dial?: string }[]; health_checks?: { active?: { uri?: string } } }[];
    };
    try {
        route = JSON.parse(lines.join("\n"));
    } catch {
        throw new UnexpectedProxyRouteError(routeId, "not JSON");
    }
    const handler = route.handle?.length === 1 ? route.handle[0] : undefined;
    const dial = handler?.handler === "reverse_proxy" && handler.upstreams?.length === 1 ? handler.upstreams[0].dial : undefined;
    const healthPath = handler?.health_checks?.active?.uri;
    if (dial !== upstreamDial(admin, location) || healthPath === undefined) {
        throw new UnexpectedProxyRouteError(routeId, "expected one reverse_proxy to the port its file names, with an active health check");
    }
    if (named === undefined || !/^\d{1,5}$/.test(named)) {
        throw new UnexpectedProxyRouteError(routeId, `its file ${upstreamFile(admin, location).onHost} names no port ` +
            `(${named ? JSON.stringify(printable(named)) : "it is missing or empty"})`);
    }
    const hosts = route.match?.flatMap((matcher) => matcher.host ?? []) ?? [];
    if (hosts.length > 1) {
        throw new UnexpectedProxyRouteError(routeId, `matches ${hosts.length} host names`);
    }
    return { upstreamPort: Number(named), healthPath, ...(hosts.length === 1 ? { hostName: hosts[0] } : {}) };
}

// --- the colours' ports ------------------------------------------------------------------------------------

/** A workspace's ports for its apps' colours on its host: `first`, `first + 1`, … `first + count - 1`. */
export interface PortRange {
    first: number;
    count: number;
}

export interface ColourPorts {
    blue: number;
    green: number;
}

export class PortAssignmentError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PortAssignmentError";
    }
}

/** `20000-20199` → first 20000, count 200. */
export function parsePortRange(text: string): PortRange {
    const match = text.match(/^(\d{1,5})-(\d{1,5})$/);
    const first = match ? Number(match[1]) : NaN;
    const last = match ? Number(match[2]) : NaN;
    // Below 1024 a port is privileged; an app's colour is never one.
    if (!match || first < 1024 || last > 65535 || last - first < 1) {
        throw new InvalidValueError("colour port range", text, "expected FIRST-LAST with 1024 ≤ FIRST < LAST ≤ 65535, e.g. 20000-20199");
    }
    return { first, count: last - first + 1 };
}

const formatRange = (range: PortRange) => `${range.first}-${range.first + range.count - 1}`;

/**
 * An app's two ports: a pair of the range chosen by a hash of its app dir, so it stays the same whatever other
 * apps the workspace lists or in which order, and the same app of two workspaces on one host (other dirs) gets
 * other ports; blue is the pair's even member, green the odd.
 */
export function colourPorts(range: PortRange, dir: string): ColourPorts {
    const pairs = Math.floor(range.count / 2);
    const pair = crypto.createHash("sha256").update(dir).digest().readUInt32BE(0) % pairs;
    const blue = range.first + 2 * pair;
    return { blue, green: blue + 1 };
}

/**
 * Every app's two ports in its workspace's range, refused when two apps would share a pair (the message names
 * both, and the cure: another range, which re-derives every pair) or a pair would be a port the proxy serves on.
 */
export function assignColourPorts(range: PortRange, apps: { app: string; dir: string; proxyPort: number }[]): Map<string, ColourPorts> {
    const assigned = new Map<string, ColourPorts>();
    const byPort = new Map<number, string>();
    for (const { app, dir } of apps) {
        const ports = colourPorts(range, dir);
        const holder = byPort.get(ports.blue);
        if (holder !== undefined) {
            throw new PortAssignmentError(`apps ${holder} and ${app} would share the colour ports ${ports.blue} and ${ports.green} ` +
                `of the range ${formatRange(range)}: choose a wider or another range`);
        }
        byPort.set(ports.blue, app);
        assigned.set(app, ports);
    }
    for (const { app, proxyPort } of apps) {
        const holder = byPort.get(proxyPort - (proxyPort - range.first) % 2);
        if (proxyPort >= range.first && proxyPort < range.first + range.count && holder !== undefined) {
            throw new PortAssignmentError(`app ${app} is served by the proxy on port ${proxyPort}, a colour port of app ${holder} ` +
                `(range ${formatRange(range)}): choose a proxy port outside the range`);
        }
    }
    return assigned;
}
