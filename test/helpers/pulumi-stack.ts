// A stack of this project under the real Pulumi engine (Automation API): the CLI and plugins built by
// scripts/install-tools, a file:// backend and a passphrase secrets provider in temp dirs.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import * as YAML from "yaml";

const projectRoot = path.resolve(__dirname, "..", "..");
const toolsDir = path.join(projectRoot, ".tools");

export interface TestStack {
    stack: Stack;
    workDir: string;
    stateDir: string;
    /** Destroys what the stack still has, removes it and its temp dirs. */
    remove(): Promise<void>;
}

function lockedPulumiVersion(): string {
    const lock = JSON.parse(fs.readFileSync(path.join(projectRoot, "package-lock.json"), "utf8")) as {
        packages: Record<string, { version: string }>;
    };
    return lock.packages["node_modules/@pulumi/pulumi"].version;
}

export async function createTestStack(stackName: string, config: ConfigMap): Promise<TestStack> {
    if (process.env.PULUMI_HOME !== path.join(toolsDir, "pulumi-home")) {
        throw new Error("the Pulumi engine's environment is not set: run the tests with scripts/test, " +
            "or `source scripts/tools-env` first (after scripts/install-tools)");
    }
    const pulumiCommand = await PulumiCommand.get({ root: toolsDir });
    if (pulumiCommand.version?.format() !== lockedPulumiVersion()) {
        throw new Error(`${toolsDir}/bin/pulumi is ${pulumiCommand.version?.format()}, package-lock.json has ` +
            `@pulumi/pulumi ${lockedPulumiVersion()}: run scripts/install-tools`);
    }

    // The stack's settings file goes to a temp dir, not the checkout; `main` points back at the program.
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-work-"));
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-state-"));
    const project = YAML.parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(workDir, "Pulumi.yaml"), YAML.stringify({ ...project, main: path.relative(workDir, projectRoot) }));

    const workspace = await LocalWorkspace.create({
        workDir,
        pulumiCommand,
        envVars: { PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "e2e-test-passphrase" },
    });
    const stack = await Stack.create(stackName, workspace);
    await stack.setAllConfig(config, true);
    return {
        stack, workDir, stateDir,
        remove: async () => {
            try {
                await stack.destroy();
                await workspace.removeStack(stackName);
            } finally {
                fs.rmSync(workDir, { recursive: true, force: true });
                fs.rmSync(stateDir, { recursive: true, force: true });
            }
        },
    };
}
