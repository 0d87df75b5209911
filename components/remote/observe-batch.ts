// The observation of several apps on one host in one script, as a refresh reads them: the targets' host-wide reads
// once (one `docker ps -a` for every compose app, …), then each app's own part in a subshell whose output,
// exit status and stderr come back under a delimiter of their own, so one app's failure stays that app's and each
// app's answer is the very text buildObserveScript prints for it alone.
import { AppLocation, DeployTarget } from "./layout";
import { script, shellQuote } from "./shell";
import { observeAppCommands, observeHostCommands } from "./scripts";
import { targetNamed } from "./targets/registry";

export interface ObservedApp {
    location: AppLocation;
    target: DeployTarget;
}

/** One app's part of the batch's answer: its observation, or how its part of the script failed. */
export type AppAnswer = { stdout: string } | { exitCode: number; stderr: string };

/**
 * A line no host file can hold by chance: the caller makes it of a random id per script, so an app's files (a
 * deploy-info.yml edited by hand) cannot end another app's section.
 */
export function validateDelimiter(delimiter: string): string {
    if (!/^#=== [a-z0-9-]{16,}$/.test(delimiter)) {
        throw new Error(`not an observation delimiter: ${JSON.stringify(delimiter)}`);
    }
    return delimiter;
}

/**
 * The values of the host-wide reads' shell variables (each target's hostVariables) as one script read them: what a
 * later script of the same refresh is handed instead of listing the host again.
 */
export type HostListing = Readonly<Record<string, string>>;

/** The variables the apps' targets' observations read, each once. */
export function listingVariables(apps: ObservedApp[]): string[] {
    return [...new Set(apps.flatMap((app) => targetNamed(app.target).hostVariables))].map((name) => {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
            throw new Error(`not a host variable of an observation: ${JSON.stringify(name)}`);
        }
        return name;
    });
}

/** A batch script and what its stdin carries. */
export interface ObserveBatch {
    script: string;
    stdin: string;
}

/**
 * Without `listing`: the targets' host-wide reads, each variable's value printed under `delimiter var NAME` (a
 * listing the caller may hand to later scripts), under `set -e`: when docker cannot answer, the script fails and
 * every app's read with it. With it: the variables set from it, and the host not listed again; the listing goes on
 * stdin, as single-quoted assignments, since it can be larger than a command line may be (the script is the exec
 * request's command, which sshd hands to the shell as one argument). Then per app in order `delimiter app N`, the
 * app's observation, `delimiter app N exit STATUS`, its stderr.
 */
export function buildObserveBatchScript(apps: ObservedApp[], delimiter: string, listing?: HostListing): ObserveBatch {
    const marker = shellQuote(validateDelimiter(delimiter));
    const variables = listingVariables(apps);
    const assignments = listing === undefined ? [] : variables.map((name) => {
        if (!Object.hasOwn(listing, name)) {
            throw new Error(`the host's listing lacks ${name}`);
        }
        return `${name}=${shellQuote(listing[name])}`;
    });
    return {
        script: script(
            "set -eu",
            "errors=$(mktemp)",
            "trap 'rm -f \"$errors\"' EXIT",
            listing === undefined
                ? [...observeHostCommands(apps.map((app) => app.target)), ...variables.flatMap((name) => [`echo ${marker}' var ${name}'`, `printf '%s\\n' "$${name}"`])]
                : ["listing=$(cat)", "eval \"$listing\""],
            apps.flatMap((app, index) => [
                `echo ${marker}' app ${index}'`,
                // Outside `set -e`, so the subshell's own `set -e` holds (inside an `if` or `||` it would not).
                "set +e",
                "(",
                "  set -eu",
                ...observeAppCommands(app.location, app.target).map((line) => `  ${line}`),
                ") 2>\"$errors\"",
                "status=$?",
                "set -e",
                `echo ${marker}" app ${index} exit $status"`,
                "cat \"$errors\"",
            ]),
        ),
        stdin: assignments.map((line) => `${line}\n`).join(""),
    };
}

/** Each app's answer from the batch script's output, in the order of its apps. */
export function splitObserveBatch(output: string, delimiter: string, count: number): AppAnswer[] {
    validateDelimiter(delimiter);
    return Array.from({ length: count }, (_, index) => {
        const start = `${delimiter} app ${index}\n`;
        // Not anchored to a line's start: an app's last line may lack its newline.
        const end = new RegExp(`${delimiter} app ${index} exit (\\d+)\\n`);
        const from = output.indexOf(start);
        const ended = end.exec(output.slice(from + start.length));
        if (from < 0 || ended === null) {
            throw new Error(`the host's answer lacks app ${index + 1} of ${count} of the observation`);
        }
        const body = output.slice(from + start.length);
        const stdout = body.slice(0, ended.index);
        const rest = body.slice(ended.index + ended[0].length);
        const next = rest.indexOf(`${delimiter} app ${index + 1}\n`);
        const stderr = next < 0 ? rest : rest.slice(0, next);
        return Number(ended[1]) === 0 ? { stdout } : { exitCode: Number(ended[1]), stderr };
    });
}

/** The host's listing a script built without one printed: each of `variables`' values. */
export function listingOf(output: string, delimiter: string, variables: string[]): HostListing {
    validateDelimiter(delimiter);
    return Object.fromEntries(variables.map((name) => {
        const header = `${delimiter} var ${name}\n`;
        const from = output.indexOf(header);
        const body = output.slice(from + header.length);
        // printf ends each value with a newline, which $(…) had taken off it.
        const end = body.indexOf(`\n${delimiter} `);
        if (from < 0 || end < 0) {
            throw new Error(`the host's answer lacks ${name} of the observation's listing`);
        }
        return [name, body.slice(0, end)];
    }));
}
