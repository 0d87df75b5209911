// What a pending deploy changes in an app's environment, by name only: the values are secrets, and a preview
// prints what it is given.

/** Each line of an env file (KEY='value' for compose, KEY=value for swarm) as name → its text as written. */
function entries(envFile: string): Map<string, string> {
    const map = new Map<string, string>();
    for (const line of envFile.split("\n")) {
        const equals = line.indexOf("=");
        if (equals > 0) {
            map.set(line.slice(0, equals), line.slice(equals + 1));
        }
    }
    return map;
}

/** The names added, removed or given another value between two env files, sorted. */
export function changedEnvironmentNames(before: string, after: string): string[] {
    const old = entries(before);
    const next = entries(after);
    const names = new Set([...old.keys(), ...next.keys()]);
    return [...names].filter((name) => old.get(name) !== next.get(name)).sort();
}
