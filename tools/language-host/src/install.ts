// InstallDependencies (`pulumi install`, `pulumi new`): the program's dependencies installed with its package
// manager, as upstream's npm.Install does, its output streamed back to the engine.

import * as childProcess from "child_process";

import type { PackageManager } from "./options";

/** The install command of each package manager, as upstream runs it (never --production: the program is built). */
export function installCommand(pm: PackageManager): [string, string[]] {
    switch (pm) {
        case "npm":
            return ["npm", ["install", "--loglevel=error"]];
        case "yarn":
            return ["yarn", ["install"]];
        case "pnpm":
            return ["pnpm", ["install"]];
        case "bun":
            return ["bun", ["install"]];
    }
}

export interface InstallOutput {
    stdout(chunk: Buffer): void;
    stderr(chunk: Buffer): void;
}

/** Runs the install in `dir`; rejects with upstream's "<pm> install failed: …" when it does not succeed. */
export function installDependencies(pm: PackageManager, dir: string, out: InstallOutput, signal?: AbortSignal): Promise<void> {
    const [cmd, args] = installCommand(pm);
    out.stdout(Buffer.from("Installing dependencies...\n\n"));
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], signal });
        child.stdout.on("data", (chunk: Buffer) => out.stdout(chunk));
        child.stderr.on("data", (chunk: Buffer) => out.stderr(chunk));
        child.once("error", (err) => reject(new Error(`${pm} install failed: ${err.message}`)));
        child.once("close", (code, signal) => {
            if (code === 0) {
                out.stdout(Buffer.from("Finished installing dependencies\n\n"));
                resolve();
            } else {
                reject(new Error(`${pm} install failed: ${code === null ? `killed by ${signal}` : `exit status ${code}`}`));
            }
        });
    });
}
