// The operator commands as an operator runs them (`npm run -s <name> -- args`), which start the JavaScript that
// `npm run build:cli` compiles. Compiled once per test run from the sources under test, so no test runs stale output.
import { SpawnSyncReturns, execFileSync, spawnSync } from "child_process";
import * as path from "path";

const projectRoot = path.resolve(__dirname, "..", "..");
let built = false;

/** Also for a script that runs the commands itself (scripts/registry-summary). */
export function buildOperatorCommands(): void {
    if (!built) {
        execFileSync("npm", ["run", "-s", "build:cli"], { cwd: projectRoot, stdio: "inherit" });
        built = true;
    }
}

export function runOperatorCommand(name: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
    buildOperatorCommands();
    return spawnSync("npm", ["run", "-s", name, "--", ...args],
        { cwd: projectRoot, encoding: "utf8", env: options.env ?? process.env, timeout: options.timeout ?? 60_000 });
}
