// The proxy's part of the host-side shell: Caddy, reconfigured through its admin API on a unix socket, with one
// route per app dir that sends the app's traffic to 127.0.0.1:<port of the colour that serves it>, behind an
// active health check of the app's health path. The route carries an `@id` derived from the app dir, so one app's
// switch is one atomic PATCH of its own route and never touches another app's (or another workspace's) route.
// The host needs curl (Debian's `curl`): the admin API is HTTP on a unix socket, which curl speaks with
// --unix-socket; Caddy's own CLI can only load a whole config, and the image Caddy runs from has no shell to exec.
// Also here: the two ports of an app's colours, derived from the workspace's port range and checked.
import * as crypto from "crypto";
import { InvalidValueError } from "../model/invalid-value";
import { AppLocation, composeProject, validateAbsolutePath } from "./layout";
import { shellQuote } from "./shell";

/** Where the proxy's admin API listens on the host: a unix socket, so only who may open that file may change routes. */
export interface ProxyAdmin {
    socket: string;
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
    /** The port of the colour the route sends traffic to. */
    upstreamPort: number;
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
    upstreamPort: number;
    healthPath: string;
    hostName?: string;
}

/** Seconds between the proxy's active health checks, and how long one may take. */
const healthIntervalSeconds = 1;
const healthTimeoutSeconds = 2;
/** How long a request waits for an upstream that can take it. */
const retrySeconds = 5;

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

/** The route's JSON, as the admin API takes it and gives it back. */
export function proxyRoute(spec: ProxyRouteSpec): object {
    const healthPath = validateHealthPath(spec.healthPath);
    return {
        "@id": proxyRouteId(spec),
        ...(spec.hostName === undefined ? {} : { match: [{ host: [validateHostName(spec.hostName)] }] }),
        handle: [{
            handler: "reverse_proxy",
            upstreams: [{ dial: `127.0.0.1:${validatePort("colour port", spec.upstreamPort)}` }],
            // Taken out of service by the proxy once its health path fails twice running (once could be a slow answer
            // on a loaded host, and it is the only upstream); a new route's upstream counts as healthy until its first
            // check (Caddy 2.11), which is why the switch checks the colour itself first.
            health_checks: {
                active: { uri: healthPath, interval: `${healthIntervalSeconds}s`, timeout: `${healthTimeoutSeconds}s`, fails: 2 },
            },
            // A request that finds no upstream to take it (out of service, or refusing for an instant) waits for one
            // rather than failing at once, as Caddy advises for deploys without downtime.
            load_balancing: { try_duration: `${retrySeconds}s`, try_interval: "250ms" },
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
 * The switch: the colour on `spec.upstreamPort` must pass its health check first; then the app's server is
 * created if no app uses that listen address yet, and the app's route is set in one atomic change (PATCH of its
 * own `@id`, or added to the server the first time). Needs sayFunction and proxyApiFunction. Of the apps served on
 * one listen address, at most one may go without a host name: the workspace's config must refuse a second one.
 */
export function switchProxyRoute(spec: ProxyRouteSpec): string[] {
    const routeId = proxyRouteId(spec);
    const serverId = proxyServerId(spec.listen);
    const route = shellQuote(JSON.stringify(proxyRoute(spec)));
    const fail = (what: string) => `{ say ${shellQuote(`the proxy refused ${what}:`)} "$proxy_status $proxy_body"; exit 1; }`;
    return [
        ...colourHealthCheck(spec.upstreamPort, spec.healthPath),
        `if ! proxy_api GET ${shellQuote(`/id/${serverId}`)}; then`,
        `  [ "$proxy_status" = 404 ] || ${fail(`reading server ${serverId}`)}`,
        `  proxy_api PUT ${shellQuote(`/config/apps/http/servers/${serverId}`)} ${shellQuote(JSON.stringify(proxyServer(spec.listen)))} || ` +
        fail(`creating server ${serverId}`),
        "fi",
        `if proxy_api GET ${shellQuote(`/id/${routeId}`)}; then`,
        `  proxy_api PATCH ${shellQuote(`/id/${routeId}`)} ${route} || ${fail(`switching route ${routeId}`)}`,
        `elif [ "$proxy_status" = 404 ]; then`,
        // Caddy tries a server's routes in order: a route by host name goes first (PUT at index 0 inserts), the
        // one route without a host name, which takes every request, last (POST appends).
        spec.hostName === undefined
            ? `  proxy_api POST ${shellQuote(`/id/${serverId}/routes`)} ${route} || ${fail(`adding route ${routeId}`)}`
            : `  proxy_api PUT ${shellQuote(`/id/${serverId}/routes/0`)} ${route} || ${fail(`adding route ${routeId}`)}`,
        "else",
        `  ${fail(`reading route ${routeId}`)}`,
        "fi",
        `say ${shellQuote(`the proxy sends ${spec.app} to 127.0.0.1:${spec.upstreamPort}`)}`,
    ];
}

export const proxyRouteAbsent = "proxy-route-absent";

const proxyUnreachable = "proxy-unreachable";

/**
 * Prints the app's route as the proxy holds it, `proxy-route-absent`, or `proxy-unreachable STATUS ANSWER` when
 * the proxy cannot be read (for refresh, that is drift: nothing serves the app's traffic).
 */
export function readProxyRoute(location: AppLocation): string[] {
    const routeId = proxyRouteId(location);
    return [
        `if proxy_api GET ${shellQuote(`/id/${routeId}`)}; then printf '%s\\n' "$proxy_body"`,
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
export function removeProxyRoute(location: AppLocation, onFailure = "exit 1"): string[] {
    const routeId = proxyRouteId(location);
    const servers = "/config/apps/http/servers";
    return [
        `if proxy_api DELETE ${shellQuote(`/id/${routeId}`)} || [ "$proxy_status" = 404 ]; then`,
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
export function parseProxyRoute(location: AppLocation, text: string): ObservedProxyRoute | undefined {
    const routeId = proxyRouteId(location);
    if (text.trim() === proxyRouteAbsent) {
        return undefined;
    }
    if (text.startsWith(`${proxyUnreachable} `)) {
        const [, status, ...answer] = text.trim().split(" ");
        throw new ProxyUnreachableError(status, answer.join(" "));
    }
    let route: {
        match?: { host?: string[] }[];
        handle?: { handler?: string; upstreams?: { dial?: string }[]; health_checks?: { active?: { uri?: string } } }[];
    };
    try {
        route = JSON.parse(text);
    } catch {
        throw new UnexpectedProxyRouteError(routeId, "not JSON");
    }
    const handler = route.handle?.length === 1 ? route.handle[0] : undefined;
    const dial = handler?.handler === "reverse_proxy" && handler.upstreams?.length === 1 ? handler.upstreams[0].dial : undefined;
    const port = dial?.match(/^127\.0\.0\.1:(\d{1,5})$/);
    const healthPath = handler?.health_checks?.active?.uri;
    if (!port || healthPath === undefined) {
        throw new UnexpectedProxyRouteError(routeId, "expected one reverse_proxy to one 127.0.0.1 upstream with an active health check");
    }
    const hosts = route.match?.flatMap((matcher) => matcher.host ?? []) ?? [];
    if (hosts.length > 1) {
        throw new UnexpectedProxyRouteError(routeId, `matches ${hosts.length} host names`);
    }
    return { upstreamPort: Number(port[1]), healthPath, ...(hosts.length === 1 ? { hostName: hosts[0] } : {}) };
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
