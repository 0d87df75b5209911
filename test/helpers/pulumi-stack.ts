// A stack of this project under the real Pulumi engine, in temp dirs that go away with it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../../scripts/local/pulumi-workspace";

export interface TestStack {
    stack: Stack;
    /** Destroys what the stack still has, removes it and its temp dirs. */
    remove(): Promise<void>;
}

export async function createTestStack(stackName: string, config: ConfigMap): Promise<TestStack> {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-work-"));
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-state-"));
    const workspace = await openWorkspace({ workDir, stateDir, passphrase: "e2e-test-passphrase" });
    const stack = await Stack.create(stackName, workspace);
    await stack.setAllConfig(config, true);
    return {
        stack,
        remove: async () => {
            try {
                await stack.destroy();
                await workspace.removeStack(stackName);
            } finally {
                fs.rmSync(workDir, { recursive: true, force: true });
                fs.rmSync(stateDir, { recursive: true, force: true });
            }
        },
    };
}
