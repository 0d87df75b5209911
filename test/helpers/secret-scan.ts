// The pulumi CLI on a stack, with everything it prints searched for secrets in clear.
import * as assert from "assert";
import { TestStack } from "./pulumi-stack";

/** Fails naming the secret (never showing it) when `text` holds any of `secrets`' values. */
export function assertNoSecretIn(secrets: Record<string, string>, what: string, text: string): void {
    for (const [name, value] of Object.entries(secrets)) {
        assert.ok(!text.includes(value), `${name} appears in clear in ${what}`);
    }
}

/**
 * A runner of the CLI on `stack()`: it must succeed unless `fails`, and what it printed is checked against every
 * secret `secrets()` names at that moment.
 */
export function secretCheckedCli(stack: () => TestStack, secrets: () => Record<string, string>) {
    return async (args: string[], fails = false): Promise<string> => {
        const { status, output } = await stack().cli(args).result;
        assert.strictEqual(status !== 0, fails, `pulumi ${args.join(" ")} exited ${status}: ${output}`);
        assertNoSecretIn(secrets(), `the output of pulumi ${args.join(" ")}`, output);
        return output;
    };
}
