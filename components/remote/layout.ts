// Where an app lives on its host and what its host-side names are. Everything host-side — the directory,
// the compose project, the lock, the stagings — derives from the deploy dir `<deployRoot>/<org>/<app>`, so
// two workspaces with their own dirs never share a name on one host.
import * as crypto from "crypto";
import { InvalidValueError } from "../invalid-value";

export const appNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const absolutePathPattern = /^\/(?:[A-Za-z0-9._-]+\/?)*$/;

/** Apps, workspaces and orgs: they name host paths and compose projects, so lowercase letters, digits and '-'. */
export function validateName(kind: string, value: string): string {
    if (!appNamePattern.test(value)) {
        throw new InvalidValueError(kind, value, "expected lowercase letters, digits and '-', e.g. hello-world");
    }
    return value;
}

/** A compose service name, by compose's own grammar. */
export function validateServiceName(value: string): string {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) {
        throw new InvalidValueError("compose service name", value, "expected letters, digits, '_', '.' and '-', starting with a letter or digit");
    }
    return value;
}

export function validateAbsolutePath(kind: string, value: string): string {
    if (!absolutePathPattern.test(value) || value.split("/").includes("..")) {
        throw new InvalidValueError(kind, value, "expected an absolute path of [A-Za-z0-9._-] components, e.g. /opt");
    }
    return value;
}

/** What runs an app on its host: docker compose on one Docker host, or a stack on a Docker Swarm (the host is a manager). */
export type DeployTarget = "compose" | "swarm";
export const deployTargets: readonly DeployTarget[] = ["compose", "swarm"];

/** Where an app lives on its host: `<deployRoot>/<org>/<app>`. */
export interface AppLocation {
    app: string;
    workspace: string;
    org: string;
    deployRoot: string;
}

export function appDir(location: AppLocation): string {
    validateName("app", location.app);
    validateName("workspace", location.workspace);
    validateName("org", location.org);
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
    return validateName("app", location.app);
}

export const files = {
    compose: "compose.yml",
    previousCompose: "compose.previous.yml",
    env: "app.env",
    previousEnv: "app.previous.env",
    deployInfo: "deploy-info.yml",
    previousDeployInfo: "deploy-info.previous.yml",
    history: "deploy-history.yml",
    /** Which target the files were deployed with (`compose` when absent: deploys before targets existed). */
    target: "deploy-target",
    previousTarget: "deploy-target.previous",
    lock: ".deploy.lock",
    stagedDir: "staged",
} as const;

/** The Swarm stack of the app dir: the compose project's name, so each dir has its own stack on a swarm too. */
export const swarmStack = composeProject;

/** The compose labels by which the engine tells whose a container is. */
export const composeLabels = {
    project: "com.docker.compose.project",
    workingDir: "com.docker.compose.project.working_dir",
    service: "com.docker.compose.service",
} as const;

/** The label by which Swarm tells which stack a service belongs to. */
export const stackNamespaceLabel = "com.docker.stack.namespace";
