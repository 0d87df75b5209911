// The app's one compose template in the form `docker stack deploy` takes. Swarm ignores `network_mode` and
// `restart` (it prints "Ignoring unsupported options") and would put the service on an overlay network that
// loopback cannot reach, so those two are translated to their Swarm form; the update policy the deploy relies
// on (roll back on failure, watched for the health window, the old task kept until the new one runs where the
// ports allow it) is added where the template says nothing.
import * as YAML from "yaml";

/** Swarm's restart conditions for compose's `restart` values. */
const restartConditions: Record<string, string> = {
    "no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure",
};

/** Docker's healthcheck defaults, used for what a template's healthcheck leaves out. */
const healthDefaults = { interval: 30, timeout: 30, retries: 3, startPeriod: 0 };

/** Without a healthcheck in the template, how long an update is watched for a task that fails. */
export const defaultMonitorSeconds = 30;

/** A compose duration (`1m30s`, `2s`, `500ms`) in seconds; undefined when it is not one. */
export function durationSeconds(value: unknown): number | undefined {
    if (typeof value === "number") {
        return value / 1e9;
    }
    if (typeof value !== "string" || !/^(\d+(\.\d+)?(h|ms|m|s|us|ns))+$/.test(value)) {
        return undefined;
    }
    const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
    return [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)].reduce((sum, [, amount, u]) => sum + Number(amount) * unit[u], 0);
}

/**
 * How long a new task may take to be found unhealthy: start period, then `retries` probes of at most
 * interval + timeout each. An update watched for less could be called done just before the task fails.
 */
export function healthWindowSeconds(healthcheck: unknown): number {
    if (!YAML.isMap(healthcheck) || healthcheck.get("disable") === true) {
        return defaultMonitorSeconds;
    }
    const seconds = (key: string, fallback: number) => durationSeconds(healthcheck.get(key)) ?? fallback;
    const retries = Number(healthcheck.get("retries") ?? healthDefaults.retries);
    return Math.ceil(seconds("start_period", healthDefaults.startPeriod) +
        (Number.isFinite(retries) ? retries : healthDefaults.retries) * (seconds("interval", healthDefaults.interval) + seconds("timeout", healthDefaults.timeout)));
}

/** The networks a service joins, by name: a top-level declaration's `name`, else the key the service lists. */
function networkNames(service: YAML.YAMLMap, doc: YAML.Document): string[] {
    const listed = service.get("networks");
    const keys = YAML.isSeq(listed) ? listed.items.map((item) => String(YAML.isScalar(item) ? item.value : item))
        : YAML.isMap(listed) ? listed.items.map((pair) => String((pair.key as YAML.Scalar).value)) : [];
    const declared = doc.get("networks");
    return keys.map((key) => {
        const declaration = YAML.isMap(declared) ? declared.get(key) : undefined;
        const name = YAML.isMap(declaration) ? declaration.get("name") : undefined;
        return name === undefined ? key : String(name);
    });
}

/**
 * Whether two tasks of `service` can run side by side on one node. Start-first runs the new task beside the
 * old until it is healthy, and Swarm may place it on the same node: a task on the host network binds its port
 * on the node itself, where the old task holds it (the new one fails with "address already in use" and Swarm
 * rolls the update back), and so does a port published in mode host. A port published through the ingress
 * mesh is the mesh's, which balances over both tasks. A cap of replicas per node can leave no node with room
 * for the second task, and the update would wait for one.
 */
function runsSideBySide(service: YAML.YAMLMap, doc: YAML.Document): boolean {
    const ports = service.get("ports");
    const placement = service.getIn(["deploy", "placement"]);
    return !networkNames(service, doc).includes("host") &&
        !(YAML.isSeq(ports) && ports.items.some((port) => YAML.isMap(port) && port.get("mode") === "host")) &&
        !(YAML.isMap(placement) && placement.has("max_replicas_per_node"));
}

function mapAt(parent: YAML.YAMLMap, key: string, doc: YAML.Document): YAML.YAMLMap {
    const existing = parent.get(key);
    if (YAML.isMap(existing)) {
        return existing;
    }
    const created = doc.createNode({}) as YAML.YAMLMap;
    parent.set(key, created);
    return created;
}

/**
 * Rewrites `doc` (a parsed compose template whose pinned services are `pinned`) for Swarm. Returns a problem in
 * words when the template asks for something Swarm cannot give, else undefined.
 */
export function translateForSwarm(doc: YAML.Document, pinned: string[]): string | undefined {
    const services = doc.get("services") as YAML.YAMLMap;
    let onHostNetwork = false;
    for (const pair of services.items) {
        const name = String((pair.key as YAML.Scalar).value);
        const service = pair.value;
        if (!YAML.isMap(service)) {
            continue;
        }
        const networkMode = service.get("network_mode");
        if (networkMode !== undefined) {
            if (networkMode !== "host") {
                return `service ${name}: Swarm has no network_mode ${JSON.stringify(networkMode)}; only host is translated (to the external network host)`;
            }
            if (service.has("networks")) {
                return `service ${name}: network_mode host with networks: a service on the host network has no other network`;
            }
            service.delete("network_mode");
            service.set("networks", doc.createNode(["host"]));
            onHostNetwork = true;
        }
        const deploy = mapAt(service, "deploy", doc);
        const restart = service.get("restart");
        if (restart !== undefined) {
            const condition = restartConditions[String(restart).split(":")[0]];
            if (condition === undefined) {
                return `service ${name}: restart ${JSON.stringify(restart)} has no Swarm restart condition`;
            }
            service.delete("restart");
            if (!deploy.has("restart_policy")) {
                deploy.set("restart_policy", doc.createNode({ condition }));
            }
        }
        if (pinned.includes(name)) {
            const update = mapAt(deploy, "update_config", doc);
            for (const [key, value] of Object.entries({
                failure_action: "rollback", monitor: `${healthWindowSeconds(service.get("healthcheck"))}s`,
                // The old task serves until the new one runs, unless the two could not run side by side.
                order: runsSideBySide(service, doc) ? "start-first" : "stop-first",
            })) {
                if (!update.has(key)) {
                    update.set(key, value);
                }
            }
        }
        if (deploy.items.length === 0) {
            service.delete("deploy");
        }
    }
    if (onHostNetwork) {
        const networks = mapAt(doc.contents as YAML.YAMLMap, "networks", doc);
        networks.set("host", doc.createNode({ external: true, name: "host" }));
    }
    return undefined;
}
