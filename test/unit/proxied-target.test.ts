// The proxied target's part of the host shell (it parses, its values are the validated ones), the compose file it
// takes (PORT per colour), what its observation says of the route and the colours, and the config that turns it on.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as YAML from "yaml";
import { DeployInfo } from "../../components/model/deploy-info";
import { ComposeTemplateError, healthcheckHttpPath, renderCompose } from "../../components/model/compose";
import { WorkspaceConfigError, parseWorkspace } from "../../components/model/workspace";
import { buildDeployPhase } from "../../components/remote/deploy-phase";
import { appDir } from "../../components/remote/layout";
import { driftOf, parseObservation } from "../../components/remote/observation";
import { AppProxy, colourPorts, parsePortRange, proxyRoute } from "../../components/remote/proxy";
import { proxyAdminOf } from "../../components/remote/proxy-host";
import { buildObserveScript, buildRemoveScript, observationMarkers } from "../../components/remote/scripts";
import { proxiedTarget } from "../../components/remote/targets/proxied";
import { targetNames } from "../../components/remote/targets/registry";

const location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt" };
const image = "127.0.0.1:5000/rednaw/hello-world";
const [a, b] = ["a", "b"].map((hex) => `sha256:${hex.repeat(64)}`);
const proxy: AppProxy = {
    image: `127.0.0.1:5000/iac/caddy@sha256:${"c".repeat(64)}`, listen: { port: 8080, address: "127.0.0.1" },
    healthPath: "/health", colours: colourPorts(parsePortRange("20000-29999"), appDir(location)),
};
const spec = {
    ...location, owner: "0123456789abcdef", target: proxiedTarget.name, registry: "127.0.0.1:5000", repository: "rednaw/hello-world",
    digest: a, services: ["web"], healthTimeoutSeconds: 30, proxy,
};
const parses = (text: string) => spawnSync("sh", ["-n"], { input: text, encoding: "utf8" });

describe("the proxied target's shell", () => {
    it("parses, in the deploy phase with and without the proxy, in observation and in removal", () => {
        for (const text of [buildDeployPhase(spec), buildDeployPhase({ ...spec, target: "compose", proxy: undefined }),
            buildObserveScript(location, proxiedTarget.name), buildRemoveScript(location, spec.owner)]) {
            const result = parses(text);
            assert.strictEqual(result.status, 0, result.stderr);
        }
    });

    it("names both colours' ports, the proxy's pinned image quoted, and the app's route", () => {
        const phase = buildDeployPhase(spec);
        assert.match(phase, new RegExp(`blue\\) echo ${proxy.colours.blue} ;; green\\) echo ${proxy.colours.green}`));
        assert.ok(phase.includes(`'${proxy.image}'`), "the proxy's image, quoted");
        assert.ok(phase.includes(JSON.stringify(proxyRoute(proxyAdminOf(location.deployRoot), { ...location, ...proxy }))));
    });

    it("is chosen by the program, never offered as iac:target", () => {
        assert.ok(!targetNames().includes(proxiedTarget.name));
    });
});

describe("the compose file behind the proxy", () => {
    const template = (service: object) => YAML.stringify({ services: { web: { image: "${IMAGE}", ...service } } });

    it("takes PORT per colour from the deploy, whatever form the template's environment has", () => {
        for (const environment of [undefined, { LEVEL: "debug" }, ["LEVEL=debug"]]) {
            const rendered = renderCompose("t", template(environment ? { environment } : {}), `${image}@${a}`, proxiedTarget.name);
            const web = YAML.parse(rendered.content).services.web;
            const port = Array.isArray(web.environment) ? web.environment.find((entry: string) => entry.startsWith("PORT="))?.slice(5)
                : web.environment.PORT;
            assert.strictEqual(port, "${IAC_COLOUR_PORT}", JSON.stringify(environment));
        }
    });

    it("refuses a template that sets PORT itself or a container_name", () => {
        assert.throws(() => renderCompose("t", template({ environment: { PORT: "80" } }), `${image}@${a}`, proxiedTarget.name),
            (error: Error) => error instanceof ComposeTemplateError && /sets PORT/.test(error.message));
        assert.throws(() => renderCompose("t", template({ container_name: "web" }), `${image}@${a}`, proxiedTarget.name),
            (error: Error) => error instanceof ComposeTemplateError && /container_name/.test(error.message));
    });

    it("gives the health path the template's healthcheck asks over HTTP", () => {
        assert.strictEqual(healthcheckHttpPath(template({ healthcheck: { test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:$${PORT}/health"] } })), "/health");
        assert.strictEqual(healthcheckHttpPath(template({ healthcheck: { test: "curl -f https://localhost/up?deep=1" } })), "/up?deep=1");
        assert.strictEqual(healthcheckHttpPath(template({ healthcheck: { test: ["CMD", "pgrep", "httpd"] } })), undefined);
    });
});

describe("what observation says behind the proxy", () => {
    const record: DeployInfo = {
        app: "hello-world", workspace: "dev", image, tag: "eb53023", digest: a, description: "initial deploy",
        deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa",
    };
    const answer = (containers: string[], route: string[]) => [
        observationMarkers.deployInfo, ...Object.entries(record).map(([key, value]) => `${key}: ${JSON.stringify(value)}`),
        observationMarkers.containers, ...containers,
        observationMarkers.images, `id-a ${image}@${a}`, `id-b ${image}@${b}`,
        observationMarkers.proxy, ...route, "",
    ].join("\n");
    /** The route as readProxyRoute prints it, its file naming `port`. */
    const routeTo = (port: number, overrides: Partial<AppProxy> = {}) =>
        [JSON.stringify(proxyRoute(proxyAdminOf(location.deployRoot), { ...location, ...proxy, ...overrides })), `upstream-file ${port}`];
    const drift = (containers: string[], route: string[]) =>
        driftOf(parseObservation(answer(containers, route), image, a, "h", location), { record, services: ["web"], proxy });

    it("agrees when the route sends to the colour that runs the record's digest and the other colour is down", () => {
        assert.deepStrictEqual(drift(["web running id-a green", "web exited id-b blue"], routeTo(proxy.colours.green)), []);
    });

    it("names a route sent elsewhere, changed or gone, an unreachable proxy, a stopped colour and a switch cut short", () => {
        assert.match(drift(["web running id-a green"], routeTo(proxy.colours.green + 7)).join("; "), /neither of its colours/);
        assert.match(drift(["web running id-a green"], routeTo(proxy.colours.green, { healthPath: "/" })).join("; "), /route was changed/);
        assert.match(drift(["web running id-a green"], ["proxy-route-absent"]).join("; "), /no route for the app/);
        assert.match(drift(["web running id-a green"], [routeTo(0)[0], "upstream-file "]).join("; "), /names no port \(it is missing or empty\)/);
        assert.match(drift(["web running id-a green"], ["proxy-unreachable 000 connect failed"]).join("; "), /does not answer/);
        assert.deepStrictEqual(drift(["web exited id-a green"], routeTo(proxy.colours.green)), ["service web is exited"]);
        assert.match(drift(["web running id-a green", "web running id-b blue"], routeTo(proxy.colours.green)).join("; "),
            /the blue colour runs beside the serving green one/);
    });
});

describe("the proxy's config", () => {
    const valid = {
        "iac:apps": ["hello-world", "shop"], "iac:registry": "127.0.0.1:5000", "iac:sshHost": "127.0.0.1", "iac:sshUser": "deploy",
        "iac:org": "rednaw", "iac:proxyImage": "iac/caddy:v2.11.9",
        "hello-world:image": "rednaw/hello-world", "hello-world:tag": "eb53023", "hello-world:proxy": { port: 8080 },
        "shop:image": "rednaw/shop", "shop:tag": "eb53023", "shop:proxy": { port: 8080, host: "shop.example.com" },
    };
    const problems = (config: Record<string, unknown>) => {
        try {
            parseWorkspace("dev", config);
            return "accepted";
        } catch (error) {
            assert.ok(error instanceof WorkspaceConfigError, String(error));
            return error.message;
        }
    };

    it("parses the apps' proxy fields, the image and the colours' ports, each app's pair its own", () => {
        const workspace = parseWorkspace("dev", valid);
        assert.deepStrictEqual(workspace.proxy, { repository: "iac/caddy", tag: "v2.11.9", ports: parsePortRange("20000-29999") });
        const [hello, shop] = workspace.apps;
        assert.strictEqual(hello.proxy?.port, 8080);
        assert.strictEqual(shop.proxy?.host, "shop.example.com");
        assert.notStrictEqual(hello.proxy?.colours.blue, shop.proxy?.colours.blue);
        assert.deepStrictEqual(hello.proxy?.colours, colourPorts(parsePortRange("20000-29999"), appDir({ ...location, deployRoot: "/opt" })));
    });

    it("takes a proxy map left empty by `pulumi config rm --path <app>:proxy.port` as the proxy off", () => {
        const workspace = parseWorkspace("dev", { ...valid, "hello-world:proxy": {}, "hello-world:environment": { PORT: "8080" } });
        assert.strictEqual(workspace.apps[0].proxy, undefined);
        assert.strictEqual(workspace.apps[1].proxy?.host, "shop.example.com");
    });

    it("refuses PORT beside proxy.port, two apps on one port without a host name, a swarm, a missing image, an unknown field", () => {
        assert.match(problems({ ...valid, "hello-world:environment": { PORT: "8080" } }), /PORT is set beside hello-world:proxy.port/);
        assert.match(problems({ ...valid, "shop:proxy": { port: 8080 } }), /hello-world and shop are both served on port 8080 without a host name/);
        assert.match(problems({ ...valid, "iac:target": "swarm" }), /needs iac:target compose/);
        assert.match(problems({ ...valid, "iac:proxyImage": "" }), /iac:proxyImage: not set/);
        assert.match(problems({ ...valid, "hello-world:proxy": { port: 8080, tls: true } }), /hello-world:proxy.tls: unknown field/);
        assert.match(problems({ ...valid, "hello-world:proxy": { port: "80x" } }), /hello-world:proxy.port: expected the port/);
        assert.match(problems({ ...valid, "hello-world:proxy.port": 8080 }), /set the proxy's fields with --path/);
        assert.match(problems({ ...valid, "iac:proxyImage": "iac/caddy" }), /iac:proxyImage: invalid reference/);
    });
});
