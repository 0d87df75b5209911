// Each guard that keeps an app's environment secret, on its own: what the program and HostDeployment hand the
// engine, under Pulumi mocks, with the other guards out of the way. They overlap (a secret environment makes a
// secret env file, and the engine copies the secret bit of an input to the output of the same name), so removing
// one leaves the state as it was: test/e2e/secrets.e2e.test.ts checks the state they make together, these check
// that each still does its part.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { getMonitor } from "@pulumi/pulumi/runtime/settings";
import { HostDeployment } from "../../components/pulumi/host-deployment";
import { loadWorkspaceConfig } from "../../components/pulumi/program-workspace";
import { directStackConfig, outputValue, stackConfig } from "../helpers/mock-program";

/** A RegisterResource request as the engine receives it, secrets still marked. */
interface RegisterRequest {
    getType(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getAdditionalsecretoutputsList(): string[];
}

/** Mocks that keep every resource's inputs as its state, and the RegisterResource requests the program sends. */
async function mockEngine(config: Record<string, string>): Promise<RegisterRequest[]> {
    await pulumi.runtime.setMocks({
        newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
        call: (args) => args.inputs,
    }, "iac", "dev", true, "organization");
    pulumi.runtime.setAllConfig(config);
    const monitor = getMonitor() as unknown as { registerResource(request: RegisterRequest, callback: unknown): void };
    const requests: RegisterRequest[] = [];
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        requests.push(request);
        register(request, callback);
    };
    return requests;
}

describe("the guards of an app's environment, each on its own", () => {
    it("the program reads the environment as a secret, whatever the stack file holds it as", async () => {
        await mockEngine({ ...directStackConfig("dev"), "hello-world:environment": JSON.stringify({ PORT: "8080" }) });
        const [app] = loadWorkspaceConfig().apps;
        assert.deepStrictEqual(await outputValue(app.secretEnvironment), { PORT: "8080" });
        assert.strictEqual(await pulumi.isSecret(app.secretEnvironment), true);
    });

    /** The request of a HostDeployment given a plain env file, as a caller that forgot it is a secret would give it. */
    async function hostDeploymentRequest(envFile: string): Promise<RegisterRequest> {
        const requests = await mockEngine(stackConfig("dev"));
        const deployment = new HostDeployment("hello-world-deploy", {
            connection: { host: "127.0.0.1", port: 22, user: "deploy", privateKey: "key" },
            location: { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt" },
            owner: "stack-id-1", target: "compose", repository: "rednaw/hello-world",
            access: { registry: "127.0.0.1:5000", platform: "linux/amd64", insecure: true },
            image: { digest: `sha256:${"1".repeat(64)}`, tag: "eb53023", description: "d", created: null },
            compose: "services: {}\n", services: ["web"], env: envFile, deployedBy: "wander@casa", healthTimeoutSeconds: 120,
        });
        await outputValue(deployment.urn);
        const sent = requests.filter((request) => request.getType() === "pulumi-nodejs:dynamic/iac:HostDeployment");
        assert.strictEqual(sent.length, 1);
        return sent[0];
    }

    it("HostDeployment sends a plain env to the engine as a secret", async () => {
        const envFile = "API_KEY='not-yet-a-secret'\n";
        const request = await hostDeploymentRequest(envFile);
        assert.deepStrictEqual(request.getObject()?.toJavaScript().env, { [specialSigKey]: specialSecretSig, value: envFile });
    });

    it("HostDeployment asks the engine to keep its env output a secret", async () => {
        const request = await hostDeploymentRequest("API_KEY='not-yet-a-secret'\n");
        // Today's engine would also copy the input's secret bit to the output, since the dynamic provider takes no
        // secrets; one that took them would hand the env back in clear, and only this keeps it a secret then.
        assert.ok(request.getAdditionalsecretoutputsList().includes("env"));
    });
});
