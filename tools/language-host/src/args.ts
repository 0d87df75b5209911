// The language host's command line, as the engine passes it to upstream's Go binary.

export interface HostArgs {
    engineAddress: string;
    tracing: string;
    showVersion: boolean;
}

/** Flags that take a value; Go's flag package also accepts "-name value" for these. */
const valueFlags = new Set(["tracing", "root", "runtime"]);

/**
 * Parses Go-style flags (-name, -name=value, --name=value, -name value; unknown ones ignored) and the engine
 * address. -tracing is passed on to the program; -root and -runtime are accepted and ignored, as upstream.
 */
export function parseArgs(argv: string[]): HostArgs {
    const out: HostArgs = { engineAddress: "", tracing: "", showVersion: false };
    const positional: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--") {
            positional.push(...argv.slice(i + 1));
            break;
        }
        if (!arg.startsWith("-") || arg === "-") {
            positional.push(arg);
            continue;
        }
        const body = arg.replace(/^--?/, "");
        const eq = body.indexOf("=");
        const name = eq < 0 ? body : body.slice(0, eq);
        let value = eq < 0 ? undefined : body.slice(eq + 1);
        if (value === undefined && valueFlags.has(name) && i + 1 < argv.length) {
            value = argv[++i];
        }
        if (name === "tracing") {
            out.tracing = value ?? "";
        } else if (name === "version") {
            out.showVersion = value === undefined || value === "true";
        }
    }
    out.engineAddress = positional[0] ?? "";
    return out;
}
