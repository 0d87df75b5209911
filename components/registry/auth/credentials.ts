// Credentials and where they are found: given (config, environment) or docker's config.json, as
// go-containerregistry's authn keychain reads it. Credentials only ever travel in Authorization headers.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Credentials {
    username: string;
    password: string;
}

/** Credentials when both halves are set; anonymous (undefined) otherwise. */
export function credentialsOf(username: string | null | undefined, password: string | null | undefined): Credentials | undefined {
    return username && password ? { username, password } : undefined;
}

interface DockerConfig {
    auths?: Record<string, { auth?: string; username?: string; password?: string }>;
}

/**
 * Credentials for a registry from a docker config.json `auths` entry (what `docker login` writes);
 * credential helpers (`credsStore`) are not consulted.
 */
export function credentialsFromDockerConfig(registry: string, configPath?: string): Credentials | undefined {
    const file = configPath ?? path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"), "config.json");
    let config: DockerConfig;
    try {
        config = JSON.parse(fs.readFileSync(file, "utf8")) as DockerConfig;
    } catch {
        return undefined;
    }
    const entries = Object.entries(config.auths ?? {});
    const hostOf = (key: string) => key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
    const entry = entries.find(([key]) => hostOf(key) === registry)?.[1];
    if (!entry) {
        return undefined;
    }
    if (entry.username && entry.password) {
        return { username: entry.username, password: entry.password };
    }
    if (entry.auth) {
        const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon > 0) {
            return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
        }
    }
    return undefined;
}
