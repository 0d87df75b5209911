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
import { SopsFileError, decryptEnvironmentFile } from "../model/sops-environment";
import { RegistryAccess, registryCredentials } from "../access/registry-access";
import { Workspace, WorkspaceApp, parseWorkspace, projectNamespace } from "../model/workspace";

export interface ProgramApp extends WorkspaceApp {
    /** apps/<app>/compose.yml, relative to the project. */
    composeTemplateName: string;
    composeTemplate: string;
    /** The containers' environment (`<app>:environment` and the SOPS file's entries), always treated as secret. */
    secretEnvironment: pulumi.Output<Record<string, string>>;
}

/** The workspace as the program deploys it: the model, plus the secrets only the engine can read. */
export interface ProgramWorkspace extends Workspace {
    apps: ProgramApp[];
    /** How every resource reaches the registry: made here once, its password a secret. */
    registryAccess: RegistryAccess<pulumi.Output<string>>;
    privateKey: pulumi.Output<string>;
}

/** Reads and checks the config of the stack being run; a problem stops `pulumi preview` before any resource. */
export function loadWorkspaceConfig(): ProgramWorkspace {
    const templates = new Map<string, string>();
    const fromFiles = new Map<string, Record<string, string>>();
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
        ...parsed.apps.flatMap((app) => app.environmentFile === undefined ? [] : environmentFileProblems(app, fromFiles)),
    ]);
    const config = new Config(projectNamespace);
    const credentials = registryCredentials(workspace.registry.address, {
        username: workspace.registry.username,
        password: workspace.registry.hasPassword ? config.requireSecret("registryPassword") : undefined,
    });
    return {
        ...workspace,
        registryAccess: {
            registry: workspace.registry.address,
            insecure: workspace.registry.insecure,
            platform: workspace.platform,
            ...(credentials ? { credentials: { username: credentials.username, password: secret(credentials.password) } } : {}),
        },
        privateKey: config.requireSecret("sshPrivateKey"),
        apps: workspace.apps.map((app) => ({
            ...app,
            composeTemplateName: path.join("apps", app.name, "compose.yml"),
            composeTemplate: templates.get(app.name)!,
            secretEnvironment: secret({
                ...Object.fromEntries(Object.entries(app.environment).map(([key, value]) => [key, String(value)])),
                ...fromFiles.get(app.name),
            }),
        })),
    };
}

/**
 * Decrypts `app`'s SOPS file into `decrypted`, or says what stops it; a name set there and in `<app>:environment`
 * too is refused rather than one silently winning. Messages name files and keys, never values.
 */
function environmentFileProblems(app: WorkspaceApp, decrypted: Map<string, Record<string, string>>): string[] {
    let environment: Record<string, string>;
    try {
        environment = decryptEnvironmentFile(projectRoot(), app.environmentFile!);
    } catch (error) {
        if (error instanceof SopsFileError) {
            return [`${app.name}:environmentFile: ${error.message}`];
        }
        throw error;
    }
    const both = Object.keys(environment).filter((key) => Object.hasOwn(app.environment, key)).sort();
    if (both.length > 0) {
        return [`${app.name}: ${both.join(", ")} set both in ${app.environmentFile} and in ${app.name}:environment: keep one`];
    }
    if (app.proxy !== undefined && Object.hasOwn(environment, "PORT")) {
        return [`${app.name}:environmentFile: ${app.environmentFile} sets PORT beside ${app.name}:proxy.port: behind the proxy the program ` +
            "gives each colour its own PORT; remove it from the file"];
    }
    decrypted.set(app.name, environment);
    return [];
}
