// A deploy's script and stdin built exactly as HostDeployment builds them, for the tests that run the host
// scripts over real SSH without the engine.
import * as fs from "fs";
import * as path from "path";
import { renderCompose, renderEnvFile } from "../../components/model/compose";
import { renderRecordParts } from "../../components/model/deploy-info";
import { AppLocation, DeployTarget } from "../../components/remote/layout";
import { buildDeployPhase } from "../../components/remote/deploy-phase";
import { DeploySpec, buildDeployScript, encodeBundle } from "../../components/remote/scripts";
import { defaultTarget } from "../../components/remote/targets/registry";
import { BuiltImage } from "../../local/app-repository";
import { repository } from "./deploy-environment";

export const helloWorldTemplate = fs.readFileSync(path.resolve(__dirname, "..", "..", "apps", "hello-world", "compose.yml"), "utf8");

export interface DeployRequestOptions {
    registry: string;
    location: AppLocation;
    port: number;
    target?: DeployTarget;
    healthTimeoutSeconds?: number;
    lockTimeoutSeconds?: number;
    /** The compose template; hello-world's by default. */
    template?: string;
    /** More of the containers' environment than PORT. */
    environment?: Record<string, string>;
    /** The host logs in with these before pulling (the password on stdin). */
    registryAuth?: { username: string; password: string };
    /** The deploying stack's owner id; by default the one ownerOf gives the location's workspace. */
    owner?: string;
}

/** The owner id a test's stand-in stack of this workspace deploys with (a real stack's is random). */
export const ownerOf = (location: AppLocation): string => `test-stack-of-${location.workspace}`;

export function deployRequest(built: BuiltImage, options: DeployRequestOptions): { script: string; stdin: string } {
    const target = options.target ?? defaultTarget.name;
    const image = `${options.registry}/${repository}`;
    const rendered = renderCompose("apps/hello-world/compose.yml", options.template ?? helloWorldTemplate, `${image}@${built.digest}`, target);
    const spec: DeploySpec = {
        ...options.location, owner: options.owner ?? ownerOf(options.location), target, registry: options.registry, repository, digest: built.digest, services: rendered.services,
        healthTimeoutSeconds: options.healthTimeoutSeconds ?? 30, lockTimeoutSeconds: options.lockTimeoutSeconds,
        registryUsername: options.registryAuth?.username,
    };
    const record = renderRecordParts({
        app: options.location.app, workspace: options.location.workspace, image, tag: built.tag, digest: built.digest,
        description: built.description, deployed_by: "wander@casa",
    });
    return {
        script: buildDeployScript(spec),
        stdin: encodeBundle({
            password: options.registryAuth?.password ?? "", phase: buildDeployPhase(spec), compose: rendered.content,
            env: renderEnvFile({ PORT: String(options.port), ...options.environment }, target),
            recordHead: record.head, recordTail: record.tail,
        }),
    };
}
