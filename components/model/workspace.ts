// A workspace (a stack) as one model for the program and every command: its config entries (from the engine, or
// from Pulumi.<stack>.yaml for the commands that run without Pulumi) over the defaults Pulumi.yaml declares, checked
// as a whole — every problem in one message, the same one `pulumi preview` prints — and handed out parsed.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { envEntryProblem } from "./compose";
import { validateProjectPath } from "./sops-environment";
import { projectRoot } from "./project-root";
import { parsePlatform, parseRepositoryReference, validateDigest, validateHost, validateRegistry, validateRepository, validateTag } from "../registry/reference";
import { AppLocation, DeployTarget, appDir, appNamePattern, validateAbsolutePath, validateName } from "../remote/layout";
import { ColourPorts, PortRange, assignColourPorts, parsePortRange, validateHealthPath, validateHostName, validateListenAddress } from "../remote/proxy";
import { hostKeyPattern } from "../remote/ssh";
import { defaultTarget, targetNames } from "../remote/targets/registry";

export const projectNamespace = "iac";

/**
 * Pulumi reads Pulumi.yaml and Pulumi.<stack>.yaml with Go's yaml.v3, which resolves `<<:` merge keys (YAML 1.1)
 * as YAML 1.2 parsers do only when asked: without this, a merged stack file that `pulumi` accepts would reach the
 * model as a key named `<<`.
 */
const asPulumiReadsIt = { merge: true } as const;

/** Pulumi.yaml's `config:` block: every project key with its type, and the defaults, declared there only. */
function declaredConfig(): Record<string, { default?: unknown }> {
    const project = YAML.parse(fs.readFileSync(path.join(projectRoot(), "Pulumi.yaml"), "utf8"), asPulumiReadsIt) as { config: Record<string, { default?: unknown }> };
    return project.config;
}

const declared = declaredConfig();

/** Keys of the project namespace, as Pulumi.yaml declares them. */
export const projectKeys = Object.keys(declared);

/** Keys of an app's namespace, and the defaults of those that have one. */
export const appKeys = ["image", "tag", "digest", "environment", "environmentFile", "healthTimeout", "proxy"] as const;
/** The fields of `<app>:proxy`, set one by one with `pulumi config set --path <app>:proxy.port 8080`. */
const proxyFields = ["port", "host", "healthPath"] as const;
const appDefaults = { healthTimeout: 120 };

/** A value Pulumi.<stack>.yaml holds encrypted: set, but unreadable without Pulumi and its passphrase. */
export const encrypted = Symbol("encrypted");

/** Config entries keyed `namespace:key`: YAML values from a stack file, or text (JSON for objects) from the engine. */
export type ConfigEntries = Record<string, unknown>;

export interface WorkspaceRegistry {
    /** host[:port] */
    address: string;
    insecure: boolean;
    username?: string;
    /** Whether iac:registryPassword is set (its value is a secret the model does not hold). */
    hasPassword: boolean;
}

export interface WorkspaceHost {
    host: string;
    port: number;
    user: string;
    /** The host's public key, `ssh-ed25519 AAAA…`; unset: any key is accepted. */
    hostKey?: string;
    org: string;
    deployRoot: string;
    /** compose: the host runs the apps with docker compose; swarm: the host is a manager of the swarm that runs them. */
    target: DeployTarget;
}

export interface WorkspaceApp {
    name: string;
    /** The repository in the workspace's registry, e.g. rednaw/hello-world. */
    repository: string;
    tag?: string;
    digest?: string;
    /** Plain entries; an entry the stack file holds encrypted is `encrypted`. */
    environment: Record<string, unknown>;
    /** A SOPS file of more entries, relative to the project (docs/secrets.md); the program decrypts it. */
    environmentFile?: string;
    healthTimeoutSeconds: number;
    /** `<app>:proxy`: served through the host's proxy, started beside the serving version and switched to when healthy. */
    proxy?: WorkspaceAppProxy;
}

export interface WorkspaceAppProxy {
    /** The port the proxy serves the app on. */
    port: number;
    /** Route by host name, so several apps share one port. */
    host?: string;
    /** What the proxy checks before switching; unset: the compose healthcheck's HTTP path, else /up. */
    healthPath?: string;
    /** The two ports the app's colours listen on, derived from iac:proxyPorts and the app dir. */
    colours: ColourPorts;
}

/** The host's proxy, for the workspace's apps with `<app>:proxy.port`. */
export interface WorkspaceProxy {
    /** `iac:proxyImage`: the proxy's image in the workspace's registry, by tag or digest. */
    repository: string;
    tag?: string;
    digest?: string;
    /** `iac:proxyPorts`: the range the apps' colour ports are derived from. */
    ports: PortRange;
    /** `iac:proxyAddress`: the address the proxy binds; unset: every address. */
    address?: string;
}

export interface Workspace {
    name: string;
    registry: WorkspaceRegistry;
    platform: string;
    host: WorkspaceHost;
    apps: WorkspaceApp[];
    /** Set when an app is served through the proxy. */
    proxy?: WorkspaceProxy;
}

/**
 * Pulumi shows it without a stack trace (they are the operator's problems to fix): the engine recognises a RunError
 * by its __pulumiRunError mark (RunError.isInstance, which works across copies of the SDK). Marked rather than
 * extended, so the operator commands that share this module do not load @pulumi/pulumi (over a second to start).
 */
export class WorkspaceConfigError extends Error {
    readonly __pulumiRunError = true;

    constructor(workspace: string, readonly problems: string[]) {
        super(`the configuration of workspace ${workspace} has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
        this.name = "WorkspaceConfigError";
    }
}

// What login names look like on POSIX systems (the portable filename characters, not starting with '-'), as
// useradd accepts them: `deploy_user`, `ci.bot`.
const userNamePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

/** Reads typed values off the entries, recording a problem for each that does not parse; never throws. */
class EntryReader {
    readonly problems: string[] = [];

    constructor(private readonly entries: ConfigEntries) {}

    problem(key: string, message: string): void {
        this.problems.push(`${key}: ${message}`);
    }

    /** Runs a validator, turning its error into a problem. */
    check<T>(key: string, validate: () => T): T | undefined {
        try {
            return validate();
        } catch (error) {
            this.problem(key, (error as Error).message);
            return undefined;
        }
    }

    isSet(key: string): boolean {
        const value = this.raw(key);
        return value !== undefined && value !== null && value !== "";
    }

    /** The value, the declared default under it; "" counts as unset (Pulumi.yaml declares "" for optional text). */
    private raw(key: string): unknown {
        const value = this.entries[key];
        if (value !== undefined && value !== null && value !== "") {
            return value;
        }
        const [namespace, name] = key.split(":");
        return namespace === projectNamespace ? declared[name]?.default : (appDefaults as Record<string, unknown>)[name];
    }

    text(key: string): string | undefined {
        const value = this.raw(key);
        if (value === encrypted) {
            this.problem(key, "is a secret in the stack file, which commands without Pulumi cannot read; set it without --secret");
            return undefined;
        }
        if (value === undefined || value === null || value === "") {
            return undefined;
        }
        return typeof value === "object" ? undefined : String(value);
    }

    required(key: string, example: string): string {
        const value = this.text(key);
        if (value === undefined && this.raw(key) !== encrypted) {
            this.problem(key, `not set: \`pulumi config set ${key} ${example}\``);
        }
        return value ?? "";
    }

    boolean(key: string): boolean {
        const value = this.text(key);
        if (value === undefined || value === "true" || value === "false") {
            return value === "true";
        }
        this.problem(key, `expected true or false, not ${JSON.stringify(value)}`);
        return false;
    }

    integer(key: string, min: number, max: number): number {
        const value = this.text(key);
        const parsed = Number(value);
        if (value === undefined || !/^[0-9]+$/.test(value) || parsed < min || parsed > max) {
            this.problem(key, `expected a whole number from ${min} to ${max}, not ${JSON.stringify(value ?? null)}`);
            return min;
        }
        return parsed;
    }

    /** Arrays and maps: YAML values from a stack file, JSON text from the engine. */
    structured(key: string): unknown {
        const value = this.raw(key);
        if (typeof value !== "string") {
            return value;
        }
        try {
            return JSON.parse(value) as unknown;
        } catch {
            return value;
        }
    }

    keys(): string[] {
        return Object.keys(this.entries);
    }
}

function parseApp(reader: EntryReader, name: string): WorkspaceApp {
    const repository = reader.required(`${name}:image`, "rednaw/hello-world");
    if (repository) {
        reader.check(`${name}:image`, () => validateRepository(repository));
    }
    const tag = reader.text(`${name}:tag`);
    const digest = reader.text(`${name}:digest`);
    if (tag !== undefined) {
        reader.check(`${name}:tag`, () => validateTag(tag));
    }
    if (digest !== undefined) {
        reader.check(`${name}:digest`, () => validateDigest(digest));
    }
    if (tag === undefined && digest === undefined) {
        reader.problem(name, `neither ${name}:tag nor ${name}:digest is set; ` +
            `choose a version with \`pulumi config set ${name}:tag <short sha>\` (see \`npm run registry:overview\`)`);
    }
    const environment = reader.structured(`${name}:environment`) ?? {};
    if (typeof environment !== "object" || Array.isArray(environment) || environment === null) {
        reader.problem(`${name}:environment`, "expected a map of names to values, e.g. " +
            `\`pulumi config set --path ${name}:environment.PORT 8080\``);
    }
    const entries = typeof environment === "object" && environment !== null && !Array.isArray(environment)
        ? Object.fromEntries(Object.entries(environment).map(([key, value]) =>
            [key, typeof value === "object" && value !== null && "secure" in value ? encrypted : value]))
        : {};
    for (const [key, value] of Object.entries(entries)) {
        const problem = envEntryProblem(key, value === encrypted ? "" : value);
        if (problem) {
            reader.problem(`${name}:environment`, problem);
        }
    }
    const environmentFile = reader.text(`${name}:environmentFile`);
    if (environmentFile !== undefined) {
        reader.check(`${name}:environmentFile`, () => validateProjectPath(environmentFile));
    }
    const proxy = parseAppProxy(reader, name);
    if (proxy !== undefined && Object.hasOwn(entries, "PORT")) {
        reader.problem(`${name}:environment`, `PORT is set beside ${name}:proxy.port: behind the proxy the program gives each colour ` +
            `its own PORT; remove it with \`pulumi config rm --path ${name}:environment.PORT\``);
    }
    return {
        name, repository, tag, digest, environment: entries, environmentFile,
        healthTimeoutSeconds: reader.integer(`${name}:healthTimeout`, 1, 3600),
        ...(proxy === undefined ? {} : { proxy }),
    };
}

/** `<app>:proxy`, a map of proxyFields; undefined when the app is not served through the proxy. */
function parseAppProxy(reader: EntryReader, name: string): WorkspaceAppProxy | undefined {
    const key = `${name}:proxy`;
    const value = reader.structured(key);
    // `pulumi config rm --path <app>:proxy.port` can leave the map behind, empty: the proxy off, as the operator meant.
    const empty = typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
    if (value === undefined || value === null || value === "" || empty) {
        return undefined;
    }
    if (typeof value !== "object" || Array.isArray(value)) {
        reader.problem(key, `expected a map of ${proxyFields.join(", ")}, e.g. \`pulumi config set --path ${key}.port 8080\``);
        return undefined;
    }
    const fields = value as Record<string, unknown>;
    for (const field of Object.keys(fields).filter((field) => !(proxyFields as readonly string[]).includes(field))) {
        reader.problem(`${key}.${field}`, `unknown field; the proxy's fields are ${proxyFields.join(", ")}`);
    }
    const text = (field: string) => fields[field] === undefined || fields[field] === null || fields[field] === "" ? undefined : String(fields[field]);
    const port = Number(text("port"));
    if (text("port") === undefined || !/^[0-9]+$/.test(text("port")!) || port < 1 || port > 65535) {
        reader.problem(`${key}.port`, `expected the port the proxy serves ${name} on (1 to 65535), e.g. \`pulumi config set --path ${key}.port 8080\`; ` +
            `to serve ${name} without the proxy, remove the whole map: \`pulumi config rm ${key}\``);
    }
    const host = text("host");
    if (host !== undefined) {
        reader.check(`${key}.host`, () => validateHostName(host));
    }
    const healthPath = text("healthPath");
    if (healthPath !== undefined) {
        reader.check(`${key}.healthPath`, () => validateHealthPath(healthPath));
    }
    // The colours come with the workspace's range, once every app is known (parseProxy).
    return { port, ...(host === undefined ? {} : { host }), ...(healthPath === undefined ? {} : { healthPath }), colours: { blue: 0, green: 0 } };
}

/**
 * The proxy's config, checked with its apps: its image, the colour ports (two apps never share a pair, a proxy
 * port is never a colour port) and, per port, at most one app without a host name (it would take every request).
 */
function parseProxy(reader: EntryReader, host: WorkspaceHost, apps: WorkspaceApp[], workspace: string): WorkspaceProxy | undefined {
    const proxied = apps.filter((app) => app.proxy !== undefined);
    if (proxied.length === 0) {
        return undefined;
    }
    if (host.target !== defaultTarget.name) {
        reader.problem("iac:target", `${proxied.map((app) => `${app.name}:proxy`).join(", ")} needs iac:target ${defaultTarget.name}: ` +
            "on a swarm the proxy is not supported yet (docs/zero-downtime.md says what a swarm deploy gives instead)");
    }
    const image = reader.required("iac:proxyImage", "rednaw/caddy:v2.11.9");
    const reference = image ? reader.check("iac:proxyImage", () => parseRepositoryReference(image)) : undefined;
    const ports = reader.check("iac:proxyPorts", () => parsePortRange(reader.text("iac:proxyPorts")!));
    const address = reader.text("iac:proxyAddress");
    if (address !== undefined) {
        reader.check("iac:proxyAddress", () => validateListenAddress(address));
    }
    const colours = ports === undefined ? undefined : reader.check("iac:proxyPorts", () => assignColourPorts(ports, proxied.map((app) => ({
        app: app.name, dir: appDir({ app: app.name, workspace, org: host.org, deployRoot: host.deployRoot }), proxyPort: app.proxy!.port,
    }))));
    for (const app of proxied) {
        app.proxy!.colours = colours?.get(app.name) ?? app.proxy!.colours;
    }
    const byPort = new Map<number, WorkspaceApp[]>();
    for (const app of proxied) {
        byPort.set(app.proxy!.port, [...(byPort.get(app.proxy!.port) ?? []), app]);
    }
    for (const [port, sharing] of byPort) {
        const bare = sharing.filter((app) => app.proxy!.host === undefined);
        if (bare.length > 1) {
            reader.problem(`${bare[1].name}:proxy.host`, `${bare.map((app) => app.name).join(" and ")} are both served on port ${port} without ` +
                "a host name, and one would take every request: give each a host name, or each its own port");
        }
        const hosts = sharing.flatMap((app) => app.proxy!.host === undefined ? [] : [app.proxy!.host]);
        const twice = hosts.find((name, i) => hosts.indexOf(name) !== i);
        if (twice !== undefined) {
            reader.problem("iac:apps", `two apps are served on port ${port} for the host name ${twice}: give each its own`);
        }
    }
    return { ...(reference ?? { repository: "" }), ports: ports ?? { first: 0, count: 0 }, ...(address === undefined ? {} : { address }) };
}

/**
 * The workspace `name` from its config entries: parsed and checked as a whole. Throws WorkspaceConfigError
 * listing every problem.
 */
export function parseWorkspace(name: string, entries: ConfigEntries, extraChecks: (workspace: Workspace) => string[] = () => []): Workspace {
    const reader = new EntryReader(entries);
    // Also part of deploy-info.yml and host paths.
    reader.check("workspace", () => validateName("workspace", name));

    const listed = reader.structured("iac:apps");
    let appNames: string[] = [];
    if (!Array.isArray(listed) || listed.some((app) => typeof app !== "string" || !appNamePattern.test(app))) {
        reader.problem("iac:apps", "expected a list of app names (lowercase letters, digits and '-'), e.g. " +
            "`pulumi config set --path 'iac:apps[0]' hello-world`");
    } else {
        appNames = listed as string[];
    }

    const address = reader.required("iac:registry", "registry.example.com");
    if (address) {
        reader.check("iac:registry", () => validateRegistry(address));
    }
    const platform = reader.text("iac:platform")!;
    reader.check("iac:platform", () => parsePlatform(platform));

    const host: WorkspaceHost = {
        host: reader.required("iac:sshHost", "deploy.example.com"),
        port: reader.integer("iac:sshPort", 1, 65535),
        user: reader.required("iac:sshUser", "deploy"),
        hostKey: reader.text("iac:sshHostKey"),
        org: reader.required("iac:org", "rednaw"),
        deployRoot: reader.text("iac:deployRoot")!,
        target: reader.text("iac:target") as DeployTarget,
    };
    if (!targetNames().includes(host.target)) {
        reader.problem("iac:target", `expected ${targetNames().join(" or ")}, not ${JSON.stringify(host.target)}`);
    }
    if (host.host) {
        reader.check("iac:sshHost", () => validateHost(host.host));
    }
    if (host.user && !userNamePattern.test(host.user)) {
        reader.problem("iac:sshUser", `invalid user name ${JSON.stringify(host.user)}: expected a POSIX login name ` +
            "(letters, digits, '_', '.', '-', not starting with '-', at most 32), e.g. deploy_user");
    }
    if (host.hostKey !== undefined && !hostKeyPattern.test(host.hostKey)) {
        reader.problem("iac:sshHostKey", `expected "<type> <base64>" as ssh-keyscan prints it (without the host name), not ${JSON.stringify(host.hostKey)}`);
    }
    if (host.org) {
        reader.check("iac:org", () => validateName("org", host.org));
    }
    reader.check("iac:deployRoot", () => validateAbsolutePath("deploy root", host.deployRoot));

    const apps = appNames.map((app) => parseApp(reader, app));
    const proxy = parseProxy(reader, host, apps, name);

    const known = new Set([...projectKeys.map((key) => `${projectNamespace}:${key}`),
        ...appNames.flatMap((app) => appKeys.map((key) => `${app}:${key}`))]);
    const namespaces = new Set([projectNamespace, ...appNames]);
    for (const key of reader.keys()) {
        const namespace = key.split(":", 1)[0];
        if (namespaces.has(namespace) && !known.has(key)) {
            const field = key.slice(namespace.length + 1);
            if (namespace !== projectNamespace && field.startsWith("proxy.")) {
                reader.problem(key, `set the proxy's fields with --path, which makes them one map: \`pulumi config rm ${key}\` then ` +
                    `\`pulumi config set --path ${key} <value>\``);
                continue;
            }
            reader.problem(key, `unknown key; ${namespace === projectNamespace
                ? `the project's keys are ${projectKeys.join(", ")}`
                : `an app's keys are ${appKeys.join(", ")}`}`);
        }
    }

    const username = reader.text("iac:registryUsername");
    const hasPassword = reader.isSet("iac:registryPassword");
    if (!!username !== hasPassword) {
        reader.problems.push(username
            ? "iac:registryUsername is set without iac:registryPassword: `pulumi config set --secret iac:registryPassword`"
            : "iac:registryPassword is set without iac:registryUsername: `pulumi config set iac:registryUsername <user>`");
    }

    const workspace: Workspace = {
        name,
        registry: { address, insecure: reader.boolean("iac:registryInsecure"), username, hasPassword },
        platform,
        host,
        apps,
        ...(proxy === undefined ? {} : { proxy }),
    };
    const problems = [...reader.problems, ...extraChecks(workspace)];
    if (problems.length > 0) {
        throw new WorkspaceConfigError(name, problems);
    }
    return workspace;
}

export function stackFile(stack: string, projectDir: string): string {
    return path.join(projectDir, `Pulumi.${stack}.yaml`);
}

/** The workspaces that have a stack file in `projectDir`. */
export function listWorkspaces(projectDir: string): string[] {
    return fs.readdirSync(projectDir).map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => !!name).sort();
}

/** A workspace read from its stack file, for the commands that run without Pulumi; encrypted values stay unread. */
export function readWorkspace(stack: string, projectDir: string): Workspace {
    const file = stackFile(stack, projectDir);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new WorkspaceConfigError(stack, [`${file} does not exist: create the workspace with \`pulumi stack init ${stack}\``]);
    }
    const document = YAML.parseDocument(text, asPulumiReadsIt);
    if (document.errors.length > 0) {
        throw new WorkspaceConfigError(stack, [`${file} is not valid YAML: ${document.errors[0].message}`]);
    }
    const config = ((document.toJS() as { config?: ConfigEntries } | null)?.config ?? {});
    const entries = Object.fromEntries(Object.entries(config).map(([key, value]) =>
        [key, typeof value === "object" && value !== null && !Array.isArray(value) && "secure" in value ? encrypted : value]));
    return parseWorkspace(stack, entries);
}

/** Where `app` lives on the workspace's host. */
export function appLocation(workspace: Workspace, app: string): AppLocation {
    return { app, workspace: workspace.name, org: workspace.host.org, deployRoot: workspace.host.deployRoot };
}
