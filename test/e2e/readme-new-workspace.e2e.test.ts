// The README's "A new workspace" block, run as it stands, by bash, in a checkout-like directory of its own,
// against Registry v3 and a second SSH host on loopback: the text a newcomer follows cannot rot.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { parseDeployInfo } from "../../components/model/deploy-info";
import { appDir, composeProject } from "../../components/remote/layout";
import { SshHost, startSshHost } from "../../local/sshd";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";

const projectRoot = path.resolve(__dirname, "..", "..");

/** The fenced block after the `<!-- new-workspace -->` marker. */
function readmeBlock(): string {
    const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");
    const match = /<!-- new-workspace -->\n```bash\n([\s\S]*?)\n```/.exec(readme);
    assert.ok(match, "README.md has the new-workspace block");
    return match[1];
}

/** The block deploys on port 8080: it must be free, or the test says why it cannot run. */
async function assertPortFree(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const server = net.createServer().once("error", () => reject(new Error(
            `port ${port} is taken on this machine; the README's block deploys hello-world there: stop whatever listens on it`)));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
    });
}

describe("the README's new-workspace commands, run literally", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let prodHost: SshHost;
    let dir: string;

    before(async () => {
        await assertPortFree(8080);
        env = await startDeployEnvironment();
        prodHost = await startSshHost({ dockerHost: env.dockerd.host });
        // A checkout as a newcomer has it, with its own Pulumi home so their login is not ours.
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-newcomer-"));
        fs.symlinkSync(path.join(projectRoot, "scripts"), path.join(dir, "scripts"));
        fs.mkdirSync(path.join(dir, ".tools", "pulumi-home"), { recursive: true });
        for (const tools of ["bin", "docker-cli-plugins"]) {
            fs.symlinkSync(path.join(projectRoot, ".tools", tools), path.join(dir, ".tools", tools));
        }
        const project = YAML.parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ ...project, main: path.relative(dir, projectRoot) }));
        fs.mkdirSync(path.join(dir, "home"));
        fs.writeFileSync(path.join(dir, "home", "iac_prod"), prodHost.privateKey, { mode: 0o600 });
    });
    after(async () => {
        try {
            if (dir) {
                spawnSync("bash", ["-c", "source scripts/tools-env && pulumi destroy --yes --stack prod --non-interactive"], {
                    cwd: dir, env: { ...process.env, HOME: path.join(dir, "home"), PULUMI_CONFIG_PASSPHRASE_FILE: path.join(dir, "home", ".config", "iac", "passphrase") },
                });
                fs.rmSync(dir, { recursive: true, force: true });
            }
        } finally {
            await prodHost?.stop();
            await env?.stop();
        }
    });

    it("takes a newcomer from nothing to a prod workspace deployed on its own host", () => {
        const run = spawnSync("bash", ["-euo", "pipefail", "-c", readmeBlock()], {
            cwd: dir, encoding: "utf8",
            env: {
                ...process.env, HOME: path.join(dir, "home"), REGISTRY: env.registry.address, PROD_HOST: prodHost.host,
                PROD_PORT: String(prodHost.port), PROD_USER: prodHost.user, DEPLOY_ROOT: prodHost.deployRoot,
                PROD_KEY: path.join(dir, "home", "iac_prod"), TAG: env.images.b.tag,
            },
        });
        assert.strictEqual(run.status, 0, `${run.stdout}\n${run.stderr}`);
        assert.match(run.stdout, new RegExp(`hello-world@prod: first deploy of ${env.images.b.tag}`));
        assert.match(run.stdout, new RegExp(`→ ${env.images.b.tag} `), "the overview's arrow is on what runs");

        const location = { app: "hello-world", workspace: "prod", org: "rednaw", deployRoot: prodHost.deployRoot };
        const record = parseDeployInfo(fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8"), "deploy-info.yml");
        assert.strictEqual(record.digest, env.images.b.digest);
        assert.deepStrictEqual(env.runningDigests(composeProject(location)), [env.images.b.digest]);
        const stackFile = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> };
        assert.ok(!JSON.stringify(stackFile).includes("PRIVATE KEY"), "the key is stored encrypted");
    });
});
