// A stack's outputs as the `pulumi` CLI prints them, for the commands that run without a Pulumi program: the one
// place they start it. It reads the stack's backend with the operator's own login and passphrase.
import { execFileSync } from "child_process";
import { DeployInfo } from "./deploy-info";

export class StackOutputError extends Error {
    constructor(stack: string, output: string, detail: string) {
        super(`cannot read the ${output} output of stack ${stack}: ${detail}`);
        this.name = "StackOutputError";
    }
}

/** `pulumi stack output OUTPUT --json` of `stack`, run in `projectDir`; nothing printed is an empty object. */
function stackOutput(stack: string, output: string, projectDir: string): unknown {
    try {
        return JSON.parse(execFileSync("pulumi", ["stack", "output", output, "--json", "--stack", stack],
            { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) || "{}") ?? {};
    } catch (error) {
        throw new StackOutputError(stack, output, (error as { stderr?: string }).stderr?.trim() || (error as Error).message);
    }
}

/** The stack's `deployed` output: each app's deploy-info.yml record, as the last run read it from the host. */
export function readDeployedOutput(stack: string, projectDir: string): Record<string, DeployInfo> {
    return stackOutput(stack, "deployed", projectDir) as Record<string, DeployInfo>;
}
