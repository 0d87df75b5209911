// The workspace as the program deploys it: the model of ./workspace read from the stack being run, plus the
// secrets only the engine can read. Apart from ./workspace so that the operator commands, which share the model,
// do not load @pulumi/pulumi.
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { Config } from "@pulumi/pulumi/config";
import { getStack } from "@pulumi/pulumi/metadata";
import { secret } from "@pulumi/pulumi/output";
import { allConfig, getConfig } from "@pulumi/pulumi/runtime/config";
import { projectRoot } from "../model/project-root";
import { credentialsFromDockerConfig } from "../registry/auth";
import { Workspace, WorkspaceApp, parseWorkspace, projectNamespace } from "../model/workspace";

export interface ProgramApp extends WorkspaceApp {
    /** apps/<app>/compose.yml, relative to the project. */
    composeTemplateName: string;
    composeTemplate: string;
    /** The containers' environment, always treated as secret. */
    secretEnvironment: pulumi.Output<Record<string, string>>;
}

/** The workspace as the program deploys it: the model, plus the secrets only the engine can read. */
export interface ProgramWorkspace extends Workspace {
    apps: ProgramApp[];
    registryPassword?: pulumi.Output<string>;
    privateKey: pulumi.Output<string>;
}

/** Reads and checks the config of the stack being run; a problem stops `pulumi preview` before any resource. */
export function loadWorkspaceConfig(): ProgramWorkspace {
    const templates = new Map<string, string>();
    const workspace = parseWorkspace(getStack(), allConfig(), (parsed) => [
        ...(getConfig(`${projectNamespace}:sshPrivateKey`) ? [] : [`${projectNamespace}:sshPrivateKey: not set: ` +
            `\`pulumi config set --secret ${projectNamespace}:sshPrivateKey < key\``]),
        ...parsed.apps.flatMap((app) => {
            const name = path.join("apps", app.name, "compose.yml");
            try {
                templates.set(app.name, fs.readFileSync(path.join(projectRoot(), name), "utf8"));
                return [];
            } catch {
                return [`${app.name}: no compose template ${name}: every app of iac:apps needs one`];
            }
        }),
    ]);
    const config = new Config(projectNamespace);
    let username = workspace.registry.username;
    let registryPassword = workspace.registry.hasPassword ? config.requireSecret("registryPassword") : undefined;
    if (!username) {
        // The operator's `docker login` is the other place registry credentials live.
        const fromDocker = credentialsFromDockerConfig(workspace.registry.address);
        username = fromDocker?.username;
        registryPassword = fromDocker ? secret(fromDocker.password) : undefined;
    }
    return {
        ...workspace,
        registry: { ...workspace.registry, username },
        registryPassword,
        privateKey: config.requireSecret("sshPrivateKey"),
        apps: workspace.apps.map((app) => ({
            ...app,
            composeTemplateName: path.join("apps", app.name, "compose.yml"),
            composeTemplate: templates.get(app.name)!,
            secretEnvironment: secret(Object.fromEntries(Object.entries(app.environment).map(([key, value]) => [key, String(value)]))),
        })),
    };
}
