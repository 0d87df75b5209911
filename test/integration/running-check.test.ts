// The guard between `compose up` and the record: a deploy whose `up` reports success while the containers do not
// run the pinned digest must fail, record nothing and leave the previous version running. Over a real SSH host,
// dockerd and Registry v3, with a compose plugin that lies: on the host it stands before the real one (docker
// looks in $DOCKER_CONFIG/cli-plugins first) and starts the previous image wherever the compose file pins the new one.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { shellQuote } from "../../components/remote/shell";
import { BuiltImage } from "../../local/app-repository";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { deployRequest } from "../helpers/deploy-request";
import { RemoteResult, runOverSsh } from "../helpers/ssh";

describe("the running-digest check before deploy-info.yml is written, over a real SSH host (one scenario, in order)", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let location: AppLocation;
    /** Where the SSH host's docker looks for CLI plugins before the system's. */
    let pluginDir: string;
    /** The stand-in appends the pinned digest here each time it swaps it. */
    let swapLog: string;

    before(async () => {
        env = await startDeployEnvironment();
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        pluginDir = path.join(env.ssh.dir, "docker-config", "cli-plugins");
        swapLog = path.join(env.ssh.dir, "compose-swaps.log");
    });
    after(async () => env?.stop());

    const deploy = (image: BuiltImage): Promise<RemoteResult> => {
        const request = deployRequest(image, { registry: env.registry.address, location, port: env.port });
        return runOverSsh(env.ssh, request.script, request.stdin);
    };
    const running = () => env.runningDigests(composeProject(location));
    const hostFile = (name: string) => fs.readFileSync(path.join(appDir(location), name), "utf8");

    /** The compose plugin the SSH host's docker runs now, as docker itself reports it. */
    function composePluginPath(): string {
        const found = execFileSync("docker", ["info", "--format", "{{range .ClientInfo.Plugins}}{{if eq .Name \"compose\"}}{{.Path}}{{end}}{{end}}"], {
            encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host, DOCKER_CONFIG: path.dirname(pluginDir) },
        }).trim();
        assert.ok(found, "docker on the SSH host has a compose plugin (scripts/install-tools installs it)");
        return found;
    }

    /**
     * Installs a compose plugin that forwards every call to `real`, but runs an `up` whose compose file pins
     * `pinned` on a copy (in the same dir, so relative paths such as the env file still resolve) pinning `previous`.
     */
    function installLyingCompose(real: string, pinned: string, previous: string): void {
        fs.mkdirSync(pluginDir, { recursive: true });
        fs.writeFileSync(path.join(pluginDir, "docker-compose"), [
            "#!/bin/bash",
            `real=${shellQuote(real)} pinned=${shellQuote(pinned)} previous=${shellQuote(previous)} swap_log=${shellQuote(swapLog)}`,
            "args=(\"$@\") swapped=''",
            "if [[ \" $* \" == *' up '* ]]; then",
            "  for i in \"${!args[@]}\"; do",
            "    file=${args[i+1]:-}",
            "    if [[ ${args[i]} == -f || ${args[i]} == --file ]] && grep -qF \"$pinned\" \"$file\"; then",
            "      swapped=$(dirname \"$file\")/.compose-standin-$$.yml",
            "      sed \"s/$pinned/$previous/g\" \"$file\" > \"$swapped\"",
            "      args[i+1]=$swapped",
            "      echo \"$pinned\" >> \"$swap_log\"",
            "    fi",
            "  done",
            "fi",
            "\"$real\" \"${args[@]}\"",
            "status=$?",
            "[ -z \"$swapped\" ] || rm -f \"$swapped\"",
            "exit $status",
            "",
        ].join("\n"), { mode: 0o755 });
    }

    it("deploys A with the real compose", async () => {
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
    });

    it("fails a deploy of B whose compose up succeeds on A, records nothing and leaves A running", async () => {
        const infoBefore = hostFile("deploy-info.yml");
        const historyBefore = hostFile("deploy-history.yml");
        installLyingCompose(composePluginPath(), env.images.b.digest, env.images.a.digest);
        try {
            const result = await deploy(env.images.b);
            assert.ok(fs.existsSync(swapLog) && fs.readFileSync(swapLog, "utf8").includes(env.images.b.digest),
                `the stand-in compose ran an up of B on A: ${result.stderr}`);
            assert.notStrictEqual(result.status, 0, `the deploy must fail: ${result.stderr}`);
            assert.match(result.stderr, new RegExp(`not on \\S*${env.images.b.digest}`), "it says the containers are not on B");
        } finally {
            fs.rmSync(path.join(pluginDir, "docker-compose"));
        }
        assert.strictEqual(hostFile("deploy-info.yml"), infoBefore, "deploy-info.yml is unchanged");
        assert.strictEqual(hostFile("deploy-history.yml"), historyBefore, "deploy-history.yml is unchanged");
        assert.deepStrictEqual(running(), [env.images.a.digest], "A still runs");
        assert.match(await env.page(), new RegExp(`version <code id="version">${env.images.a.tag}</code>`));
    });

    it("deploys B once compose tells the truth again", async () => {
        const result = await deploy(env.images.b);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(running(), [env.images.b.digest]);
        assert.match(hostFile("deploy-info.yml"), new RegExp(`^digest: ${env.images.b.digest}$`, "m"));
    });
});
