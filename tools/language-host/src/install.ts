// InstallDependencies (`pulumi install`, `pulumi new`): the program's dependencies installed with its package
// manager, as upstream's npm.Install does, its output streamed back to the engine.

import * as childProcess from "child_process";

import type { PackageManager } from "./options";

/**
 * The install command of each package manager, as upstream runs it; `production` (the runtime option) leaves
 * devDependencies out, except with bun, whose --production also freezes the lock file (upstream leaves it off too).
 */
export function installCommand(pm: PackageManager, production: boolean): [string, string[]] {
    const omitDev = production ? ["--production"] : [];
    switch (pm) {
        case "npm":
            return ["npm", ["install", "--loglevel=error", ...omitDev]];
        case "yarn":
            return ["yarn", ["install", ...omitDev]];
        case "pnpm":
            return ["pnpm", ["install", "--use-stderr", ...omitDev]];
        case "bun":
            return ["bun", ["install"]];
    }
}

export interface InstallOutput {
    stdout(chunk: Buffer): void;
    stderr(chunk: Buffer): void;
}

/** Runs the install in `dir`; rejects with upstream's "<pm> install failed: …" when it does not succeed. */
export function installDependencies(
    pm: PackageManager,
    production: boolean,
    dir: string,
    out: InstallOutput,
    signal?: AbortSignal,
): Promise<void> {
    const [cmd, args] = installCommand(pm, production);
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
