// A workspace's settings read straight from Pulumi.<stack>.yaml, for the commands that run without Pulumi.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { Credentials, credentialsFromDockerConfig } from "./registry/auth";
import { AppLocation } from "./remote/scripts";
import { SshConnection } from "./remote/ssh";

export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** The plain (non-secret) values of a stack's config, keyed `namespace:key`. */
export function readStackConfig(stack: string, projectDir: string): Record<string, unknown> {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new StackFileError(`no workspace ${stack}: ${file} does not exist (create it with \`pulumi stack init ${stack}\`)`);
    }
    const config = (YAML.parse(text) as { config?: Record<string, unknown> } | null)?.config ?? {};
    return Object.fromEntries(Object.entries(config).filter(([, value]) =>
        !(typeof value === "object" && value !== null && "secure" in value)));
}

export interface RegistrySettings {
    registry: string;
    insecure: boolean;
    credentials?: Credentials;
}

/**
 * How to reach a workspace's registry from the command line: flags over the stack's config; credentials from
 * IAC_REGISTRY_USERNAME/IAC_REGISTRY_PASSWORD (the username may come from the stack), else docker's
 * config.json. The stack's encrypted password is not read: that needs Pulumi and its passphrase.
 */
export function registrySettings(stack: string, config: Record<string, unknown>,
    flags: { registry?: string; insecure?: boolean }): RegistrySettings {
    const registry = flags.registry ?? config["iac:registry"];
    if (typeof registry !== "string") {
        throw new StackFileError(`no registry: pass --registry HOST[:PORT] or set iac:registry in Pulumi.${stack}.yaml`);
    }
    const username = process.env.IAC_REGISTRY_USERNAME ?? config["iac:registryUsername"];
    const password = process.env.IAC_REGISTRY_PASSWORD;
    return {
        registry,
        // The stack's plain-http setting belongs to the stack's registry, never to one given on the command line.
        insecure: flags.insecure ?? (flags.registry === undefined && String(config["iac:registryInsecure"]) === "true"),
        credentials: typeof username === "string" && password !== undefined
            ? { username, password }
            : credentialsFromDockerConfig(registry),
    };
}

/** The workspace's Docker host as its stack file names it, with a key the caller read. */
export function sshConnection(config: Record<string, unknown>, privateKey: string): SshConnection {
    return {
        host: String(config["iac:sshHost"]),
        port: Number(config["iac:sshPort"] ?? 22),
        user: String(config["iac:sshUser"]),
        hostKey: typeof config["iac:sshHostKey"] === "string" && config["iac:sshHostKey"] ? config["iac:sshHostKey"] : undefined,
        privateKey,
    };
}

/** Where `app` lives on the workspace's host. */
export function appLocation(workspace: string, config: Record<string, unknown>, app: string): AppLocation {
    return { app, workspace, org: String(config["iac:org"]), deployRoot: String(config["iac:deployRoot"] ?? "/opt") };
}

/** The apps a stack file lists. */
export function stackApps(config: Record<string, unknown>): string[] {
    return Array.isArray(config["iac:apps"]) ? config["iac:apps"].map(String) : [];
}
