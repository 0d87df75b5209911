// An app's environment from a SOPS file of the repository, under the real Pulumi engine against a real SSH host and
// dockerd, decrypted with a real age key: deployed, one value changed, rolled back, re-encrypted without a change,
// and every value looked for in clear in the state export, what up prints at -v=9 for every plugin, and the host's
// files (only the env file, mode 600, may hold them).
import * as assert from "assert";
import * as crypto from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { appDir, composeProject, files } from "../../components/remote/layout";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";
import { AgeKey, newAgeKey, rotateSopsFile, writeSopsFile } from "../helpers/sops";
import { assertNoSecretIn, secretCheckedCli } from "../helpers/secret-scan";

const projectRoot = path.resolve(__dirname, "..", "..");

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
    });
}

describe("an app's environment from a SOPS file, under the real Pulumi engine (one scenario, in order)", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let dev: TestStack;
    let keysDir: string;
    let operator: AgeKey;
    let stranger: AgeKey;
    const random = (what: string) => `${what}-${crypto.randomBytes(12).toString("hex")}`;
    const apiKeys = [random("api-key"), random("api-key")];
    const databaseUrl = random("postgres://db");
    // Inside the project, as a team's file is (the name is in .gitignore), and gone after the test.
    const secretsFile = `apps/hello-world/${random("secrets")}.e2e.sops.yaml`;
    const keyFileBefore = process.env.SOPS_AGE_KEY_FILE;

    const writeSecrets = (apiKey: string) =>
        writeSopsFile(path.join(projectRoot, secretsFile), `API_KEY: ${apiKey}\nDATABASE_URL: ${databaseUrl}\n`, [operator]);

    const secrets = () => ({ "API_KEY 1": apiKeys[0], "API_KEY 2": apiKeys[1], DATABASE_URL: databaseUrl });
    /** Runs the CLI on the stack with the operator's key; it must succeed unless `fails`. Checked for secrets. */
    const cli = secretCheckedCli(() => dev, secrets);

    const location = () => ({ app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot });
    const containerEnvironment = (): string[] => {
        const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } });
        const ids = docker("ps", "-q", "--filter", `label=com.docker.compose.project=${composeProject(location())}`).split("\n").filter(Boolean);
        assert.strictEqual(ids.length, 1, "one container runs the app");
        return docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", ids[0]).split("\n");
    };

    before(async () => {
        env = await startDeployEnvironment();
        keysDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-age-"));
        operator = newAgeKey(keysDir, "operator");
        stranger = newAgeKey(keysDir, "stranger");
        process.env.SOPS_AGE_KEY_FILE = operator.file;
        writeSecrets(apiKeys[0]);
        dev = await createTestStack("dev", {
            ...env.stackConfig(env.images.a.tag),
            "hello-world:healthTimeout": { value: "10" },
            "hello-world:environmentFile": { value: secretsFile },
        });
    });
    after(async () => {
        if (keyFileBefore === undefined) {
            delete process.env.SOPS_AGE_KEY_FILE;
        } else {
            process.env.SOPS_AGE_KEY_FILE = keyFileBefore;
        }
        fs.rmSync(path.join(projectRoot, secretsFile), { force: true });
        try {
            await dev?.remove();
        } finally {
            fs.rmSync(keysDir, { recursive: true, force: true });
            await env?.stop();
        }
    });

    it("deploys the file's values, decrypted with the operator's key, printing none", async () => {
        await cli(["preview", "--diff"]);
        await cli(["up", "--yes", "--skip-preview"]);
        const environment = containerEnvironment();
        assert.ok(environment.includes(`API_KEY=${apiKeys[0]}`), "the container has API_KEY");
        assert.ok(environment.includes(`DATABASE_URL=${databaseUrl}`), "the container has DATABASE_URL");
    });

    it("names the one value changed at preview, deploys it at -v=9 printing neither value", async () => {
        writeSecrets(apiKeys[1]);
        const preview = await cli(["preview", "--diff"]);
        assert.match(preview, /hello-world@dev: environment changed: API_KEY$/m, "the changed key is named, only it");
        const up = await dev.stack.up({ color: "never", logVerbosity: 9, logFlow: true, logToStdErr: true });
        assert.strictEqual(up.summary.result, "succeeded");
        assertNoSecretIn(secrets(), "what up -v=9 --logflow prints besides the engine's log", up.stdout);
        assert.ok(containerEnvironment().includes(`API_KEY=${apiKeys[1]}`), "the container has the new value");
    });

    it("rolls the value back with the file, and sees no change when the file is only re-encrypted", async () => {
        writeSecrets(apiKeys[0]);
        await cli(["up", "--yes", "--skip-preview"]);
        assert.ok(containerEnvironment().includes(`API_KEY=${apiKeys[0]}`), "the container has the first value again");
        rotateSopsFile(path.join(projectRoot, secretsFile));
        const preview = await cli(["preview", "--diff", "--expect-no-changes"]);
        assert.doesNotMatch(preview, /environment changed/);
    });

    it("keeps every value a secret in the state, and in clear on the host only in the env file, mode 600", async () => {
        const exported = await cli(["stack", "export"]);
        assert.ok(exported.includes("hello-world"), "the export was read");
        const dir = appDir(location());
        // The env file, and its other name in a staged deploy's dir (one inode: the deploy links it into place).
        const envFileNames = [files.env, "env"];
        const holding = filesUnder(dir).filter((file) => apiKeys.some((value) => fs.readFileSync(file, "utf8").includes(value)));
        assert.ok(holding.some((file) => file === path.join(dir, files.env)), `the deployed env file holds the value (${dir})`);
        for (const file of holding) {
            assert.ok(envFileNames.includes(path.basename(file)), `${file} holds a secret in clear`);
            assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600, `${file} is readable by others`);
        }
    });

    it("stops before anything changes with a key that is not a recipient, naming the file, never a value", async () => {
        process.env.SOPS_AGE_KEY_FILE = stranger.file;
        try {
            const failed = await cli(["preview"], true);
            assert.match(failed, new RegExp(`hello-world:environmentFile: ${secretsFile.replace(/\./g, "\\.")}: cannot be decrypted: no key could decrypt it`));
        } finally {
            process.env.SOPS_AGE_KEY_FILE = operator.file;
        }
    });

    it("refuses a key set both in the file and in <app>:environment, naming the key", async () => {
        await dev.stack.setConfig("hello-world:environment.API_KEY", { value: "from-config", secret: true }, true);
        try {
            const failed = await cli(["preview"], true);
            assert.match(failed, /hello-world: API_KEY set both in .*\.e2e\.sops\.yaml and in hello-world:environment: keep one/);
        } finally {
            await dev.stack.removeConfig("hello-world:environment.API_KEY", true);
        }
    });
});
