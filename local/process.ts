// Starting a local service as a child process and waiting until it answers: shared by every launcher in
// local/, so tests and the demo start services the same way.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";

export interface StartedProcess {
    child: ChildProcess;
    /** The first match of `ready` in the process's log. */
    ready: RegExpMatchArray;
    stop(): Promise<void>;
}

export class ServiceStartError extends Error {
    constructor(service: string, detail: string, logFile: string) {
        super(`${service} did not start: ${detail}; its log is ${logFile}`);
        this.name = "ServiceStartError";
    }
}

/**
 * Spawns `command` with stdout and stderr appended to `logFile` and resolves once `ready` shows in the log;
 * a process that exits or stays silent past the timeout is stopped and reported.
 */
export async function startProcess(service: string, command: string, args: string[], options: {
    logFile: string;
    ready: RegExp;
    timeoutMs: number;
    env?: NodeJS.ProcessEnv;
    /** Outlive this process (the demo's services); stop later by pid with stopPid. */
    keepRunning?: boolean;
    /** Run as this user (a service that refuses root, such as postgres); the log file must be writable by it. */
    user?: { uid: number; gid: number };
}): Promise<StartedProcess> {
    // A restarted service appends to its old log: only what this start writes counts as ready.
    const logStart = fs.existsSync(options.logFile) ? fs.statSync(options.logFile).size : 0;
    const log = fs.openSync(options.logFile, "a");
    const child = spawn(command, args, {
        stdio: ["ignore", log, log], env: options.env ?? process.env, detached: options.keepRunning ?? false,
        uid: options.user?.uid, gid: options.user?.gid,
    });
    if (options.keepRunning) {
        child.unref();
    }
    fs.closeSync(log);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

    const output = new Promise<RegExpMatchArray>((resolve, reject) => {
        const deadline = Date.now() + options.timeoutMs;
        const poll = () => {
            const text = fs.readFileSync(options.logFile).subarray(logStart).toString("utf8");
            const match = text.match(options.ready);
            if (match) {
                return resolve(match);
            }
            if (child.exitCode !== null || child.signalCode !== null) {
                return reject(new ServiceStartError(service, `exited with ${child.exitCode ?? child.signalCode}: ` +
                    text.trim().split("\n").slice(-3).join(" | "), options.logFile));
            }
            if (Date.now() > deadline) {
                return reject(new ServiceStartError(service, `not ready after ${options.timeoutMs / 1000} s`, options.logFile));
            }
            setTimeout(poll, 50);
        };
        child.once("error", (error) => reject(new ServiceStartError(service, error.message, options.logFile)));
        poll();
    });

    const stop = async () => {
        if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(killer);
        }
    };
    try {
        return { child, ready: await output, stop };
    } catch (error) {
        await stop();
        throw error;
    }
}

/** Stops a process started with keepRunning by an earlier command: SIGTERM, then SIGKILL after 10 s. */
export async function stopPid(pid: number): Promise<void> {
    const alive = () => {
        try {
            process.kill(pid, 0);
            return true;
        } catch {
            return false;
        }
    };
    if (!alive()) {
        return;
    }
    process.kill(pid, "SIGTERM");
    for (let waited = 0; alive() && waited < 10_000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (alive()) {
        process.kill(pid, "SIGKILL");
    }
}

/** Fails loudly, naming the installer, when a tool the tests need is not there. */
export function requireExecutable(path: string, installHint: string): string {
    try {
        fs.accessSync(path, fs.constants.X_OK);
        return path;
    } catch {
        throw new Error(`${path} is missing: ${installHint}`);
    }
}
