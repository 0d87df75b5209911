// The proxy's image (images/caddy) built by scripts/build-image from this work tree and pushed to a local
// registry, for the tests and the demo: Caddy as scripts/install-tools builds it, tagged with the work tree's short
// SHA, labelled from git like an app.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { caddyBinary } from "./caddy";

const projectRoot = path.resolve(__dirname, "..");

export const proxyImageDir = path.join(projectRoot, "images", "caddy");

export interface BuiltProxyImage {
    tag: string;
    digest: string;
    /** `<image>@<digest>`: what a workspace pins and ensureProxyRunning takes. */
    ref: string;
}

/**
 * `image`: `registry/repository`; `sourceDir`: images/caddy, or a copy of it in a git repository of its own
 * (proxyImageSource). Built with --allow-dirty: tests and the demo run from a work tree that may hold changes,
 * where an operator's build (scripts/build-image alone) refuses them.
 */
export function buildProxyImage(dockerHost: string, image: string, sourceDir = proxyImageDir): BuiltProxyImage {
    caddyBinary(); // names scripts/install-tools when the binary is missing, before docker is involved
    const digest = execFileSync(path.join(projectRoot, "scripts", "build-image"), ["--allow-dirty", image, sourceDir], {
        encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOCKER_HOST: dockerHost },
    }).trim();
    const tag = execFileSync("git", ["-C", sourceDir, "rev-parse", "--short=7", "HEAD"], { encoding: "utf8" }).trim();
    return { tag, digest, ref: `${image}@${digest}` };
}

/** Who and when the commit of proxyImageSource says: fixed, so that its SHA depends on images/caddy alone. */
const sourceCommit = {
    GIT_AUTHOR_NAME: "iac", GIT_AUTHOR_EMAIL: "iac@example.invalid", GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z",
    GIT_COMMITTER_NAME: "iac", GIT_COMMITTER_EMAIL: "iac@example.invalid", GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z",
};

/**
 * images/caddy copied into `dir` as the one commit of a new git repository, for the demo: it runs from clones and
 * from copies without git alike, and scripts/build-image takes its labels and tag from git. The same images/caddy
 * gives the same commit, so the same short-SHA tag: the one Pulumi.dev.yaml names.
 */
export function proxyImageSource(dir: string): string {
    fs.cpSync(proxyImageDir, dir, { recursive: true });
    const git = (...args: string[]) => execFileSync("git", ["-c", "commit.gpgsign=false", ...args],
        { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...sourceCommit } });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-q", "-m", "the proxy's image, from images/caddy");
    return dir;
}
