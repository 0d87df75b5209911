// Secrets under the real Pulumi engine, against a real SSH host, dockerd and a Registry v3 that takes one user:
// an app's environment value set with `pulumi config set --secret --path`, the registry password and the SSH key
// reach the host, and appear in clear nowhere an operator reads or shares: not in the state export, the stack
// outputs, nor what preview, up, refresh or a failed deploy print, with the debug output of the program and its
// providers shown (--debug) and with every plugin at -v=9 (--logflow), nor the engine's own log at -v=9 and -v=6
// (it redacts secret property values since 3.276.0; 3.248.0 held them in clear from -v=7: docs/registry-security.md).
import * as assert from "assert";
import * as crypto from "crypto";
import { execFileSync } from "child_process";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { composeProject } from "../../components/remote/layout";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";
import { assertNoSecretIn, secretCheckedCli } from "../helpers/secret-scan";

interface ExportedResource {
    type: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

// One scenario: each test starts from what the one before deployed.
describe("secrets under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let dev: TestStack;
    const random = (what: string) => `${what}-${crypto.randomBytes(12).toString("hex")}`;
    const apiKeys = [random("api-key"), random("api-key")];
    let apiKey = apiKeys[0];

    /** Every secret of the stack, each in the form it would take in a leak (the key: every line of its body). */
    const secrets = (): Record<string, string> => ({
        ...Object.fromEntries(apiKeys.map((value, i) => [`API_KEY value ${i + 1}`, value])),
        "the registry password": env.registryAuth!.password,
        ...Object.fromEntries(env.ssh.privateKey.split("\n").filter((line) => line.length > 20 && !line.startsWith("-----"))
            .map((line, i) => [`line ${i + 2} of the SSH private key`, line])),
    });
    /** Runs the CLI on the stack; it must succeed unless `fails`. Returns what it printed, checked for secrets. */
    const cli = secretCheckedCli(() => dev, secrets);

    /** The containers' environment, as docker holds it. */
    const containerEnvironment = (): string[] => {
        const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } });
        const ids = docker("ps", "-q", "--filter", `label=com.docker.compose.project=${composeProject({
            app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot,
        })}`).split("\n").filter(Boolean);
        assert.strictEqual(ids.length, 1, "one container runs the app");
        return docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", ids[0]).split("\n");
    };

    const isSecret = (value: unknown) => typeof value === "object" && value !== null &&
        (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
    const hostDeployment = (resources: ExportedResource[]) => {
        const found = resources.filter((resource) => resource.type === "pulumi-nodejs:dynamic/iac:HostDeployment");
        assert.strictEqual(found.length, 1, "the state holds one HostDeployment");
        return found[0];
    };

    before(async () => {
        env = await startDeployEnvironment({ registryAuth: { username: "deployer", password: random("registry-password") } });
        dev = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "10" } });
        await cli(["config", "set", "--secret", "--path", "hello-world:environment.API_KEY", apiKey]);
    });
    after(async () => {
        try {
            await dev?.remove();
        } finally {
            await env?.stop();
        }
    });

    it("previews and deploys a secret environment value, printing no secret", async () => {
        await cli(["preview", "--diff", "--debug"]);
        await cli(["up", "--yes", "--skip-preview", "--debug"]);
        assert.ok(containerEnvironment().includes(`API_KEY=${apiKey}`), "the container has the value");
    });

    it("keeps the whole environment a secret in the state, and no secret in clear anywhere in it", async () => {
        const exported = await cli(["stack", "export"]);
        const deployment = hostDeployment(JSON.parse(exported).deployment.resources);
        assert.ok(isSecret(deployment.inputs?.env), "the env input is a secret");
        assert.ok(isSecret(deployment.outputs?.env), "the env output is a secret");

        // The same state with its secrets decrypted: the value is there, so the export above was looked at where it is.
        const shown = JSON.parse((await dev.cli(["stack", "export", "--show-secrets"]).result).output);
        const plaintext = (hostDeployment(shown.deployment.resources).outputs?.env as { plaintext: string }).plaintext;
        assert.match(plaintext, new RegExp(`API_KEY='${apiKey}'`));
    });

    it("shows no secret in the stack outputs", async () => {
        const outputs = await cli(["stack", "output", "--json"]);
        assert.ok(JSON.parse(outputs).deployed["hello-world"].digest, "the outputs were read");
    });

    it("changes a secret value at -v=9 for every plugin, printing neither the old nor the new one", async () => {
        apiKey = apiKeys[1];
        await cli(["config", "set", "--secret", "--path", "hello-world:environment.API_KEY", apiKey]);
        const preview = await cli(["preview", "--diff", "--debug"]);
        assert.match(preview, /~ pulumi-nodejs:dynamic\/iac:HostDeployment: \(update\)/, "the change is a deploy");
        assert.match(preview, /^ +env +: \[secret\]$/m, "the environment is shown as a secret");
        // The engine's own log goes to stderr and is Pulumi's; what the program and the plugins say reaches stdout.
        const up = await dev.stack.up({ color: "never", debug: true, logVerbosity: 9, logFlow: true, logToStdErr: true });
        assert.strictEqual(up.summary.result, "succeeded");
        assertNoSecretIn(secrets(), "what up -v=9 --logflow --debug prints besides the engine's log", up.stdout);
        // Since 3.276.0 (pulumi/pulumi#23931) the engine's own log redacts secret property values at every level.
        assert.match(up.stderr, /"level":"INFO"/, "the engine's log at -v=9 is there");
        assertNoSecretIn(secrets(), "the engine's log at -v=9", up.stderr);
        assert.ok(containerEnvironment().includes(`API_KEY=${apiKey}`), "the container has the new value");
    });

    it("refreshes, and fails a deploy, at -v=6 with the engine's log on stderr, printing no secret", async () => {
        const verbose = ["--debug", "-v=6", "--logtostderr", "--logflow"];
        assert.match(await cli(["refresh", "--yes", "--skip-preview", ...verbose]), /"level":"INFO"/, "the engine's log is there");
        await dev.stack.setConfig("hello-world:tag", { value: env.images.c.tag });
        const failed = await cli(["up", "--yes", "--skip-preview", ...verbose], true);
        assert.match(failed, /did not become healthy/, "the deploy failed on the host, with its output");
    });
});
