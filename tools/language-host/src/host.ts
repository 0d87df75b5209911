// The LanguageRuntime's methods: Run starts a NEW node process per request,
//   node [nodeargs] <programDirectory>/node_modules/@pulumi/pulumi/cmd/run --monitor ... <entryPoint> [args]
// with the config and runtime options in its environment (program.ts), its stdout/stderr copied to ours (the
// engine shows them), and its exit code mapped: 0 -> ok, 32 -> bail (the program already logged an actionable
// error), else "Program exited with non-zero exit code: N". Differences from upstream: the program talks to the
// engine's resource monitor directly (upstream puts a forwarding proxy in between, kept only for the
// synchronous-invoke pipes that @pulumi/pulumi 3.x no longer opens), and the code generation, plugin, pack and
// link methods answer UNIMPLEMENTED (main.ts).

import * as childProcess from "child_process";
import * as fs from "fs";

import type * as grpc from "@grpc/grpc-js";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";

import { preferredDebugPort, startDebugging, startHealthCheck } from "./engine";
import { installDependencies, InstallOutput } from "./install";
import { NodeOptions, parseOptions, resolvePackageManager, shellSplit } from "./options";
import { programDependencies, requiredPackages } from "./packages";
import { commandOutput, findAvailablePort, interrupt, locateModule, lookPath, OomSniffer } from "./processes";
import { programArguments, programEnvironment, ProgramRun } from "./program";

/** The module that runs a program, resolved from the program directory (PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides). */
const defaultRunPath = "@pulumi/pulumi/cmd/run";
/** Exit code of cmd/run when it already showed the user an actionable error (nodeJSProcessExitedAfterLoggingUserActionableMessage). */
const nodeJSProcessExitedAfterShowingUserActionableMessage = 32;

/** The version of the @pulumi/pulumi this host runs with (node_modules of this checkout). */
export function sdkVersion(): string {
    const pkg = JSON.parse(fs.readFileSync(require.resolve("@pulumi/pulumi/package.json"), "utf8"));
    return String(pkg.version);
}

/**
 * The TypeScript the program would load, resolved from its directory as node resolves it there (a tsc on PATH may
 * be another one), read from its package.json; "" when there is none, as upstream's About leaves it out then.
 */
function typescriptVersion(dir: string): string {
    try {
        const version = JSON.parse(fs.readFileSync(locateModule("typescript/package.json", dir), "utf8")).version;
        return typeof version === "string" ? version : "";
    } catch {
        return "";
    }
}

/** Pulumi.yaml's runtime.options as a plain object. */
function programOptions(info: langproto.ProgramInfo | undefined): Record<string, unknown> | undefined {
    return info?.getOptions()?.toJavaScript() as Record<string, unknown> | undefined;
}

/** The running programs, so Cancel, a cancelled call or shutdown can interrupt them. */
export const running = new Set<childProcess.ChildProcess>();
/** Set by the Cancel RPC; like upstream's cancelled context, it also stops any later Run from starting. */
let cancelled = false;

export class NodeLanguageHost {
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
        // The engine (3.248 and 3.276 alike) always sends ProgramInfo; pwd/program are the older fields for the same thing.
        const programDirectory = info?.getProgramDirectory() || req.getPwd() || process.cwd();
        const entryPoint = info?.getEntryPoint() || req.getProgram() || ".";

        let runPath: string;
        try {
            runPath = locateModule(process.env.PULUMI_LANGUAGE_NODEJS_RUN_PATH || defaultRunPath, programDirectory);
        } catch (err: any) {
            return response(err.message);
        }

        let options: NodeOptions;
        try {
            options = parseOptions(programOptions(info));
        } catch (err: any) {
            return response(err.message);
        }
        const run: ProgramRun = {
            monitorAddress: req.getMonitorAddress(),
            engineAddress: this.engineAddress,
            organization: req.getOrganization(),
            project: req.getProject(),
            rootDirectory: info?.getRootDirectory() ?? "",
            stack: req.getStack(),
            programDirectory,
            dryRun: req.getDryrun(),
            parallel: req.getParallel(),
            tracing: this.tracing,
            entryPoint,
            args: req.getArgsList(),
            config: req.getConfigMap().toArray(),
            secretKeys: req.getConfigsecretkeysList(),
            options,
        };
        let env: NodeJS.ProcessEnv;
        let nodeArgs: string[];
        try {
            env = programEnvironment(process.env, run);
            nodeArgs = shellSplit(run.options.nodeargs);
        } catch (err: any) {
            return response(err.message);
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
        return await this.execRuntime(nodeBin, [...nodeArgs, ...programArguments(runPath, run)], env, call, debugPort);
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
        return new langproto.GetRequiredPackagesResponse().setPackagesList(requiredPackages(dir));
    }

    about(req: langproto.AboutRequest): langproto.AboutResponse {
        const opts = parseOptions(programOptions(req.getInfo()));
        const dir = req.getInfo()?.getProgramDirectory() || process.cwd();
        const pm = resolvePackageManager(opts.packagemanager, dir);
        const resp = new langproto.AboutResponse();
        resp.setExecutable(lookPath("node"));
        resp.setVersion(commandOutput("node", ["--version"]));
        resp.getMetadataMap().set("packagemanager", pm);
        resp.getMetadataMap().set("packagemanagerVersion", commandOutput(pm, ["--version"]));
        const typescript = typescriptVersion(dir);
        if (typescript) {
            resp.getMetadataMap().set("typescriptVersion", typescript);
        }
        return resp;
    }

    getProgramDependencies(req: langproto.GetProgramDependenciesRequest): langproto.GetProgramDependenciesResponse {
        const dir = req.getInfo()?.getProgramDirectory() || req.getPwd() || process.cwd();
        return new langproto.GetProgramDependenciesResponse().setDependenciesList(
            programDependencies(dir, req.getTransitivedependencies()),
        );
    }

    /** `pulumi install`: the program's dependencies, with the package manager its options or lock file name. */
    async installDependencies(req: langproto.InstallDependenciesRequest, out: InstallOutput, signal: AbortSignal): Promise<void> {
        const info = req.getInfo();
        const dir = info?.getProgramDirectory() || req.getDirectory() || process.cwd();
        const opts = parseOptions(programOptions(info));
        await installDependencies(resolvePackageManager(opts.packagemanager, dir), opts.production, dir, out, signal);
    }

    cancel(): void {
        cancelled = true;
        for (const child of running) {
            interrupt(child);
        }
    }
}
