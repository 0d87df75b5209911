// The compose target behind the host's proxy (`<app>:proxy.port`): each app runs in two colours, blue and green,
// each its own compose project on its own port, and the proxy's route sends the traffic to one of them. A deploy
// starts the new version in the colour that does not serve, waits until it is healthy, switches the route (its
// health check passing first: the route's file is made to name the new colour's port), lets the old colour's
// in-flight requests finish, then stops it, the way Kamal deploys behind kamal-proxy. Which colour serves is
// read from the proxy, never assumed: the route and its file are the truth of what serves, and a restore is the
// same switch back.
import * as YAML from "yaml";
import { AppLocation, composeLabels, composeProject, files } from "../layout";
import {
    AppProxy, ProxyAdmin, ProxyRouteSpec, canonicalJson, colourPortFreeCheck, proxyApiFunction, proxyRoute, proxyRouteId, proxyServerId,
    drainColour, readProxyRoute, removeProxyRoute, switchProxyRoute, upstreamFile, validatePort,
} from "../proxy";
import { ensureProxyRunning, proxyAdminOf } from "../proxy-host";
import { shellQuote } from "../shell";
import { composeTarget, containersAndImages, containersOf, projectDown, projectRemoved, projectRunningFunction } from "./compose";
import { ObservationMarkers, TargetController, TargetSpec } from "./target";

type Colour = "blue" | "green";

/** The environment variable the rendered compose file takes the colour's port from, as PORT. */
const colourPortVariable = "IAC_COLOUR_PORT";

/** How long the old colour's in-flight requests may take before it is stopped anyway. */
const drainSeconds = 30;

/** A shell word naming the project of the colour in $colour. */
const projectOfColour = (location: AppLocation) => `${shellQuote(composeProject(location))}"-$colour"`;

/** `docker ps` of the containers of the colour named by the shell word `colour`: running ones, or with `-a` every one. */
function colourContainers(location: AppLocation, colour: string, flags: "-q" | "-aq"): string {
    return `docker ps ${flags} --filter "label=${composeLabels.project}="${shellQuote(composeProject(location))}"-"${colour}`;
}

/**
 * Lines that set $live to the colour the proxy's route sends traffic to (empty when there is no route, or it
 * names neither colour's port), or return 1 saying the proxy could not be read.
 */
function liveColour(admin: ProxyAdmin, location: AppLocation, proxy: AppProxy): string[] {
    const routeId = proxyRouteId(location);
    return [
        "live=''",
        `if proxy_api GET ${shellQuote(`/id/${routeId}`)}; then`,
        "  case $proxy_body in",
        `    *'"dial":"127.0.0.1:{file.'*) live_port=$(head -c 32 ${shellQuote(upstreamFile(admin, location).onHost)} 2>/dev/null | tr -d '\\n') ;;`,
        // A route set before routes had a file dials its port itself; the deploy sets it again, in its new form.
        "    *) live_port=$(printf '%s' \"$proxy_body\" | sed -n 's/.*\"dial\":\"127\\.0\\.0\\.1:\\([0-9]*\\)\".*/\\1/p') ;;",
        "  esac",
        "  case $live_port in",
        `    ${validatePort("colour port", proxy.colours.blue)}) live=blue ;;`,
        `    ${validatePort("colour port", proxy.colours.green)}) live=green ;;`,
        "  esac",
        "elif [ \"$proxy_status\" != 404 ]; then",
        "  say \"the proxy could not be read (is it running?): $proxy_status $proxy_body\"",
        "  return 1",
        "fi",
    ];
}

/** `docker compose` on the project of the colour in the shell word `colour`, the rendered file taking its port as PORT. */
function colourCompose(location: AppLocation, colour: string, args: string, timeoutSeconds?: number): string {
    const limit = timeoutSeconds === undefined ? "" : `timeout ${Math.trunc(timeoutSeconds)} `;
    return `${colourPortVariable}=$(proxied_port ${colour}) ${limit}docker compose -p ${shellQuote(composeProject(location))}"-"${colour} ` +
        `-f ${files.compose} --env-file /dev/null ${args}`;
}

/** Lines that stop and remove both colours' containers; `onFailure` when docker fails. */
function coloursDown(location: AppLocation, onFailure: string): string[] {
    return [
        "for colour in blue green; do",
        ...projectDown(projectOfColour(location), onFailure).map((line) => `  ${line}`),
        "done",
    ];
}

/**
 * proxied_up REF: REF serves through the proxy from one colour, healthy, and the other colour is down; from the
 * compose file in the current dir. When the serving colour runs REF already (a restore, or a retry after the
 * switch), only the other colour is taken down. proxied_running REF: the route sends to a colour that runs REF,
 * and the other colour runs nothing. proxied_down: the route removed, both colours down.
 */
function proxiedFunctions(spec: TargetSpec): string[] {
    const admin = proxyAdminOf(spec.deployRoot);
    const common = [
        ...proxyApiFunction(admin),
        "proxied_down() {",
        ...removeProxyRoute(admin, spec, "return 1").map((line) => `  ${line}`),
        ...coloursDown(spec, "return 1").map((line) => `  ${line}`),
        "}",
    ];
    const proxy = spec.proxy;
    if (proxy === undefined) {
        // A deploy without the proxy only ever takes a proxied app down: the colours' ports are the previous
        // deploy's, which this one does not know.
        return [
            ...common,
            "proxied_up() { say 'bringing back the deployment behind the proxy needs its proxy.port: set it again and run pulumi up'; return 1; }",
            "proxied_running() { return 1; }",
        ];
    }
    const timeout = Math.trunc(spec.healthTimeoutSeconds);
    const route: ProxyRouteSpec = { ...spec, listen: proxy.listen, hostName: proxy.hostName, healthPath: proxy.healthPath };
    const switchTo = (colour: Colour) => switchProxyRoute(admin, route, proxy.colours[colour]);
    // Builders whose ports are fixed when the text is built, one per colour, chosen by the colour in $variable; in
    // a subshell, as they end with `exit` when they refuse.
    const forColourIn = (variable: string, lines: (colour: Colour) => string[]) => [
        `  if [ "$${variable}" = blue ]; then`,
        "    (", ...lines("blue").map((line) => `      ${line}`), "    ) || return 1",
        "  else",
        "    (", ...lines("green").map((line) => `      ${line}`), "    ) || return 1",
        "  fi",
    ];
    // The route as the proxy gives it back (keys sorted), in the server of its listen address: what the deploy
    // set. Anything else (a health path, host or port changed in config, or by hand) is set again.
    const serverRoutes = `/id/${proxyServerId(proxy.listen)}/routes`;
    return [
        ...common,
        `proxied_port() { case $1 in blue) echo ${validatePort("colour port", proxy.colours.blue)} ;; ` +
            `green) echo ${validatePort("colour port", proxy.colours.green)} ;; esac; }`,
        ...projectRunningFunction("proxied_project_running", projectOfColour(spec), spec.services),
        "proxied_colour_running() { colour=$1; shift; proxied_project_running \"$@\"; }",
        "proxied_live() {",
        ...liveColour(admin, spec, proxy).map((line) => `  ${line}`),
        "}",
        // Run right after proxied_live, whose answer ($proxy_body) it compares.
        "proxied_route_as_set() {",
        `  [ "$proxy_body" = ${shellQuote(canonicalJson(proxyRoute(admin, route)))} ] && proxied_route_in_server`,
        "}",
        "proxied_route_in_server() {",
        `  proxy_api GET ${shellQuote(serverRoutes)} && printf '%s' "$proxy_body" | grep -qF ${shellQuote(`"@id":"${proxyRouteId(spec)}"`)}`,
        "}",
        "proxied_running() {",
        "  proxied_live && [ -n \"$live\" ] && proxied_route_as_set && proxied_colour_running \"$live\" \"$1\" || return 1",
        "  idle=blue; [ \"$live\" = green ] || idle=green",
        `  [ -z "$(${colourContainers(spec, "\"$idle\"", "-q")})" ]`,
        "}",
        "proxied_up() {",
        "  proxied_live || return 1",
        "  next=blue; [ \"$live\" != blue ] || next=green",
        // proxied_colour_running asks docker only: $proxy_body is still proxied_live's answer, as proxied_route_as_set needs.
        "  if [ -n \"$live\" ] && proxied_colour_running \"$live\" \"$1\"; then",
        "    if ! proxied_route_as_set; then",
        "      say \"setting the proxy's route of the $live colour again, as the config has it\"",
        // A route on another port moves to its server; one in its server is changed in place, never interrupted.
        "      if ! proxied_route_in_server; then",
        ...removeProxyRoute(admin, spec, "return 1").map((line) => `        ${line}`),
        "      fi",
        ...forColourIn("live", switchTo).map((line) => `    ${line}`),
        "    fi",
        "    say \"$1 serves from the $live colour already; taking the $next colour down\"",
        "    colour=$next",
        ...projectDown(projectOfColour(spec)).map((line) => `    ${line}`),
        "    return 0",
        "  fi",
        // A port held by anything but this colour's own containers is never taken over.
        `  if [ -z "$(${colourContainers(spec, "\"$next\"", "-aq")})" ]; then`,
        ...forColourIn("next", (colour) => colourPortFreeCheck(proxy.colours[colour])).map((line) => `  ${line}`),
        "  fi",
        "  say \"starting $1 as the $next colour on 127.0.0.1:$(proxied_port \"$next\"), beside the serving one\"",
        `  ${colourCompose(spec, "\"$next\"", `up -d --wait --wait-timeout ${timeout} --remove-orphans`, timeout + 30)} >&2 || return 1`,
        ...forColourIn("next", switchTo),
        "  if [ -n \"$live\" ]; then",
        "    old_port=$(proxied_port \"$live\")",
        ...drainColour(drainSeconds).map((line) => `    ${line}`),
        "    say \"stopping the $live colour\"",
        "    colour=$live",
        ...projectDown(projectOfColour(spec)).map((line) => `    ${line}`),
        "  fi",
        "}",
    ];
}

export const proxiedTarget: TargetController = {
    name: "proxied",

    preflight(engineCheck) {
        return [
            ...composeTarget.preflight(engineCheck),
            "  command -v curl >/dev/null 2>&1 || missing=\"$missing\n  - the curl command (it reaches the proxy's admin socket)\"",
            "  command -v awk >/dev/null 2>&1 || missing=\"$missing\n  - the awk command (it counts the requests a switch drains)\"",
        ];
    },

    translateTemplate(doc, pinned) {
        const services = doc.get("services") as YAML.YAMLMap;
        for (const name of pinned) {
            const service = services.get(name) as YAML.YAMLMap;
            if (service.has("container_name")) {
                return `service ${name} sets container_name, so its two colours could not run side by side`;
            }
            const environment = service.get("environment");
            const setsPort = YAML.isMap(environment) ? environment.has("PORT")
                : YAML.isSeq(environment) && environment.items.some((item) => /^PORT(=|$)/.test(String(YAML.isScalar(item) ? item.value : item)));
            if (setsPort) {
                return `service ${name} sets PORT, which the program sets per colour behind the proxy`;
            }
            const value = `\${${colourPortVariable}}`;
            if (YAML.isSeq(environment)) {
                environment.add(`PORT=${value}`);
            } else if (YAML.isMap(environment)) {
                environment.set("PORT", value);
            } else {
                service.set("environment", { PORT: value });
            }
        }
        return undefined;
    },

    envLine: composeTarget.envLine,

    functions: proxiedFunctions,

    prepare(spec) {
        return [
            "say \"pulling $ref\"",
            `(cd "$job" && ${colourCompose(spec, "blue", "pull --quiet")} >&2) || fail 'docker compose pull failed (is the registry reachable from this host?)'`,
            ...(spec.proxy === undefined ? [] : ensureProxyRunning({ deployRoot: spec.deployRoot, ref: spec.proxy.image })),
        ];
    },

    takeOver: () => [],

    waiting: (timeoutSeconds) => `waiting up to ${Math.trunc(timeoutSeconds)} s for it to be healthy, then switching the proxy to it`,

    upFailure: (spec) => `the new version did not become healthy within ${Math.trunc(spec.healthTimeoutSeconds)} s, or the proxy ` +
        `could not be switched to it; the serving version was left serving (see docker compose -p ${composeProject(spec)}-blue|green logs)`,

    remove(location) {
        const admin = proxyAdminOf(location.deployRoot);
        return [
            ...proxyApiFunction(admin),
            ...removeProxyRoute(admin, location),
            "for colour in blue green; do",
            ...projectRemoved(projectOfColour(location), "exit 1").map((line) => `  ${line}`),
            "done",
        ];
    },

    removeLeftovers: () => [],

    // Its colours are compose projects: the same host-wide listing.
    observeHost: composeTarget.observeHost,

    hostVariables: composeTarget.hostVariables,

    observe(location: AppLocation, markers: ObservationMarkers) {
        const colours: Colour[] = ["blue", "green"];
        return [
            ...containersAndImages(colours.flatMap((colour) => containersOf(`${composeProject(location)}-${colour}`, undefined, colour)), markers),
            `echo ${shellQuote(markers.proxy)}`,
            ...proxyApiFunction(proxyAdminOf(location.deployRoot)),
            ...readProxyRoute(proxyAdminOf(location.deployRoot), location),
        ];
    },

    keptReferences: () => [],
};
