// A stack of this project under the real Pulumi engine, in temp dirs that go away with it. By default its state
// is a temp file backend; given a shared store, several operators (each a TestStack with their own working copy
// and Pulumi home) run the same stack.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../../local/pulumi-workspace";

export interface CliRun {
    child: ChildProcess;
    /** Exit status (null when killed) and everything printed. */
    result: Promise<{ status: number | null; output: string }>;
    /**
     * Kills what the run started and left behind: a `pulumi` killed alone (as an operator's kill -9 does) leaves
     * its language host and provider processes running, in its session.
     */
    reap(): Promise<void>;
}

export interface TestStack {
    stack: Stack;
    /** This operator's working copy: Pulumi.yaml and the stack settings file. */
    workDir: string;
    /** The pulumi CLI on this stack, as an operator runs it. */
    cli(args: string[]): CliRun;
    /** Destroys what the stack still has, removes it and its temp dirs (an operator who joined: their dirs only); once. */
    remove(): Promise<void>;
}

export interface TestStackOptions {
    /** A team's shared state store, e.g. a PostgreSQL's `postgres://…` URL. */
    backendUrl?: string;
    /** One operator of a shared stack: their own Pulumi home, and this environment (IAC_OPERATOR, PGPASSWORD). */
    operatorEnv?: Record<string, string>;
    /** Open the stack this operator created instead of creating it, with its settings file as a shared checkout holds it. */
    joins?: TestStack;
}

export async function createTestStack(stackName: string, config: ConfigMap, options: TestStackOptions = {}): Promise<TestStack> {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-work-"));
    const temps = [workDir];
    const tempDir = (prefix: string) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        temps.push(dir);
        return dir;
    };
    const workspace = await openWorkspace({
        workDir,
        ...(options.backendUrl ? { backendUrl: options.backendUrl } : { stateDir: tempDir("iac-e2e-state-") }),
        passphrase: "e2e-test-passphrase",
        ...(options.operatorEnv ? { pulumiHome: tempDir("iac-e2e-home-"), env: options.operatorEnv } : {}),
    });
    const settingsFile = `Pulumi.${stackName}.yaml`;
    if (options.joins) {
        fs.copyFileSync(path.join(options.joins.workDir, settingsFile), path.join(workDir, settingsFile));
    }
    const stack = options.joins ? await Stack.select(stackName, workspace) : await Stack.create(stackName, workspace);
    await stack.setAllConfig(config, true);
    const cli = (args: string[]): CliRun => {
        const child = spawn("pulumi", [...args, "--stack", stackName, "--non-interactive", "--color", "never"], {
            cwd: workDir, env: { ...process.env, ...workspace.envVars }, stdio: ["ignore", "pipe", "pipe"],
            // A session of its own, so reap() finds whatever the run started, parent gone or not.
            detached: true,
        });
        let output = "";
        child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        return {
            child,
            result: new Promise((resolve) => child.on("close", (status) => resolve({ status, output }))),
            reap: async () => {
                // The engine starts plugins in process groups of their own, but they stay in the session the run
                // began (spawn's `detached` makes the CLI a session leader): everything in it is the run's.
                const inSession = () => spawnSync("ps", ["-s", String(child.pid), "-o", "pid="], { encoding: "utf8" }).stdout
                    .split("\n").map((line) => Number(line.trim())).filter((pid) => pid > 0);
                for (let attempt = 0; attempt < 50; attempt++) {
                    const pids = inSession();
                    if (pids.length === 0) {
                        return;
                    }
                    for (const pid of pids) {
                        try {
                            process.kill(pid, "SIGKILL");
                        } catch (error) {
                            if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
                                throw error;
                            }
                        }
                    }
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                throw new Error(`processes of the run ${child.pid} survived SIGKILL: ${inSession().join(" ")}`);
            },
        };
    };
    return {
        stack,
        workDir,
        cli,
        remove: async () => {
            if (!fs.existsSync(workDir)) {
                return;
            }
            try {
                if (!options.joins) {
                    await stack.destroy();
                    await workspace.removeStack(stackName);
                }
            } finally {
                for (const dir of temps) {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            }
        },
    };
}
