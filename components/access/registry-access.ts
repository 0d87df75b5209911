// How to reach a workspace's registry, as one value: built once from the workspace (by the program, or by a
// command with its flags), then handed whole to every provider and command, which make their client from it
// (./registry-client). Kept apart from the config model (../model/workspace), which only says what is configured.
import { credentialsFromDockerConfig, credentialsOf } from "../registry/auth/credentials";
import { defaultPlatform } from "../registry/client";
import { validateRegistry } from "../registry/reference";
import type { Workspace } from "../model/workspace";

/** `Secret` is how the password is held: plain text in a provider or a command, a secret Output in the program. */
export interface RegistryAccess<Secret = string> {
    /** host[:port] */
    registry: string;
    /** The scheme: plain http (a registry on loopback) instead of https. */
    insecure: boolean;
    /** Which image of a multi-platform index the workspace's hosts run, e.g. linux/amd64. */
    platform: string;
    /** Absent: anonymous (a registry that challenges then refuses, naming where credentials come from). */
    credentials?: { username: string; password: Secret };
}

/**
 * Where the credentials come from, the first that has both halves winning:
 *   1. the workspace's config: iac:registryUsername with the secret iac:registryPassword (only the program, under
 *      the engine, can read that password);
 *   2. the environment: IAC_REGISTRY_PASSWORD, with IAC_REGISTRY_USERNAME or else iac:registryUsername;
 *   3. docker's config.json for this registry (what `docker login` writes; credential helpers are not asked).
 * None of them: anonymous.
 */
export function registryCredentials<Secret>(registry: string, config: { username?: string; password?: Secret }):
    { username: string; password: Secret | string } | undefined {
    const env = process.env;
    if (config.username && config.password !== undefined) {
        return { username: config.username, password: config.password };
    }
    return credentialsOf(env.IAC_REGISTRY_USERNAME ?? config.username, env.IAC_REGISTRY_PASSWORD)
        ?? credentialsFromDockerConfig(registry);
}

/**
 * For the commands: flags over the workspace's values; the credentials in the order above (the stack's encrypted
 * password is not read: that needs Pulumi and its passphrase).
 */
export function registryAccessForCommand(workspace: Workspace | undefined,
    flags: { registry?: string; insecure?: boolean } = {}): RegistryAccess {
    const registry = flags.registry ?? workspace?.registry.address;
    if (registry === undefined) {
        throw new Error("no registry: pass --registry HOST[:PORT], or a workspace whose iac:registry names it");
    }
    validateRegistry(registry);
    return {
        registry,
        // The stack's plain-http setting belongs to the stack's registry, never to one given on the command line.
        insecure: flags.insecure ?? (flags.registry === undefined && (workspace?.registry.insecure ?? false)),
        platform: workspace?.platform ?? defaultPlatform,
        credentials: registryCredentials<string>(registry, { username: workspace?.registry.username }),
    };
}

/**
 * How a provider's state holds the value: flat, under the names stacks deployed before it existed hold, so that
 * their next preview sees no change (unset credentials are null there).
 */
export interface RegistryAccessFields {
    registry: string;
    insecure?: boolean;
    platform?: string;
    username?: string | null;
    password?: string | null;
}

/** The state's fields that make up the value: a change of any of them is a change of how the registry is reached. */
export const registryAccessKeys = ["registry", "insecure", "platform", "username", "password"] as const;

export function registryAccessFields(access: RegistryAccess): Required<RegistryAccessFields> {
    return {
        registry: access.registry, insecure: access.insecure, platform: access.platform,
        username: access.credentials?.username ?? null, password: access.credentials?.password ?? null,
    };
}

/** The value a provider's inputs or state hold. */
export function registryAccessOf(fields: RegistryAccessFields): RegistryAccess {
    const credentials = credentialsOf(fields.username, fields.password);
    return {
        registry: fields.registry, insecure: fields.insecure ?? false, platform: fields.platform ?? defaultPlatform,
        ...(credentials ? { credentials } : {}),
    };
}

/** The access keys whose values differ between two inputs or states; an absent value and null are one. */
export function changedAccessKeys(before: RegistryAccessFields, after: RegistryAccessFields): (typeof registryAccessKeys)[number][] {
    const old = registryAccessFields(registryAccessOf(before));
    const next = registryAccessFields(registryAccessOf(after));
    return registryAccessKeys.filter((key) => old[key] !== next[key]);
}
