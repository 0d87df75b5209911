// `pulumi preview` under the real engine with bad values: one problem list naming every key, never a secret
// value, no stack trace, nothing declared. No host or registry is needed: nothing may be reached.
import * as assert from "assert";
import { createTestStack, TestStack } from "../helpers/pulumi-stack";

describe("workspace config under the real Pulumi engine", function () {
    this.timeout(300_000);
    let testStack: TestStack | undefined;
    after(async () => testStack?.remove());

    it("stops preview with one problem list for every bad value", async () => {
        const secret = "hunter2-do-not-print";
        testStack = await createTestStack("dev", {
            "iac:apps[0]": { value: "hello-world" },
            "iac:registry": { value: "127.0.0.1:99999" },
            "iac:sshHost": { value: "127.0.0.1" },
            "iac:sshPort": { value: "70000" },
            "iac:sshUser": { value: "deploy_user" },
            "iac:sshPrivateKey": { value: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot used\n-----END OPENSSH PRIVATE KEY-----\n", secret: true },
            "iac:org": { value: "rednaw" },
            "hello-world:image": { value: "rednaw/hello-world" },
            "hello-world:tag": { value: "eb53023" },
            "hello-world:environment.API_KEY": { value: `${secret}\nsecond line`, secret: true },
            "hello-world:environment.BAD-NAME": { value: "x" },
        });
        await assert.rejects(testStack.stack.preview({ color: "never" }), (error: Error) => {
            assert.match(error.message, /the configuration of workspace dev has 4 problem\(s\):/);
            assert.match(error.message, /- iac:registry: invalid registry "127\.0\.0\.1:99999": port 99999 is out of range: expected 1-65535/);
            assert.match(error.message, /- iac:sshPort: expected a whole number from 1 to 65535, not "70000"/);
            assert.match(error.message, /- hello-world:environment: the value of API_KEY holds a line break/);
            assert.match(error.message, /- hello-world:environment: environment variable name "BAD-NAME"/);
            assert.doesNotMatch(error.message, /deploy_user/, "a POSIX user name is accepted");
            assert.ok(!error.message.includes(secret), "the secret value is never shown");
            assert.doesNotMatch(error.message, /^\s+at .*\.(ts|js):\d+/m, "no stack trace");
            return true;
        });
    });
});
