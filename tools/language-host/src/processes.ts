// Processes: finding executables and modules, interrupting a program as upstream's exec.CommandContext does.

import * as childProcess from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

/** How long an interrupted program gets before it is killed (upstream: exec.Cmd.WaitDelay). */
const killDelayMs = 5_000;

/** exec.LookPath: the first executable `name` on PATH. */
export function lookPath(name: string): string {
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
export function locateModule(mod: string, dir: string): string {
    try {
        return require.resolve(mod, { paths: [dir] });
    } catch (err: any) {
        if (err?.code === "MODULE_NOT_FOUND") {
            throw new Error("It looks like the Pulumi SDK has not been installed. Have you run pulumi install?");
        }
        throw err;
    }
}

/** SIGINT, then SIGKILL after killDelayMs if the process is still there (exec.CommandContext + WaitDelay). */
export function interrupt(child: childProcess.ChildProcess): void {
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
export class OomSniffer {
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
export async function findAvailablePort(start: number): Promise<number> {
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

/** The trimmed stdout of a command, "" when it fails (About must not fail on it). */
export function commandOutput(cmd: string, args: string[]): string {
    try {
        return childProcess.execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).trim();
    } catch {
        return "";
    }
}
