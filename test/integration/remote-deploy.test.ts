// The host scripts of components/remote/scripts.ts, run over a real SSH host against real dockerd,
// compose v2 and Registry v3: deploy, roll forward and back, a failed deploy, two at once, removal.
import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { parseDeployInfo } from "../../components/model/deploy-info";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { parseObservation } from "../../components/remote/observation";
import { buildObserveScript, buildRemoveScript } from "../../components/remote/scripts";
import { BuiltImage } from "../../local/app-repository";
import { freePort } from "../../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../helpers/deploy-environment";
import { deployRequest as buildDeployRequest, helloWorldTemplate, ownerOf } from "../helpers/deploy-request";
import { phaseProcesses } from "../helpers/fault-harness";
import { RemoteResult, runOverSsh } from "../helpers/ssh";

// One scenario: each test starts from what the one before deployed.
describe("host scripts over a real SSH host, dockerd, compose v2 and Registry v3 (one scenario, in order)", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let location: AppLocation;

    before(async () => {
        env = await startDeployEnvironment();
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    });
    after(async () => env?.stop());

    /** The script and stdin of a deploy of `image`, built as HostDeployment builds them. */
    function deployRequest(image: BuiltImage, healthTimeoutSeconds = 30, target: AppLocation = location, port = env.port, lockTimeoutSeconds?: number) {
        return buildDeployRequest(image, { registry: env.registry.address, location: target, port, healthTimeoutSeconds, lockTimeoutSeconds });
    }

    async function deploy(image: BuiltImage, healthTimeoutSeconds = 30, target: AppLocation = location, port = env.port): Promise<RemoteResult> {
        const request = deployRequest(image, healthTimeoutSeconds, target, port);
        return runOverSsh(env.ssh, request.script, request.stdin);
    }

    const running = (target: AppLocation = location) => env.runningDigests(composeProject(target));
    const observe = async (target: AppLocation = location) => {
        const result = await runOverSsh(env.ssh, buildObserveScript(target, "compose"));
        assert.strictEqual(result.status, 0, result.stderr);
        return parseObservation(result.stdout, `${env.registry.address}/${repository}`, "", appDir(target));
    };
    const deployInfoText = () => fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8");
    const history = () => YAML.parseAllDocuments(fs.readFileSync(path.join(appDir(location), "deploy-history.yml"), "utf8"))
        .map((doc) => doc.toJS() as Record<string, string>);

    it("deploys A by digest and records the canonical deploy-info.yml only then", async () => {
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(`version <code id="version">${env.images.a.tag}</code>`));

        const compose = fs.readFileSync(path.join(appDir(location), "compose.yml"), "utf8");
        assert.match(compose, new RegExp(`image: ${env.registry.address}/${repository}@${env.images.a.digest}`));
        assert.ok(!compose.includes(`:${env.images.a.tag}`), "the compose file never names a tag");

        const text = deployInfoText();
        const info = parseDeployInfo(text, "deploy-info.yml");
        assert.deepStrictEqual(Object.keys(YAML.parse(text)),
            ["app", "workspace", "image", "tag", "digest", "description", "deployed_at", "deployed_by"]);
        assert.deepStrictEqual({ ...info, deployed_at: "" }, {
            app: "hello-world", workspace: "dev", image: `${env.registry.address}/${repository}`, tag: env.images.a.tag,
            digest: env.images.a.digest, description: "initial deploy", deployed_at: "", deployed_by: "wander@casa",
        });
        assert.match(info.deployed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.ok(Math.abs(Date.parse(info.deployed_at) - Date.now()) < 120_000);
        const observed = parseObservation(result.stdout, `${env.registry.address}/${repository}`, env.images.a.digest, "");
        assert.deepStrictEqual(observed.record, info, "the script reports the record it wrote");
        assert.deepStrictEqual(observed.containers, [{ service: "web", state: "running", digest: env.images.a.digest }]);
        assert.deepStrictEqual(history().map((h) => h.digest), [env.images.a.digest]);
    });

    it("does nothing, and records nothing, when the target already runs", async () => {
        const before = deployInfoText();
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /already running and recorded; nothing to do/);
        assert.strictEqual(deployInfoText(), before);
        assert.strictEqual(history().length, 1);
    });

    it("rolls forward to B and back to A", async () => {
        assert.strictEqual((await deploy(env.images.b)).status, 0);
        assert.deepStrictEqual(running(), [env.images.b.digest]);
        assert.match(await env.page(), new RegExp(env.images.b.tag));
        assert.strictEqual(parseDeployInfo(deployInfoText(), "").digest, env.images.b.digest);

        assert.strictEqual((await deploy(env.images.a)).status, 0);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.strictEqual(parseDeployInfo(deployInfoText(), "").tag, env.images.a.tag);
        assert.deepStrictEqual(history().map((h) => h.digest), [env.images.a.digest, env.images.b.digest, env.images.a.digest]);
    });

    it("fails on an unhealthy image, keeps A serving and deploy-info.yml untouched", async () => {
        const before = deployInfoText();
        const result = await deploy(env.images.c, 10);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /hello-world@dev: deploy of .* failed: the containers did not become healthy within 10 s/);
        assert.match(result.stderr, /the previous deployment is running again/);
        assert.strictEqual(deployInfoText(), before);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
        assert.strictEqual(history().length, 3);
    });

    it("serializes two deploys at once on the app's lock, ending consistent", async () => {
        const [toB, toA] = await Promise.all([deploy(env.images.b), deploy(env.images.a)]);
        assert.strictEqual(toB.status, 0, toB.stderr);
        assert.strictEqual(toA.status, 0, toA.stderr);
        const recorded = parseDeployInfo(deployInfoText(), "").digest;
        assert.deepStrictEqual(running(), [recorded]);
        const digests = history().map((h) => h.digest);
        assert.strictEqual(digests[digests.length - 1], recorded);
    });

    it("waits for the app's lock and gives up, changing nothing, while another deploy holds it", async () => {
        const before = deployInfoText();
        // Its own process group, so the sleep holding the lock goes with it (not only flock).
        const holder = spawn("flock", [path.join(appDir(location), ".deploy.lock"), "sleep", "60"], { stdio: "ignore", detached: true });
        try {
            await new Promise((resolve) => setTimeout(resolve, 300));
            const request = deployRequest(notDeployed(), 30, location, env.port, 2);
            const result = await runOverSsh(env.ssh, request.script, request.stdin);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /another deploy of this app dir has held the lock for 2 s/);
        } finally {
            process.kill(-holder.pid!, "SIGKILL");
        }
        assert.strictEqual(deployInfoText(), before);
    });

    const docker = (...args: string[]) => execFileSync("docker", args, {
        cwd: appDir(location), encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host }, stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    /** Of A and B, the one not deployed now (the concurrent test leaves either). */
    const notDeployed = () => parseDeployInfo(deployInfoText(), "").digest === env.images.a.digest ? env.images.b : env.images.a;
    /** kill -9 of the detached deploy phase working in `dir` (other suites' phases may run beside it). */
    const killPhaseIn = (dir: string) => {
        const ours = phaseProcesses(dir);
        assert.strictEqual(ours.length, 1, `one deploy phase works in ${dir}`);
        process.kill(ours[0].pid, "SIGKILL");
    };
    /** Waits for a deploy that holds the app's lock to finish. */
    const lockReleased = () => execFileSync("flock", [path.join(appDir(location), ".deploy.lock"), "true"]);

    it("refuses to take over an app dir that another stack deployed to: another workspace, or one of the same name elsewhere", async () => {
        const before = deployInfoText();
        const prod = await deploy(env.images.b, 30, { ...location, workspace: "prod" });
        assert.strictEqual(prod.status, 1);
        assert.match(prod.stderr, /hello-world@prod: .* belongs to another stack \(its \.owner names test-stack-of-dev/);
        // The same workspace name from another state backend or project: its own owner id.
        const request = buildDeployRequest(notDeployed(), { registry: env.registry.address, location, port: env.port, owner: "dev-on-another-backend" });
        const twin = await runOverSsh(env.ssh, request.script, request.stdin);
        assert.strictEqual(twin.status, 1);
        assert.match(twin.stderr, /belongs to another stack .*a workspace of the same name on another state backend/);
        assert.match(twin.stderr, /remove .*\/\.owner and run pulumi up again/);
        assert.strictEqual(deployInfoText(), before);
    });

    it("marks a dir from before owner marks by the workspace its record names, quoted or not", async () => {
        const ownerFile = path.join(appDir(location), ".owner");
        const marked = fs.readFileSync(ownerFile, "utf8");
        const recorded = parseDeployInfo(deployInfoText(), "");
        const quoted = deployInfoText().replace(/^workspace: dev$/m, 'workspace: "dev"');
        fs.writeFileSync(path.join(appDir(location), "deploy-info.yml"), quoted);
        fs.rmSync(ownerFile);
        const current = recorded.digest === env.images.a.digest ? env.images.a : env.images.b;
        try {
            assert.strictEqual((await deploy(env.images.b, 30, { ...location, workspace: "prod" })).status, 1, "another workspace is still refused");
            const requoted = await deploy(current);
            assert.strictEqual(requoted.status, 0, requoted.stderr);
            assert.strictEqual(fs.readFileSync(ownerFile, "utf8"), marked);
            assert.strictEqual(deployInfoText().includes('workspace: "dev"'), false, "the record is written in its canonical form again");
            fs.rmSync(ownerFile);
            const unmarked = await deploy(current);
            assert.strictEqual(unmarked.status, 0, unmarked.stderr);
            assert.match(unmarked.stderr, /already running and recorded; nothing to do/);
            assert.strictEqual(fs.readFileSync(ownerFile, "utf8"), marked);
        } finally {
            assert.deepStrictEqual(running(), [recorded.digest]);
        }
    });

    it("restores the recorded version when the deploy cannot be decided after the switch, every file as it was", async () => {
        const before = deployInfoText();
        const compose = fs.readFileSync(path.join(appDir(location), "compose.yml"), "utf8");
        const blocker = path.join(appDir(location), ".commit.tmp");
        fs.mkdirSync(blocker);
        try {
            const result = await deploy(notDeployed());
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /could not record the deploy/);
            assert.match(result.stderr, /the previous deployment is running again/);
        } finally {
            fs.rmSync(blocker, { recursive: true, force: true });
        }
        assert.strictEqual(deployInfoText(), before);
        assert.strictEqual(fs.readFileSync(path.join(appDir(location), "compose.yml"), "utf8"), compose);
        assert.deepStrictEqual(running(), [parseDeployInfo(before, "").digest]);
    });

    it("after a deploy process killed mid-deploy, a failing deploy brings back the recorded version, never the killed one's", async () => {
        const recorded = parseDeployInfo(deployInfoText(), "").digest;
        const request = deployRequest(notDeployed());
        let killed = false;
        const killedRun = await runOverSsh(env.ssh, request.script, request.stdin, (line) => {
            if (!killed && /pulling|waiting up to/.test(line)) {
                killed = true;
                // The detached phase itself, as an OOM kill or a restart would end it: no trap runs.
                killPhaseIn(appDir(location));
            }
        });
        assert.ok(killed, "the deploy reached its pull");
        assert.notStrictEqual(killedRun.status, 0);
        assert.match(killedRun.stderr, /the deploy process on the host was killed \(signal 9.*run pulumi up --refresh/);
        assert.strictEqual(parseDeployInfo(deployInfoText(), "").digest, recorded, "nothing was recorded");
        assert.match(fs.readFileSync(path.join(appDir(location), "compose.yml"), "utf8"), new RegExp(recorded), "compose.yml is the recorded one's");
        const observed = await observe();
        assert.deepStrictEqual(observed.files?.composeDigests, [recorded]);

        const unhealthy = await deploy(env.images.c, 10);
        assert.strictEqual(unhealthy.status, 1);
        assert.match(unhealthy.stderr, /an earlier deploy .* never finished: its process died/);
        assert.match(unhealthy.stderr, new RegExp(`the previous deployment is running again \\(.*${recorded}`));
        assert.deepStrictEqual(running(), [recorded]);
        assert.strictEqual(parseDeployInfo(deployInfoText(), "").digest, recorded);
    });

    it("on a deploy root that fills up mid-deploy, says why it failed and that the disk is full, and keeps the recorded version", async () => {
        const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "iac-nearly-full-"));
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
        const small: AppLocation = { ...location, org: "small", deployRoot: mountPoint };
        try {
            const port = await freePort();
            assert.strictEqual((await deploy(env.images.a, 30, small, port)).status, 0);
            const before = fs.readFileSync(path.join(appDir(small), "deploy-info.yml"), "utf8");
            let filled = false;
            const request = deployRequest(env.images.b, 30, small, port);
            const result = await runOverSsh(env.ssh, request.script, request.stdin, (line) => {
                if (!filled && /pulling/.test(line)) {
                    filled = true;
                    execFileSync("sh", ["-c", `dd if=/dev/zero of=${mountPoint}/filler bs=4k 2>/dev/null || true`]);
                }
            });
            assert.ok(filled);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /deploy of .* failed: could not (write|record)/);
            assert.match(result.stderr, /the file system of .* is full \(\d+ KiB free\): free space there, then run pulumi up again/);
            assert.strictEqual(fs.readFileSync(path.join(appDir(small), "deploy-info.yml"), "utf8"), before);
            assert.deepStrictEqual(running(small), [env.images.a.digest]);
            fs.rmSync(path.join(mountPoint, "filler"));
            assert.strictEqual((await runOverSsh(env.ssh, buildRemoveScript(small, ownerOf(small)))).status, 0);
        } finally {
            execFileSync("umount", [mountPoint]);
            fs.rmdirSync(mountPoint);
        }
    });

    it("finishes a deploy whose SSH session died half-way, leaving the host and its record in agreement", async () => {
        const target = notDeployed();
        const request = deployRequest(target);
        let killed = false;
        const session = runOverSsh(env.ssh, request.script, request.stdin, (line) => {
            if (!killed && /waiting up to/.test(line)) {
                killed = true;
                // The session's shell (its command line names this test's app dir), as when the operator's machine
                // goes away: the deploy phase is not its child.
                execFileSync("pkill", ["-KILL", "-f", `app_dir='${appDir(location).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}'`]);
            }
        });
        const result = await session;
        assert.ok(killed, "the deploy reached up --wait");
        assert.notStrictEqual(result.status, 0);
        lockReleased();
        const recorded = parseDeployInfo(deployInfoText(), "").digest;
        assert.strictEqual(recorded, target.digest, "the detached phase ran to its record");
        assert.deepStrictEqual(running(), [recorded]);
        assert.deepStrictEqual((await observe()).containers.map((c) => [c.state, c.digest]), [["running", recorded]]);
    });

    it("sees a stopped container, and a deploy brings it back", async () => {
        docker("compose", "-p", composeProject(location), "-f", "compose.yml", "--env-file", "/dev/null", "stop");
        assert.deepStrictEqual((await observe()).containers.map((c) => c.state), ["exited"]);
        const result = await deploy(env.images.b);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(running(), [env.images.b.digest]);
    });

    it("adopts an app that runs under the former project name, leaving none behind", async () => {
        docker("compose", "-p", composeProject(location), "-f", "compose.yml", "--env-file", "/dev/null", "down");
        docker("compose", "-p", "hello-world", "-f", "compose.yml", "--env-file", "/dev/null", "up", "-d", "--wait");
        assert.deepStrictEqual((await observe()).containers.map((c) => c.digest), [env.images.b.digest], "the former name is observed too");
        const result = await deploy(env.images.a);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stderr, /adopting the containers started under the former project name/);
        assert.strictEqual(docker("ps", "-aq", "--filter", "label=com.docker.compose.project=hello-world"), "");
        assert.deepStrictEqual(running(), [env.images.a.digest]);
    });

    it("runs a second workspace's copy beside the first on one host, and removing it leaves the first running", async () => {
        const other: AppLocation = { ...location, workspace: "prod", org: "acme" };
        const result = await deploy(env.images.b, 30, other, await freePort());
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(running(other), [env.images.b.digest]);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        const removed = await runOverSsh(env.ssh, buildRemoveScript(other, ownerOf(other)));
        assert.strictEqual(removed.status, 0, removed.stderr);
        assert.deepStrictEqual(running(other), []);
        assert.deepStrictEqual(running(), [env.images.a.digest]);
        assert.match(await env.page(), new RegExp(env.images.a.tag));
    });

    it("removes an app's containers and the networks compose made for it, by label, and keeps a network it declares external", async () => {
        const netted: AppLocation = { ...location, app: "netted" };
        const project = composeProject(netted);
        const external = `${project}-external`;
        docker("network", "create", "--internal", external);
        try {
            // The app on networks of its own (its port inside its own network namespace): compose creates `own`.
            const template = helloWorldTemplate.replace("    network_mode: host\n", "    networks: [own, shared]\n") +
                `networks:\n  own: {}\n  shared:\n    external: true\n    name: ${external}\n`;
            const request = buildDeployRequest(env.images.a, { registry: env.registry.address, location: netted, port: await freePort(), template });
            const deployed = await runOverSsh(env.ssh, request.script, request.stdin);
            assert.strictEqual(deployed.status, 0, deployed.stderr);
            const networksOf = () => docker("network", "ls", "--format", "{{.Name}}", "--filter", `label=com.docker.compose.project=${project}`);
            assert.strictEqual(networksOf(), `${project}_own`);
            // A stopped container of the project, which `docker ps` alone would not list.
            docker("create", "--label", `com.docker.compose.project=${project}`, `${env.registry.address}/${repository}@${env.images.a.digest}`);

            const removed = await runOverSsh(env.ssh, buildRemoveScript(netted, ownerOf(netted)));
            assert.strictEqual(removed.status, 0, removed.stderr);
            assert.strictEqual(docker("ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`), "");
            assert.strictEqual(networksOf(), "");
            assert.strictEqual(docker("network", "inspect", "--format", "{{.Name}}", external), external, "the external network stays");
            assert.deepStrictEqual(running(), [parseDeployInfo(deployInfoText(), "").digest], "the other app runs on");
        } finally {
            docker("network", "rm", external);
        }
    });

    it("takes the app down on removal and moves deploy-info.yml into the history with removed_at", async () => {
        const last = parseDeployInfo(deployInfoText(), "");
        const result = await runOverSsh(env.ssh, buildRemoveScript(location, ownerOf(location)));
        assert.strictEqual(result.status, 0, result.stderr);
        assert.deepStrictEqual(running(), []);
        assert.ok(!fs.existsSync(path.join(appDir(location), "deploy-info.yml")));
        const removed = history()[history().length - 1];
        assert.strictEqual(removed.digest, last.digest);
        assert.match(removed.removed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(await env.page(), /^unreachable/);
    });
});
