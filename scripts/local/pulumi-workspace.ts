// A Pulumi workspace for this project outside the checkout (the demo's, a test's): the CLI built by
// scripts/install-tools at the locked version, a file:// backend and a passphrase secrets provider. The
// stack settings file lives in `workDir`, whose Pulumi.yaml points `main` back at the program.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";

const projectRoot = path.resolve(__dirname, "..", "..");
const toolsDir = path.join(projectRoot, ".tools");

function lockedPulumiVersion(): string {
    const lock = JSON.parse(fs.readFileSync(path.join(projectRoot, "package-lock.json"), "utf8")) as {
        packages: Record<string, { version: string }>;
    };
    return lock.packages["node_modules/@pulumi/pulumi"].version;
}

export interface WorkspaceOptions {
    workDir: string;
    stateDir: string;
    passphrase: string;
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
    fs.mkdirSync(options.workDir, { recursive: true });
    fs.mkdirSync(options.stateDir, { recursive: true });
    const project = YAML.parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(options.workDir, "Pulumi.yaml"),
        YAML.stringify({ ...project, main: path.relative(options.workDir, projectRoot) }));
    return LocalWorkspace.create({
        workDir: options.workDir,
        pulumiCommand,
        envVars: { PULUMI_BACKEND_URL: `file://${options.stateDir}`, PULUMI_CONFIG_PASSPHRASE: options.passphrase },
    });
}
