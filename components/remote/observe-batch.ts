// The observation of several apps on one host in one script, as a refresh reads them: the targets' host-wide reads
// once (one `docker ps -a` for every compose app, …), then each app's own part in a subshell whose output,
// exit status and stderr come back under a delimiter of their own, so one app's failure stays that app's and each
// app's answer is the very text buildObserveScript prints for it alone.
import { AppLocation, DeployTarget } from "./layout";
import { script, shellQuote } from "./shell";
import { observeAppCommands, observeHostCommands } from "./scripts";

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
 * `delimiter app N`, the app's observation, `delimiter app N exit STATUS`, its stderr; per app in order. The
 * host-wide reads run under `set -e`: when docker cannot answer, the script fails and every app's read with it.
 */
export function buildObserveBatchScript(apps: ObservedApp[], delimiter: string): string {
    const marker = shellQuote(validateDelimiter(delimiter));
    return script(
        "set -eu",
        "errors=$(mktemp)",
        "trap 'rm -f \"$errors\"' EXIT",
        observeHostCommands(apps.map((app) => app.target)),
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
    );
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
