// What the benchmarks time: `pulumi up` run as an operator runs it, and a task's wall-clock seconds.
import { execFile } from "child_process";
import * as path from "path";
import { promisify } from "util";
import { LocalWorkspace, Workspace } from "@pulumi/pulumi/automation";

const projectRoot = path.resolve(__dirname, "..");
const execFileAsync = promisify(execFile);

/**
 * `pulumi up` as an operator runs it: the CLI alone. (Stack.up also reads the stack's outputs and history after
 * the run, two more CLI runs that a person typing `pulumi up` does not pay.)
 */
export async function cliUp(workspace: LocalWorkspace, stack: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
    await cli(workspace, stack, ["up", "--yes", "--skip-preview"], env);
}

/** A pulumi command (`args`) on `stack`, as an operator runs it. */
export async function cli(workspace: Workspace, stack: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
    await execFileAsync(path.join(projectRoot, ".tools", "bin", "pulumi"), [...args, "--non-interactive", "--stack", stack],
        { cwd: workspace.workDir, env: { ...process.env, ...workspace.envVars, ...env }, maxBuffer: 64 << 20 });
}

/** The size of the stack's state as `pulumi stack export` writes it. */
export async function stateBytes(workspace: LocalWorkspace, stack: string): Promise<number> {
    const exported = await execFileAsync(path.join(projectRoot, ".tools", "bin", "pulumi"), ["stack", "export", "--stack", stack],
        { cwd: workspace.workDir, env: { ...process.env, ...workspace.envVars }, maxBuffer: 64 << 20 });
    return Buffer.byteLength(exported.stdout);
}

export async function seconds(task: () => Promise<unknown>): Promise<number> {
    const start = process.hrtime.bigint();
    await task();
    return Number(process.hrtime.bigint() - start) / 1e9;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
