// Credentials and the registry auth handshake: anonymous, HTTP basic, and the bearer-token challenge of
// the distribution token spec. Credentials only ever travel in Authorization headers.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Credentials {
    username: string;
    password: string;
}

export interface Challenge {
    scheme: string;
    params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated auth-params whose values may be quoted strings with backslash escapes.
 */
export function parseChallenges(header: string): Challenge[] {
    const challenges: Challenge[] = [];
    const token = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
    let i = 0;
    const skip = (chars: RegExp) => {
        while (i < header.length && chars.test(header[i])) {
            i++;
        }
    };
    // Unquoted values are read leniently (up to a comma or space): some servers send bare URLs.
    const bareValue = /[^\s,]+/y;
    const read = (pattern: RegExp): string | undefined => {
        pattern.lastIndex = i;
        const match = pattern.exec(header);
        if (!match) {
            return undefined;
        }
        i = pattern.lastIndex;
        return match[0];
    };
    const readQuoted = (): string => {
        let value = "";
        i++; // opening quote
        while (i < header.length && header[i] !== "\"") {
            if (header[i] === "\\" && i + 1 < header.length) {
                i++;
            }
            value += header[i++];
        }
        i++; // closing quote
        return value;
    };

    while (i < header.length) {
        skip(/[\s,]/);
        const scheme = read(token);
        if (!scheme) {
            break;
        }
        const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
        challenges.push(challenge);
        for (;;) {
            skip(/[\s,]/);
            const start = i;
            const name = read(token);
            skip(/\s/);
            if (!name || header[i] !== "=") {
                // Not an auth-param: the next challenge's scheme (or token68, which registries don't use).
                i = start;
                break;
            }
            i++;
            skip(/\s/);
            challenge.params[name.toLowerCase()] = header[i] === "\"" ? readQuoted() : (read(bareValue) ?? "");
        }
        if (i === header.length || challenges.length > 16) {
            break;
        }
    }
    return challenges;
}

/** Credentials when both halves are set; anonymous (undefined) otherwise. */
export function credentialsOf(username: string | null | undefined, password: string | null | undefined): Credentials | undefined {
    return username && password ? { username, password } : undefined;
}

export function basicAuthorization(credentials: Credentials): string {
    return "Basic " + Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
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

/** `repository:<name>:<actions>`, the token scope a request needs. */
export function repositoryScope(repository: string, actions: string): string {
    return `repository:${repository}:${actions}`;
}

export const catalogScope = "registry:catalog:*";
