// A stack of this project under the real Pulumi engine, in temp dirs that go away with it.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../../scripts/local/pulumi-workspace";

export interface CliRun {
    child: ChildProcess;
    /** Exit status (null when killed) and everything printed. */
    result: Promise<{ status: number | null; output: string }>;
}

export interface TestStack {
    stack: Stack;
    /** The pulumi CLI on this stack, as an operator runs it. */
    cli(args: string[]): CliRun;
    /** Destroys what the stack still has, removes it and its temp dirs; once. */
    remove(): Promise<void>;
}

export async function createTestStack(stackName: string, config: ConfigMap): Promise<TestStack> {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-work-"));
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-state-"));
    const workspace = await openWorkspace({ workDir, stateDir, passphrase: "e2e-test-passphrase" });
    const stack = await Stack.create(stackName, workspace);
    await stack.setAllConfig(config, true);
    const cli = (args: string[]): CliRun => {
        const child = spawn("pulumi", [...args, "--stack", stackName, "--non-interactive", "--color", "never"], {
            cwd: workDir, env: { ...process.env, ...workspace.envVars }, stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        return { child, result: new Promise((resolve) => child.on("close", (status) => resolve({ status, output }))) };
    };
    return {
        stack,
        cli,
        remove: async () => {
            if (!fs.existsSync(workDir)) {
                return;
            }
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
