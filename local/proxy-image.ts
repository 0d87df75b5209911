// The proxy's image (images/caddy) built by scripts/build-image from this work tree and pushed to a local
// registry, for the tests and the demo: Caddy as scripts/install-tools builds it, tagged with the work tree's short
// SHA, labelled from git like an app.
import { execFileSync } from "child_process";
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
 * `image`: `registry/repository`. Built with --allow-dirty: tests and the demo run from a work tree that may hold
 * changes, where an operator's build (scripts/build-image alone) refuses them.
 */
export function buildProxyImage(dockerHost: string, image: string): BuiltProxyImage {
    caddyBinary(); // names scripts/install-tools when the binary is missing, before docker is involved
    const digest = execFileSync(path.join(projectRoot, "scripts", "build-image"), ["--allow-dirty", image, proxyImageDir], {
        encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOCKER_HOST: dockerHost },
    }).trim();
    const tag = execFileSync("git", ["-C", proxyImageDir, "rev-parse", "--short=7", "HEAD"], { encoding: "utf8" }).trim();
    return { tag, digest, ref: `${image}@${digest}` };
}
