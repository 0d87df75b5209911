// What a Run hands the program: cmd/run's arguments and the environment carrying config and runtime options.
// Pure functions of the request, so the unit tests check them without an engine.

import type { NodeOptions } from "./options";

/** The parts of a RunRequest (and of the host's own flags) that reach the program. */
export interface ProgramRun {
    monitorAddress: string;
    engineAddress: string;
    organization: string;
    project: string;
    rootDirectory: string;
    stack: string;
    programDirectory: string;
    dryRun: boolean;
    parallel: number;
    tracing: string;
    entryPoint: string;
    args: string[];
    config: Iterable<[string, string]>;
    secretKeys: string[];
    options: NodeOptions;
}

/** constructArguments: cmd/run, then "--flag value" pairs (empty values left out), the entry point and its args. */
export function programArguments(runPath: string, run: ProgramRun): string[] {
    const args = [runPath];
    const maybeAppendArg = (k: string, v: string) => {
        if (v !== "") {
            args.push(`--${k}`, v);
        }
    };
    maybeAppendArg("monitor", run.monitorAddress);
    maybeAppendArg("engine", run.engineAddress);
    maybeAppendArg("organization", run.organization);
    maybeAppendArg("project", run.project);
    maybeAppendArg("root-directory", run.rootDirectory);
    maybeAppendArg("stack", run.stack);
    maybeAppendArg("pwd", run.programDirectory);
    if (run.dryRun) {
        args.push("--dry-run");
    }
    maybeAppendArg("parallel", String(run.parallel));
    maybeAppendArg("tracing", run.tracing);
    args.push(run.entryPoint, ...run.args);
    return args;
}

/**
 * The program's environment: ours plus PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS and the TypeScript options
 * (PULUMI_NODEJS_TYPESCRIPT, PULUMI_NODEJS_TSCONFIG_PATH), as upstream sets them.
 */
export function programEnvironment(base: NodeJS.ProcessEnv, run: ProgramRun): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base };
    try {
        env.PULUMI_CONFIG = constructConfig(run.config);
    } catch (err: any) {
        throw new Error(`failed to serialize configuration: ${err.message}`);
    }
    env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(run.secretKeys);
    if (run.options.typescript) {
        env.PULUMI_NODEJS_TYPESCRIPT = "true";
    }
    if (run.options.tsconfigpath) {
        env.PULUMI_NODEJS_TSCONFIG_PATH = run.options.tsconfigpath;
    }
    return env;
}

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
