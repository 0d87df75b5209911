// A Pulumi workspace for this project outside the checkout (the demo's, a test's, one operator's): the CLI
// built by scripts/install-tools at the locked version, a file:// backend or a team's shared state store, and a
// passphrase secrets provider. The stack settings file lives in `workDir`, whose Pulumi.yaml points `main` back
// at the program.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";

const projectRoot = path.resolve(__dirname, "..");
const toolsDir = path.join(projectRoot, ".tools");

function lockedPulumiVersion(): string {
    const lock = JSON.parse(fs.readFileSync(path.join(projectRoot, "package-lock.json"), "utf8")) as {
        packages: Record<string, { version: string }>;
    };
    return lock.packages["node_modules/@pulumi/pulumi"].version;
}

export interface WorkspaceOptions {
    workDir: string;
    /** The local default: a file backend in this dir. */
    stateDir?: string;
    /** A team's shared state store instead, e.g. `postgres://iac@127.0.0.1:5432/pulumi?sslmode=disable`. */
    backendUrl?: string;
    passphrase: string;
    /** This operator's own Pulumi home (credentials, workspace settings), as on their own machine. */
    pulumiHome?: string;
    /** More environment for every CLI run: the store's PGPASSWORD, the operator's IAC_OPERATOR. */
    env?: Record<string, string>;
    /** The checkout whose program runs (a benchmark's copy with more apps); this one by default. */
    programDir?: string;
}

export async function openWorkspace(options: WorkspaceOptions): Promise<LocalWorkspace> {
    if (process.env.PULUMI_HOME !== path.join(toolsDir, "pulumi-home")) {
        throw new Error("the Pulumi engine's environment is not set: run through scripts/test or scripts/demo, " +
            "or `source scripts/tools-env` first (after scripts/install-tools)");
    }
    const pulumiCommand = await PulumiCommand.get({ root: toolsDir });
    if (pulumiCommand.version?.format() !== lockedPulumiVersion()) {
        throw new Error(`${toolsDir}/bin/pulumi is ${pulumiCommand.version?.format()}, package-lock.json has ` +
            `@pulumi/pulumi ${lockedPulumiVersion()}: run scripts/install-tools`);
    }
    if ((options.stateDir === undefined) === (options.backendUrl === undefined)) {
        throw new Error("openWorkspace: give either stateDir (a file backend) or backendUrl (a shared store)");
    }
    fs.mkdirSync(options.workDir, { recursive: true });
    if (options.stateDir !== undefined) {
        fs.mkdirSync(options.stateDir, { recursive: true });
    }
    if (options.pulumiHome !== undefined) {
        fs.mkdirSync(options.pulumiHome, { recursive: true });
    }
    // The program's own project file: its runtime options (how its TypeScript is compiled) are its checkout's.
    const programDir = options.programDir ?? projectRoot;
    const project = YAML.parse(fs.readFileSync(path.join(programDir, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(options.workDir, "Pulumi.yaml"), YAML.stringify({ ...project, main: path.relative(options.workDir, programDir) }));
    return LocalWorkspace.create({
        workDir: options.workDir,
        pulumiCommand,
        envVars: {
            ...options.env,
            PULUMI_BACKEND_URL: options.backendUrl ?? `file://${options.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: options.passphrase,
            ...(options.pulumiHome !== undefined ? { PULUMI_HOME: options.pulumiHome } : {}),
        },
    });
}
