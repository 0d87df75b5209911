// The WWW-Authenticate header a registry answers a 401 with: which auth methods it takes, and their parameters.

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
