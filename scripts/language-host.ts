// pulumi-language-nodejs for this checkout: the Node.js language host, as a gRPC server implementing
// pulumirpc.LanguageRuntime with @pulumi/pulumi's own generated stubs. The upstream host is a Go program
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs) that the Go module proxy here does not
// serve; this one does what it does for `Run`, so the plain CLI (`pulumi preview/up/destroy/refresh`) can
// run Node.js programs. scripts/install-tools installs .tools/bin/pulumi-language-nodejs, a wrapper that
// starts this file with ts-node (transpile-only).
//
//   pulumi-language-nodejs [-flag[=value]]... [<engine address>]
//
// It binds 127.0.0.1:0 and prints the port on stdout, the one line the engine reads before it connects.
// Flags the engine may pass (-tracing=..., -root=..., -runtime=...) are accepted: -tracing is passed on
// to the program, the others are ignored. -version prints the version and exits.
//
// Run, as upstream: a NEW node process per request,
//   node [nodeargs] <programDirectory>/node_modules/@pulumi/pulumi/cmd/run --monitor ... <entryPoint> [args]
// with PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS (and PULUMI_NODEJS_TYPESCRIPT / _TSCONFIG_PATH from the
// runtime options) in its environment, its stdout/stderr copied to ours (the engine shows them), and its
// exit code mapped: 0 -> ok, 32 -> bail (the program already logged an actionable error), else
// "Program exited with non-zero exit code: N". Differences from upstream: the program talks to the
// engine's resource monitor directly (upstream puts a forwarding proxy in between, kept only for the
// synchronous-invoke pipes that @pulumi/pulumi 3.x no longer opens), and the code generation, plugin,
// pack and link methods answer UNIMPLEMENTED.

import * as childProcess from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

import * as grpc from "@grpc/grpc-js";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as langrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";

/** The module that runs a program, resolved from the program directory (PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides). */
const defaultRunPath = "@pulumi/pulumi/cmd/run";
/** Exit code of cmd/run when it already showed the user an actionable error (nodeJSProcessExitedAfterLoggingUserActionableMessage). */
const nodeJSProcessExitedAfterShowingUserActionableMessage = 32;
/** How long an interrupted program gets before it is killed (upstream: exec.Cmd.WaitDelay). */
const killDelayMs = 5_000;
/** Interval of the engine health check (upstream: rpcutil.Healthcheck, 5 minutes). */
const healthCheckIntervalMs = 5 * 60_000;
/** First port tried for --inspect-brk when the engine asks to attach a debugger. */
const preferredDebugPort = 9229;

/** The version of the @pulumi/pulumi this host runs with (node_modules of this checkout). */
function sdkVersion(): string {
    const pkg = JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8"));
    return String(pkg.version);
}

// --- command line -----------------------------------------------------------------

interface HostArgs {
    engineAddress: string;
    tracing: string;
    showVersion: boolean;
}

/** Parses Go-style flags (-name, -name=value, --name=value; unknown ones ignored) and the engine address. */
function parseArgs(argv: string[]): HostArgs {
    const out: HostArgs = { engineAddress: "", tracing: "", showVersion: false };
    const positional: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--") {
            positional.push(...argv.slice(i + 1));
            break;
        }
        if (!arg.startsWith("-") || arg === "-") {
            positional.push(arg);
            continue;
        }
        const body = arg.replace(/^--?/, "");
        const eq = body.indexOf("=");
        const name = eq < 0 ? body : body.slice(0, eq);
        let value = eq < 0 ? undefined : body.slice(eq + 1);
        // Go's flag package also takes "-name value" for non-boolean flags; only the ones we know.
        if (value === undefined && (name === "tracing" || name === "root" || name === "runtime") && i + 1 < argv.length) {
            value = argv[++i];
        }
        if (name === "tracing") {
            out.tracing = value ?? "";
        } else if (name === "version") {
            out.showVersion = value === undefined || value === "true";
        }
    }
    out.engineAddress = positional[0] ?? "";
    return out;
}

// --- runtime options ------------------------------------------------------------------

interface NodeOptions {
    typescript: boolean;
    tsconfigpath: string;
    nodeargs: string;
    packagemanager: string;
}

/** The `runtime.options` of Pulumi.yaml, validated as upstream's parseOptions does. */
function parseOptions(info: langproto.ProgramInfo | undefined): NodeOptions {
    const raw: Record<string, unknown> = (info?.getOptions()?.toJavaScript() as Record<string, unknown>) ?? {};
    const opts: NodeOptions = { typescript: true, tsconfigpath: "", nodeargs: "", packagemanager: "auto" };
    if ("typescript" in raw) {
        if (typeof raw.typescript !== "boolean") {
            throw new Error("typescript option must be a boolean");
        }
        opts.typescript = raw.typescript;
    }
    if ("tsconfig" in raw) {
        if (typeof raw.tsconfig !== "string") {
            throw new Error("tsconfigpath option must be a string");
        }
        opts.tsconfigpath = raw.tsconfig;
    }
    if ("nodeargs" in raw) {
        if (typeof raw.nodeargs !== "string") {
            throw new Error("nodeargs option must be a string");
        }
        opts.nodeargs = raw.nodeargs;
    }
    if ("packagemanager" in raw) {
        const pm = raw.packagemanager;
        if (typeof pm !== "string") {
            throw new Error("packagemanager option must be a string");
        }
        if (!["auto", "npm", "yarn", "pnpm", "bun"].includes(pm)) {
            throw new Error(`packagemanager option must be one of auto, npm, yarn, pnpm or bun, got ${JSON.stringify(pm)}`);
        }
        opts.packagemanager = pm;
    }
    return opts;
}

/** Splits a command line like a POSIX shell would (quotes, backslash escapes, # comments), for `nodeargs`. */
export function shellSplit(s: string): string[] {
    const words: string[] = [];
    let word: string | undefined;
    let quote: "'" | '"' | undefined;
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (quote === "'") {
            if (c === "'") {
                quote = undefined;
            } else {
                word += c;
            }
        } else if (quote === '"') {
            if (c === '"') {
                quote = undefined;
            } else if (c === "\\" && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1])) {
                word += s[++i];
            } else {
                word += c;
            }
        } else if (/\s/.test(c)) {
            if (word !== undefined) {
                words.push(word);
                word = undefined;
            }
        } else if (c === "#" && word === undefined) {
            while (i < s.length && s[i] !== "\n") {
                i++;
            }
        } else {
            word ??= "";
            if (c === "'" || c === '"') {
                quote = c;
            } else if (c === "\\") {
                if (i + 1 >= s.length) {
                    throw new Error("EOF found after escape character");
                }
                word += s[++i];
            } else {
                word += c;
            }
        }
    }
    if (quote !== undefined) {
        throw new Error("EOF found when expecting closing quote");
    }
    if (word !== undefined) {
        words.push(word);
    }
    return words;
}

// --- config -----------------------------------------------------------------------------

/**
 * PULUMI_CONFIG: the config map as JSON, keys in the old "<namespace>:config:<name>" form that every
 * @pulumi/pulumi reads (upstream's constructConfig; config.ParseKey accepts "ns:name" and "ns:config:name").
 */
export function constructConfig(config: Iterable<[string, string]>): string {
    const out: Record<string, string> = {};
    for (const [key, value] of config) {
        const parts = key.split(":");
        let ns: string;
        let name: string;
        if (parts.length === 2) {
            [ns, name] = parts;
        } else if (parts.length === 3 && parts[1] === "config") {
            [ns, , name] = parts;
        } else {
            throw new Error(
                `could not parse ${key} as a configuration key (configuration keys should be of the form \`<namespace>:<name>\`)`,
            );
        }
        out[`${ns}:config:${name}`] = value;
    }
    return JSON.stringify(out);
}

// --- processes ----------------------------------------------------------------------------

/** exec.LookPath: the first executable `name` on PATH. */
function lookPath(name: string): string {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        const candidate = path.join(dir || ".", name);
        try {
            if (fs.statSync(candidate).isFile()) {
                fs.accessSync(candidate, fs.constants.X_OK);
                return path.resolve(candidate);
            }
        } catch {
            // not here
        }
    }
    throw new Error(`exec: "${name}": executable file not found in $PATH`);
}

/** locateModule: resolve `mod` the way `node -e "require.resolve(mod)"` does when run in `dir`. */
function locateModule(mod: string, dir: string): string {
    try {
        return require.resolve(mod, { paths: [dir] });
    } catch (err: any) {
        if (err?.code === "MODULE_NOT_FOUND") {
            throw new Error("It looks like the Pulumi SDK has not been installed. Have you run pulumi install?");
        }
        throw err;
    }
}

/** The running programs, so Cancel, a cancelled call or shutdown can interrupt them. */
const running = new Set<childProcess.ChildProcess>();
/** Set by the Cancel RPC; like upstream's cancelled context, it also stops any later Run from starting. */
let cancelled = false;

/** SIGINT, then SIGKILL after killDelayMs if the process is still there (exec.CommandContext + WaitDelay). */
function interrupt(child: childProcess.ChildProcess): void {
    if (child.exitCode !== null || child.signalCode !== null) {
        return;
    }
    if (!child.kill("SIGINT")) {
        child.kill("SIGKILL");
        return;
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), killDelayMs);
    timer.unref();
    child.once("exit", () => clearTimeout(timer));
}

/** Notices the V8 out-of-memory report in a program's stderr (upstream's oomSniffer). */
class OomSniffer {
    detected = false;
    private tail = "";
    scan(chunk: string): void {
        if (this.detected) {
            return;
        }
        const text = this.tail + chunk;
        if (
            text.includes("<--- Last few GCs --->") ||
            text.includes("Check failed: needs_context && current_scope_ == closure_scope_")
        ) {
            this.detected = true;
        }
        this.tail = text.slice(-100);
    }
    static readonly message =
        "Detected a possible out of memory error. Consider increasing the memory available to the nodejs process " +
        "by setting the `nodeargs` runtime option in Pulumi.yaml to `nodeargs: --max-old-space-size=<size>` where " +
        "`<size>` is the maximum memory in megabytes that can be allocated to nodejs. " +
        "See https://www.pulumi.com/docs/concepts/projects/project-file/#runtime-options";
}

/** netutil.FindNextAvailablePort: the first port from `start` on that 127.0.0.1 can bind. */
async function findAvailablePort(start: number): Promise<number> {
    for (let port = start; port < 65536; port++) {
        const free = await new Promise<boolean>((resolve) => {
            const srv = net.createServer();
            srv.once("error", () => resolve(false));
            srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
        });
        if (free) {
            return port;
        }
    }
    throw new Error(`no available port from ${start}`);
}

/** Engine.StartDebugging: asks the CLI to attach a debugger to the program (pulumi up --attach-debugger). */
async function startDebugging(engineAddress: string, pid: number, port: number): Promise<void> {
    // Loaded on demand: only --attach-debugger needs the engine client.
    const enginerpc: typeof import("@pulumi/pulumi/proto/engine_grpc_pb") = require("@pulumi/pulumi/proto/engine_grpc_pb");
    const engineproto: typeof import("@pulumi/pulumi/proto/engine_pb") = require("@pulumi/pulumi/proto/engine_pb");
    const cfg: Record<string, structproto.JavaScriptValue> = {
        name: "Pulumi: Program (nodejs)",
        type: "node",
        request: "attach",
        processId: pid,
        continueOnAttach: true,
        skipFiles: ["<node_internals>/**"],
    };
    let message = `on process id ${pid}`;
    if (port !== preferredDebugPort) {
        cfg.port = port;
        message += ` and port ${port}`;
    }
    const req = new engineproto.StartDebuggingRequest();
    req.setConfig(structproto.Struct.fromJavaScript(cfg));
    req.setMessage(message);
    const client = new enginerpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
    try {
        await new Promise<void>((resolve, reject) =>
            client.startDebugging(req, (err) => (err ? reject(new Error(`unable to start debugging: ${err.message}`)) : resolve())),
        );
    } finally {
        client.close();
    }
}

// --- the language host ---------------------------------------------------------------------

class NodeLanguageHost {
    constructor(
        private engineAddress: string,
        private readonly tracing: string,
        private readonly onEngineGone: () => void,
    ) {
        if (engineAddress) {
            startHealthCheck(engineAddress, onEngineGone);
        }
    }

    /** The program run: one node process per request. */
    async run(req: langproto.RunRequest, call: grpc.ServerUnaryCall<langproto.RunRequest, langproto.RunResponse>): Promise<langproto.RunResponse> {
        const response = (error: string, bail = false) => new langproto.RunResponse().setError(error).setBail(bail);
        if (!this.engineAddress) {
            throw new Error("when debugging or running explicitly, must call Handshake before Run");
        }

        let nodeBin: string;
        try {
            nodeBin = lookPath("node");
        } catch (err: any) {
            return response(`could not find node on the $PATH: ${err.message}`);
        }

        const info = req.getInfo();
        // The 3.248 engine always sends ProgramInfo; pwd/program are the older fields for the same thing.
        const programDirectory = info?.getProgramDirectory() || req.getPwd() || process.cwd();
        const entryPoint = info?.getEntryPoint() || req.getProgram() || ".";

        let runPath: string;
        try {
            runPath = locateModule(process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH || defaultRunPath, programDirectory);
        } catch (err: any) {
            return response(err.message);
        }

        // constructArguments: "--flag value" pairs, empty values left out, as upstream.
        const args = [runPath];
        const maybeAppendArg = (k: string, v: string) => {
            if (v !== "") {
                args.push(`--${k}`, v);
            }
        };
        maybeAppendArg("monitor", req.getMonitorAddress());
        maybeAppendArg("engine", this.engineAddress);
        maybeAppendArg("organization", req.getOrganization());
        maybeAppendArg("project", req.getProject());
        maybeAppendArg("root-directory", info?.getRootDirectory() ?? "");
        maybeAppendArg("stack", req.getStack());
        maybeAppendArg("pwd", programDirectory);
        if (req.getDryrun()) {
            args.push("--dry-run");
        }
        maybeAppendArg("parallel", String(req.getParallel()));
        maybeAppendArg("tracing", this.tracing);
        args.push(entryPoint, ...req.getArgsList());

        const env: NodeJS.ProcessEnv = { ...process.env };
        let opts: NodeOptions;
        let nodeArgs: string[];
        try {
            env.PULUMI_CONFIG = constructConfig(req.getConfigMap().toArray());
        } catch (err: any) {
            return response(`failed to serialize configuration: ${err.message}`);
        }
        env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(req.getConfigsecretkeysList());
        try {
            opts = parseOptions(info);
            nodeArgs = shellSplit(opts.nodeargs);
        } catch (err: any) {
            return response(err.message);
        }
        if (opts.typescript) {
            env.PULUMI_NODEJS_TYPESCRIPT = "true";
        }
        if (opts.tsconfigpath) {
            env.PULUMI_NODEJS_TSCONFIG_PATH = opts.tsconfigpath;
        }
        let debugPort = 0;
        if (req.getAttachDebugger()) {
            try {
                debugPort = await findAvailablePort(preferredDebugPort);
            } catch (err: any) {
                return response(`failed to find available port for debugger: ${err.message}`);
            }
            // --inspect-publish-uid=http keeps "Debugger listening on ..." off the console.
            nodeArgs.push(`--inspect-brk=${debugPort}`, "--inspect-publish-uid=http");
        }

        if (cancelled || call.cancelled) {
            return response("Problem executing program (could not run language executor): context canceled");
        }
        return await this.execRuntime(nodeBin, [...nodeArgs, ...args], env, call, debugPort);
    }

    private execRuntime(
        nodeBin: string,
        argv: string[],
        env: NodeJS.ProcessEnv,
        call: grpc.ServerUnaryCall<langproto.RunRequest, langproto.RunResponse>,
        debugPort: number,
    ): Promise<langproto.RunResponse> {
        return new Promise((resolve) => {
            const done = (error: string, bail = false) => resolve(new langproto.RunResponse().setError(error).setBail(bail));
            const child = childProcess.spawn(nodeBin, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
            const sniffer = new OomSniffer();
            let spawnError: Error | undefined;
            running.add(child);
            const onCancelled = () => interrupt(child);
            call.on("cancelled", onCancelled);

            // Copied, not inherited: the engine reads our stdout/stderr line by line into its diagnostics.
            child.stdout.on("data", (chunk: Buffer) => process.stdout.write(chunk));
            child.stderr.on("data", (chunk: Buffer) => {
                process.stderr.write(chunk);
                sniffer.scan(chunk.toString("utf8"));
            });
            child.on("error", (err) => {
                spawnError = err;
            });
            child.on("spawn", () => {
                if (debugPort) {
                    startDebugging(this.engineAddress, child.pid!, debugPort).catch((err: Error) => {
                        spawnError = err;
                        interrupt(child);
                    });
                }
            });
            // "close": the process has exited and its stdout/stderr are drained.
            child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
                running.delete(child);
                call.removeListener("cancelled", onCancelled);
                if (spawnError) {
                    // We did not even get to run the program (or to attach the debugger to it).
                    return done(`Problem executing program (could not run language executor): ${spawnError.message}`);
                }
                // A signalled process has no exit code; Go's ExitCode() reports -1 then.
                const exitCode = code ?? (signal ? -1 : 0);
                switch (exitCode) {
                    case 0:
                        return done("");
                    case nodeJSProcessExitedAfterShowingUserActionableMessage:
                        // The program already gave the user an actionable message: bail without another one.
                        return done("", true);
                    default: {
                        let msg = `Program exited with non-zero exit code: ${exitCode}`;
                        if (sniffer.detected) {
                            msg += `. ${OomSniffer.message}`;
                        }
                        return done(msg);
                    }
                }
            });
        });
    }

    handshake(req: langproto.LanguageHandshakeRequest): langproto.LanguageHandshakeResponse {
        this.engineAddress = req.getEngineAddress();
        startHealthCheck(this.engineAddress, this.onEngineGone);
        return new langproto.LanguageHandshakeResponse();
    }

    getPluginInfo(): plugproto.PluginInfo {
        return new plugproto.PluginInfo().setVersion(sdkVersion());
    }

    /** The resource plugins of the packages in node_modules, as upstream's getPackagesFromDir. */
    getRequiredPackages(req: langproto.GetRequiredPackagesRequest): langproto.GetRequiredPackagesResponse {
        const dir = req.getInfo()?.getProgramDirectory() || process.cwd();
        const pulumiVersions = new Map<string, string>();
        const packages = getPackagesFromDir(dir, pulumiVersions, false, new Set());
        warnIncompatiblePulumiVersions(pulumiVersions);
        return new langproto.GetRequiredPackagesResponse().setPackagesList(packages);
    }

    about(req: langproto.AboutRequest): langproto.AboutResponse {
        const opts = parseOptions(req.getInfo());
        const dir = req.getInfo()?.getProgramDirectory() || process.cwd();
        const pm = resolvePackageManager(opts.packagemanager, dir);
        const resp = new langproto.AboutResponse();
        resp.setExecutable(lookPath("node"));
        resp.setVersion(commandOutput("node", ["--version"]));
        resp.getMetadataMap().set("packagemanager", pm);
        resp.getMetadataMap().set("packagemanagerVersion", commandOutput(pm, ["--version"]));
        return resp;
    }

    /** The dependencies in package.json (all installed packages when transitive), with installed versions. */
    getProgramDependencies(req: langproto.GetProgramDependenciesRequest): langproto.GetProgramDependenciesResponse {
        const dir = req.getInfo()?.getProgramDirectory() || req.getPwd() || process.cwd();
        const deps: langproto.DependencyInfo[] = [];
        const add = (name: string, version: unknown) => {
            if (name && typeof version === "string") {
                deps.push(new langproto.DependencyInfo().setName(name).setVersion(version));
            }
        };
        if (req.getTransitivedependencies()) {
            const lock = readJson(path.join(dir, "package-lock.json"));
            for (const [key, entry] of Object.entries<any>(lock?.packages ?? {})) {
                const idx = key.lastIndexOf("node_modules/");
                if (idx >= 0) {
                    add(key.slice(idx + "node_modules/".length), entry?.version);
                }
            }
        } else {
            const pkg = readJson(path.join(dir, "package.json")) ?? {};
            for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
                add(name, readJson(path.join(dir, "node_modules", name, "package.json"))?.version);
            }
        }
        return new langproto.GetProgramDependenciesResponse().setDependenciesList(deps);
    }

    cancel(): void {
        cancelled = true;
        for (const child of running) {
            interrupt(child);
        }
    }
}

function readJson(file: string): any {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
        return undefined;
    }
}

/** The trimmed stdout of a command, "" when it fails (About must not fail on it). */
function commandOutput(cmd: string, args: string[]): string {
    try {
        return childProcess.execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).trim();
    } catch {
        return "";
    }
}

/** npm.ResolvePackageManager for "auto": by lock file, npm otherwise. */
function resolvePackageManager(pm: string, dir: string): string {
    if (pm !== "auto") {
        return pm;
    }
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, "package-lock.json"))) return "npm";
        if (fs.existsSync(path.join(d, "yarn.lock"))) return "yarn";
        if (fs.existsSync(path.join(d, "pnpm-lock.yaml"))) return "pnpm";
        if (fs.existsSync(path.join(d, "bun.lockb")) || fs.existsSync(path.join(d, "bun.lock"))) return "bun";
        if (path.dirname(d) === d) return "npm";
    }
}

// --- required packages --------------------------------------------------------------------

function getPackagesFromDir(
    dir: string,
    pulumiVersions: Map<string, string>,
    inNodeModules: boolean,
    visited: Set<string>,
): plugproto.PackageDependency[] {
    dir = path.resolve(dir);
    if (visited.has(dir)) {
        return [];
    }
    visited.add(dir);
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
        return [];
    }
    const packages: plugproto.PackageDependency[] = [];
    for (const entry of entries) {
        let curr = path.join(dir, entry.name);
        let isDir = entry.isDirectory();
        if (entry.isSymbolicLink()) {
            try {
                curr = fs.realpathSync(curr);
                isDir = fs.statSync(curr).isDirectory();
            } catch {
                continue;
            }
        }
        if (isDir) {
            // Policy packs carry their own plugins; they are not the program's.
            if ([".json", ".yaml", ".yml"].some((ext) => isFile(path.join(curr, "PulumiPolicy" + ext)))) {
                continue;
            }
            packages.push(...getPackagesFromDir(curr, pulumiVersions, inNodeModules || path.basename(dir) === "node_modules", visited));
        } else if (inNodeModules && entry.name === "package.json") {
            const info = readJson(curr);
            if (!info || typeof info !== "object") {
                continue;
            }
            if (info.name === "@pulumi/pulumi" && typeof info.version === "string") {
                pulumiVersions.set(curr, info.version);
            }
            const dep = packageDependency(info);
            if (dep) {
                packages.push(dep);
            }
        }
    }
    return packages;
}

function isFile(p: string): boolean {
    try {
        return fs.statSync(p).isFile();
    } catch {
        return false;
    }
}

/** getPackageInfo: a package.json with pulumi.resource names a resource plugin. */
function packageDependency(info: any): plugproto.PackageDependency | undefined {
    const pulumi = info.pulumi;
    if (!pulumi || pulumi.resource !== true) {
        return undefined;
    }
    let name: string | undefined = pulumi.name || undefined;
    if (!name) {
        if (typeof info.name !== "string" || !info.name.startsWith("@pulumi/")) {
            return undefined; // third-party packages must name their plugin
        }
        name = info.name.slice("@pulumi/".length);
    }
    let version: string | undefined = pulumi.version || info.version;
    if (!version) {
        return undefined;
    }
    if (!version.startsWith("v")) {
        version = "v" + version;
    }
    const dep = new plugproto.PackageDependency().setName(name!).setKind("resource").setVersion(version).setServer(pulumi.server ?? "");
    const param = pulumi.parameterization;
    if (param && typeof param === "object") {
        dep.setParameterization(
            new plugproto.PackageParameterization()
                .setName(param.name ?? "")
                .setVersion(param.version ?? "")
                .setValue(Buffer.from(param.value ?? "", "base64")),
        );
    }
    return dep;
}

/** The warning upstream prints when node_modules holds @pulumi/pulumi of different major versions. */
function warnIncompatiblePulumiVersions(versions: Map<string, string>): void {
    const entries = [...versions.entries()];
    if (entries.length < 2) {
        return;
    }
    const [firstPath, firstVersion] = entries[0];
    const major = (v: string) => parseInt(v, 10);
    for (const [p, v] of entries.slice(1)) {
        const a = major(v);
        const b = major(firstVersion);
        if ((a > 2 || b > 2) && a !== b) {
            process.stderr.write(
                `Found incompatible versions of @pulumi/pulumi. Differing major versions are not supported.\n` +
                    `  Version ${firstVersion} referenced at ${firstPath}\n  Version ${v} referenced at ${p}\n`,
            );
            return;
        }
    }
}

// --- engine health ----------------------------------------------------------------------------

let healthTimer: NodeJS.Timeout | undefined;

/**
 * rpcutil.Healthcheck: every 5 minutes ask the engine's grpc.health.v1.Health/Check (UNIMPLEMENTED counts
 * as alive); when the engine is gone, shut down so no host outlives its CLI.
 */
function startHealthCheck(address: string, onGone: () => void): void {
    if (healthTimer) {
        clearInterval(healthTimer);
    }
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    healthTimer = setInterval(() => {
        client.makeUnaryRequest(
            "/grpc.health.v1.Health/Check",
            () => Buffer.alloc(0), // HealthCheckRequest{} encodes as no bytes
            (b: Buffer) => b,
            Buffer.alloc(0),
            (err: grpc.ServiceError | null) => {
                if (err && err.code !== grpc.status.UNIMPLEMENTED) {
                    onGone();
                }
            },
        );
    }, healthCheckIntervalMs);
    healthTimer.unref();
}

// --- gRPC wiring --------------------------------------------------------------------------------

type UnaryHandler<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

/** Adapts an (async) function to a grpc-js unary handler; a thrown error becomes the call's error. */
function unary<Req, Res>(fn: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
        Promise.resolve()
            .then(() => fn(call.request, call))
            .then(
                (res) => callback(null, res),
                (err: any) => callback({ code: grpc.status.UNKNOWN, details: String(err?.message ?? err) }),
            );
    };
}

async function main(argv: string[]): Promise<void> {
    const args = parseArgs(argv);
    if (args.showVersion) {
        console.log(sdkVersion());
        return;
    }

    const server = new grpc.Server({
        "grpc.max_receive_message_length": 400 * 1024 * 1024, // as @pulumi/pulumi's grpcChannelOptions
    });
    let shuttingDown = false;
    const shutdown = () => {
        if (shuttingDown) {
            return;
        }
        shuttingDown = true;
        for (const child of running) {
            interrupt(child);
        }
        server.forceShutdown();
        const exitWhenIdle = () => (running.size === 0 ? process.exit(0) : setTimeout(exitWhenIdle, 50));
        exitWhenIdle();
    };
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);

    const host = new NodeLanguageHost(args.engineAddress, args.tracing, shutdown);
    const impl: Partial<langrpc.ILanguageRuntimeServer> = {
        handshake: unary((req) => host.handshake(req)),
        getPluginInfo: unary(() => host.getPluginInfo()),
        getRequiredPackages: unary((req) => host.getRequiredPackages(req)),
        // GetRequiredPlugins is UNIMPLEMENTED upstream too: engines of this age call GetRequiredPackages.
        run: unary((req, call) => host.run(req, call)),
        installDependencies: (call) => {
            // Dependencies are the project's business (npm ci from its scripts); nothing is installed here.
            call.end();
        },
        runtimeOptionsPrompts: unary(() => new langproto.RuntimeOptionsResponse()),
        template: unary(() => new langproto.TemplateResponse()),
        about: unary((req) => host.about(req)),
        getProgramDependencies: unary((req) => host.getProgramDependencies(req)),
        cancel: unary(() => {
            host.cancel();
            return new emptyproto.Empty();
        }),
    };
    server.addService(langrpc.LanguageRuntimeService, impl as grpc.UntypedServiceImplementation);

    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    // The one line the engine waits for. A string, so that Node does not colorize it.
    console.log(port.toString());
}

main(process.argv.slice(2)).catch((err: any) => {
    console.error(`fatal: ${err?.stack ?? err}`);
    process.exit(1);
});
