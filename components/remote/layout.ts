// Where an app lives on its host and what its host-side names are. Everything host-side — the directory,
// the compose project, the lock, the stagings — derives from the deploy dir `<deployRoot>/<org>/<app>`, so
// two workspaces with their own dirs never share a name on one host.
import * as crypto from "crypto";
import { InvalidReferenceError } from "../registry/errors";

export const appNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const absolutePathPattern = /^\/(?:[A-Za-z0-9._-]+\/?)*$/;

export function validateAppName(kind: string, value: string): string {
    if (!appNamePattern.test(value)) {
        throw new InvalidReferenceError(kind, value, "expected lowercase letters, digits and '-', e.g. hello-world");
    }
    return value;
}

export function validateAbsolutePath(kind: string, value: string): string {
    if (!absolutePathPattern.test(value) || value.split("/").includes("..")) {
        throw new InvalidReferenceError(kind, value, "expected an absolute path of [A-Za-z0-9._-] components, e.g. /opt");
    }
    return value;
}

/** Where an app lives on its host: `<deployRoot>/<org>/<app>`. */
export interface AppLocation {
    app: string;
    workspace: string;
    org: string;
    deployRoot: string;
}

export function appDir(location: AppLocation): string {
    validateAppName("app", location.app);
    validateAppName("workspace", location.workspace);
    validateAppName("org", location.org);
    return `${validateAbsolutePath("deploy root", location.deployRoot).replace(/\/+$/, "")}/${location.org}/${location.app}`;
}

/**
 * The compose project of the app dir: readable (`hello-world-rednaw-…`) and unique per dir, so a second
 * workspace on the same host (another org or deploy root) runs beside the first instead of replacing it.
 */
export function composeProject(location: AppLocation): string {
    const dir = appDir(location);
    return `${location.app}-${location.org}-${crypto.createHash("sha256").update(dir).digest("hex").slice(0, 8)}`;
}

/** The project name of deploys made before names derived from the dir; such an app is adopted on its next deploy. */
export function legacyComposeProject(location: AppLocation): string {
    return validateAppName("app", location.app);
}

export const files = {
    compose: "compose.yml",
    previousCompose: "compose.previous.yml",
    env: "app.env",
    previousEnv: "app.previous.env",
    deployInfo: "deploy-info.yml",
    previousDeployInfo: "deploy-info.previous.yml",
    history: "deploy-history.yml",
    lock: ".deploy.lock",
    stagedDir: "staged",
} as const;

/** The compose labels by which the engine tells whose a container is. */
export const composeLabels = {
    project: "com.docker.compose.project",
    workingDir: "com.docker.compose.project.working_dir",
    service: "com.docker.compose.service",
} as const;
