import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { renderCompose, renderEnvFile } from "../../components/model/compose";
import { defaultMonitorSeconds, durationSeconds, healthWindowSeconds } from "../../components/remote/targets/swarm-template";

const ref = "127.0.0.1:5000/rednaw/hello-world@sha256:" + "f".repeat(64);
const template = "services:\n  web:\n    image: ${IMAGE}\n    network_mode: host\n  cache:\n    image: redis@sha256:" + "1".repeat(64) + "\n";

describe("compose rendering", () => {
    it("pins every ${IMAGE} service to the digest ref and gives it the env file, leaving others alone", () => {
        const rendered = renderCompose("t.yml", template, ref);
        const parsed = YAML.parse(rendered.content);
        assert.deepStrictEqual(rendered.services, ["web"]);
        assert.strictEqual(parsed.services.web.image, ref);
        assert.deepStrictEqual(parsed.services.web.env_file, ["app.env"]);
        assert.strictEqual(parsed.services.cache.env_file, undefined);
    });

    it("refuses a tag reference and a template without ${IMAGE}", () => {
        assert.throws(() => renderCompose("t.yml", template, "127.0.0.1:5000/rednaw/hello-world:eb53023"), /not pinned by digest/);
        assert.throws(() => renderCompose("t.yml", "services:\n  web:\n    image: nginx\n", ref), /compose template t.yml: no service has image/);
        assert.throws(() => renderCompose("t.yml", "services: [", ref), /compose template t.yml/);
    });

    it("writes env files from validated names", () => {
        assert.strictEqual(renderEnvFile({ PORT: "8080", A_B: "x y #1" }), "A_B='x y #1'\nPORT='8080'\n");
        assert.strictEqual(renderEnvFile({ PW: "it's" }), "PW='it\\'s'\n");
        assert.strictEqual(renderEnvFile({ PORT: 8080, DEBUG: true }), "DEBUG='true'\nPORT='8080'\n");
        assert.throws(() => renderEnvFile({ PW: "ends\\" }), /ends with a backslash/);
        assert.throws(() => renderEnvFile({ "BAD-NAME": "x" }), /environment variable name/);
        assert.throws(() => renderEnvFile({ OK: "line\nbreak" }), /line break/);
        assert.throws(() => renderEnvFile({ OK: "a\\'b" }), /backslash right before a quote/);
    });
});

describe("compose rendering for a swarm target", () => {
    const helloWorld = fs.readFileSync(path.join(__dirname, "..", "..", "apps", "hello-world", "compose.yml"), "utf8");

    it("puts host-network services on the external network host, restart in deploy, and a rollback policy watched for the health window", () => {
        const parsed = YAML.parse(renderCompose("apps/hello-world/compose.yml", helloWorld, ref, "swarm").content);
        const web = parsed.services.web;
        assert.strictEqual(web.image, ref);
        assert.strictEqual(web.network_mode, undefined);
        assert.strictEqual(web.restart, undefined);
        assert.deepStrictEqual(web.networks, ["host"]);
        assert.deepStrictEqual(parsed.networks, { host: { external: true, name: "host" } });
        assert.deepStrictEqual(web.deploy.restart_policy, { condition: "any" });
        // The template's healthcheck: start_period 2s + 3 retries × (interval 2s + timeout 2s).
        assert.deepStrictEqual(web.deploy.update_config, { failure_action: "rollback", monitor: "14s", order: "stop-first" });
        assert.deepStrictEqual(web.healthcheck, YAML.parse(helloWorld).services.web.healthcheck);
        assert.strictEqual(web.init, true);
    });

    it("keeps what the template's deploy: says and fills in only what it leaves out", () => {
        const own = "services:\n  web:\n    image: ${IMAGE}\n    deploy:\n      replicas: 3\n      restart_policy: {condition: on-failure}\n" +
            "      update_config: {monitor: 1m, parallelism: 2, order: start-first}\n";
        const web = YAML.parse(renderCompose("t.yml", own, ref, "swarm").content).services.web;
        assert.strictEqual(web.deploy.replicas, 3);
        assert.deepStrictEqual(web.deploy.restart_policy, { condition: "on-failure" });
        assert.deepStrictEqual(web.deploy.update_config, { monitor: "1m", parallelism: 2, order: "start-first", failure_action: "rollback" });
        // No healthcheck in the template: the default window.
        const bare = YAML.parse(renderCompose("t.yml", "services:\n  web:\n    image: ${IMAGE}\n", ref, "swarm").content).services.web;
        assert.strictEqual(bare.deploy.update_config.monitor, `${defaultMonitorSeconds}s`);
        assert.strictEqual(YAML.parse(renderCompose("t.yml", "services:\n  web:\n    image: ${IMAGE}\n", ref, "swarm").content).networks, undefined);
    });

    describe("the update order where the template sets none", () => {
        const orderOf = (template: string) => YAML.parse(renderCompose("t.yml", template, ref, "swarm").content).services.web.deploy.update_config.order;
        const service = (lines: string) => `services:\n  web:\n    image: \${IMAGE}\n${lines}`;

        it("is stop-first where two tasks on one node would want one port: host network or a port published in mode host", () => {
            assert.strictEqual(orderOf(service("    network_mode: host\n")), "stop-first");
            assert.strictEqual(orderOf(service("    networks: [host]\n") + "networks:\n  host: {external: true, name: host}\n"), "stop-first");
            assert.strictEqual(orderOf(service("    networks: {hostnet: {}}\n") + "networks:\n  hostnet: {external: true, name: host}\n"), "stop-first");
            assert.strictEqual(orderOf(service("    ports:\n      - {target: 8080, published: 8080, mode: host}\n")), "stop-first");
        });

        it("is stop-first where a cap of replicas per node may leave no room for the new task", () => {
            assert.strictEqual(orderOf(service("    deploy:\n      placement: {max_replicas_per_node: 1}\n")), "stop-first");
        });

        it("is start-first where the tasks can run side by side: no port on the node, or ports through the ingress mesh", () => {
            assert.strictEqual(orderOf(service("")), "start-first");
            assert.strictEqual(orderOf(service("    networks: [backend]\n") + "networks:\n  backend: {driver: overlay}\n"), "start-first");
            assert.strictEqual(orderOf(service("    ports: [\"8080:8080\"]\n")), "start-first");
            assert.strictEqual(orderOf(service("    ports:\n      - {target: 8080, published: 8080}\n")), "start-first");
        });

        it("never overrides the template's own order", () => {
            assert.strictEqual(orderOf(service("    network_mode: host\n    deploy:\n      update_config: {order: start-first}\n")), "start-first");
            assert.strictEqual(orderOf(service("    deploy:\n      update_config: {order: stop-first}\n")), "stop-first");
        });
    });

    it("refuses what Swarm cannot take, naming the service", () => {
        assert.throws(() => renderCompose("t.yml", "services:\n  web:\n    image: ${IMAGE}\n    network_mode: bridge\n", ref, "swarm"),
            /compose template t.yml: service web: Swarm has no network_mode "bridge".*\(iac:target is swarm\)/);
        assert.throws(() => renderCompose("t.yml", "services:\n  web:\n    image: ${IMAGE}\n    network_mode: host\n    networks: [a]\n", ref, "swarm"),
            /service web: network_mode host with networks/);
        assert.throws(() => renderCompose("t.yml", "services:\n  web:\n    image: ${IMAGE}\n    restart: sometimes\n", ref, "swarm"),
            /service web: restart "sometimes" has no Swarm restart condition/);
    });

    it("reads compose durations", () => {
        assert.strictEqual(durationSeconds("1m30s"), 90);
        assert.strictEqual(durationSeconds("500ms"), 0.5);
        assert.strictEqual(durationSeconds("1h"), 3600);
        assert.strictEqual(durationSeconds("soon"), undefined);
        assert.strictEqual(healthWindowSeconds(YAML.parseDocument("retries: 5\ninterval: 10s\ntimeout: 5s\nstart_period: 1m\n").contents), 135);
    });

    it("writes the env file literally, as docker stack deploy reads it", () => {
        assert.strictEqual(renderEnvFile({ PORT: "8080", A_B: "x y #1 'q' $HOME" }, "swarm"), "A_B=x y #1 'q' $HOME\nPORT=8080\n");
        assert.throws(() => renderEnvFile({ OK: "line\nbreak" }, "swarm"), /line break/);
    });
});
