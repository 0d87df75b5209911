// The workspace (a stack) as its config describes it: the registry, and one entry per app from the app's own
// namespace (`hello-world:tag`, …). Every problem is reported at once, before any resource is declared.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { credentialsFromDockerConfig } from "./registry/auth";
import { defaultPlatform } from "./registry/client";
import { parsePlatform, validateDigest, validateHost, validateRegistry, validateRepository, validateTag } from "./registry/reference";
import { appNamePattern, validateAbsolutePath, validateAppName } from "./remote/scripts";
import { hostKeyPattern } from "./remote/ssh";

export const projectNamespace = "iac";

const projectDir = path.resolve(__dirname, "..");

/** Keys of the project namespace; Pulumi.yaml declares each with its type and description. */
export const projectKeys = [
    "apps", "registry", "registryInsecure", "registryUsername", "registryPassword", "platform",
    "sshHost", "sshPort", "sshUser", "sshHostKey", "sshPrivateKey", "org", "deployRoot",
] as const;

/** Keys of an app's namespace. */
export const appKeys = ["image", "tag", "digest", "environment", "healthTimeout"] as const;

export interface RegistryConfig {
    address: string;
    insecure: boolean;
    username?: string;
    password?: pulumi.Output<string>;
}

export interface AppConfig {
    name: string;
    /** The repository in the registry, e.g. rednaw/hello-world. */
    image: string;
    tag?: string;
    digest?: string;
    /** apps/<app>/compose.yml, relative to the project. */
    composeTemplateName: string;
    composeTemplate: string;
    /** The containers' environment, always treated as secret. */
    environment: pulumi.Output<Record<string, string>>;
    healthTimeoutSeconds: number;
}

export interface HostConfig {
    host: string;
    port: number;
    user: string;
    /** The host's public key, `ssh-ed25519 AAAA…`; unset: any key is accepted. */
    hostKey?: string;
    privateKey: pulumi.Output<string>;
    org: string;
    deployRoot: string;
}

export interface WorkspaceConfig {
    workspace: string;
    registry: RegistryConfig;
    platform: string;
    host: HostConfig;
    apps: AppConfig[];
}

/** A RunError, so Pulumi shows the problems without a stack trace: they are the operator's to fix. */
export class WorkspaceConfigError extends pulumi.RunError {
    constructor(workspace: string, problems: string[]) {
        super(`the configuration of workspace ${workspace} has ${problems.length} problem(s):\n  - ${problems.join("\n  - ")}`);
        this.name = "WorkspaceConfigError";
    }
}

/** Runs a validator, turning its error into a line of the report. */
function check(problems: string[], key: string, validate: () => unknown): void {
    try {
        validate();
    } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
    }
}

/** Reads and validates the config of the stack being run. */
export function loadWorkspaceConfig(): WorkspaceConfig {
    const workspace = pulumi.getStack();
    const problems: string[] = [];
    const config = new pulumi.Config(projectNamespace);

    let appNames: string[] = [];
    check(problems, "iac:apps", () => {
        // Also the workspace name: it goes into deploy-info.yml and host paths.
        validateAppName("workspace", workspace);
        appNames = config.requireObject<string[]>("apps");
        if (!Array.isArray(appNames) || appNames.some((name) => typeof name !== "string" || !appNamePattern.test(name))) {
            throw new Error("expected a list of app names (lowercase letters, digits and '-'), e.g. " +
                "`pulumi config set --path 'iac:apps[0]' hello-world`");
        }
    });

    const address = config.get("registry") ?? "";
    check(problems, "iac:registry", () => validateRegistry(address));
    const platform = config.get("platform") ?? defaultPlatform;
    check(problems, "iac:platform", () => parsePlatform(platform));

    const known = new Set<string>(projectKeys.map((key) => `${projectNamespace}:${key}`));
    const apps: AppConfig[] = appNames.map((name) => {
        appKeys.forEach((key) => known.add(`${name}:${key}`));
        const app = new pulumi.Config(name);
        const image = app.get("image") ?? "";
        const tag = app.get("tag");
        const digest = app.get("digest");
        let healthTimeoutSeconds = 120;
        check(problems, `${name}:healthTimeout`, () => {
            healthTimeoutSeconds = app.getNumber("healthTimeout", { min: 1, max: 3600 }) ?? 120;
        });
        check(problems, `${name}:image`, () => validateRepository(image));
        if (tag !== undefined) {
            check(problems, `${name}:tag`, () => validateTag(tag));
        }
        if (digest !== undefined) {
            check(problems, `${name}:digest`, () => validateDigest(digest));
        }
        if (tag === undefined && digest === undefined) {
            problems.push(`${name}: neither ${name}:tag nor ${name}:digest is set; ` +
                `choose a version with \`pulumi config set ${name}:tag <short sha>\` (see \`npm run registry:overview\`)`);
        }
        const environment = app.getSecretObject<Record<string, string>>("environment") ?? pulumi.secret<Record<string, string>>({});
        const composeTemplateName = path.join("apps", name, "compose.yml");
        let composeTemplate = "";
        check(problems, name, () => {
            try {
                composeTemplate = fs.readFileSync(path.join(projectDir, composeTemplateName), "utf8");
            } catch {
                throw new Error(`no compose template ${composeTemplateName}: every app of iac:apps needs one`);
            }
        });
        return { name, image, tag, digest, environment, healthTimeoutSeconds, composeTemplateName, composeTemplate };
    });

    const sshHost = config.get("sshHost") ?? "";
    const sshUser = config.get("sshUser") ?? "";
    const org = config.get("org") ?? "";
    const deployRoot = config.get("deployRoot") ?? "/opt";
    let sshPort = 22;
    check(problems, "iac:sshHost", () => validateHost(sshHost));
    check(problems, "iac:sshPort", () => {
        sshPort = config.getNumber("sshPort", { min: 1, max: 65535 }) ?? 22;
    });
    check(problems, "iac:sshUser", () => validateAppName("ssh user", sshUser));
    const hostKey = config.get("sshHostKey") || undefined;
    check(problems, "iac:sshHostKey", () => {
        if (hostKey !== undefined && !hostKeyPattern.test(hostKey)) {
            throw new Error(`expected "<type> <base64>" as ssh-keyscan prints it (without the host name), not ${JSON.stringify(hostKey)}`);
        }
    });
    check(problems, "iac:org", () => validateAppName("org", org));
    check(problems, "iac:deployRoot", () => validateAbsolutePath("deploy root", deployRoot));
    check(problems, "iac:sshPrivateKey", () => config.requireSecret("sshPrivateKey"));

    const namespaces = new Set([projectNamespace, ...appNames]);
    for (const key of Object.keys(pulumi.runtime.allConfig())) {
        const namespace = key.split(":", 1)[0];
        if (namespaces.has(namespace) && !known.has(key)) {
            problems.push(`${key}: unknown key; ${namespace === projectNamespace
                ? `the project's keys are ${projectKeys.join(", ")}`
                : `an app's keys are ${appKeys.join(", ")}`}`);
        }
    }
    const username = config.get("registryUsername");
    // Only whether it is set: reading a secret with get() would warn.
    const hasPassword = (pulumi.runtime.getConfig(`${projectNamespace}:registryPassword`) ?? "") !== "";
    if (!!username !== hasPassword) {
        problems.push(username
            ? "iac:registryUsername is set without iac:registryPassword: `pulumi config set --secret iac:registryPassword`"
            : "iac:registryPassword is set without iac:registryUsername: `pulumi config set iac:registryUsername <user>`");
    }
    if (problems.length > 0) {
        throw new WorkspaceConfigError(workspace, problems);
    }

    let password = config.getSecret("registryPassword");
    let registryUser = username;
    if (!username) {
        // The operator's `docker login` is the other place registry credentials live.
        const fromDocker = credentialsFromDockerConfig(address);
        registryUser = fromDocker?.username;
        password = fromDocker ? pulumi.secret(fromDocker.password) : undefined;
    }
    return {
        workspace,
        registry: { address, insecure: config.getBoolean("registryInsecure") ?? false, username: registryUser, password },
        platform,
        host: { host: sshHost, port: sshPort, user: sshUser, hostKey, privateKey: config.requireSecret("sshPrivateKey"), org, deployRoot },
        apps,
    };
}
