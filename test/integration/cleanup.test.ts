// registry:cleanup on Registry v3 and 2.8 with two workspaces (dev, prod) on SSH test hosts whose docker is a
// real dockerd: what prod runs, dev's history, an app dir dropped from iac:apps, a container started by hand, one
// pulled through another name of the registry and a deploy waiting on its app's lock survive; unusable records and
// configs stop everything; the documented garbage collection keeps every kept image pullable; tag pruning never
// undoes retention.
import * as assert from "assert";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { applyPlan, inventory } from "../../components/cleanup/cleanup";
import { Decision, planCleanup } from "../../components/cleanup/plan";
import { loadPolicy } from "../../components/cleanup/policy";
import { gatherReferences } from "../../components/cleanup/references";
import { applyTagPrune, planTagPrune } from "../../components/cleanup/tag-prune";
import { RegistryClient } from "../../components/registry/client";
import { AppLocation, composeLabels, composeProject } from "../../components/remote/layout";
import { readWorkspace } from "../../components/model/workspace";
import { AppRepository } from "../../local/app-repository";
import { DockerEngine, startDockerd } from "../../local/dockerd";
import { RegistryFlavour, RegistryServer, registryBinary, registryFlavours, startRegistry } from "../../local/registry";
import { SshHost, freePort, startSshHost } from "../../local/sshd";
import { deployRequest } from "../helpers/deploy-request";
import { pullCompletely } from "../helpers/pull";
import { TestPusher } from "../helpers/push";
import { runOperatorCommand } from "../helpers/operator-command";
import { runOverSsh } from "../helpers/ssh";

const repository = "rednaw/hello-world";
const manifestType = "application/vnd.oci.image.manifest.v1+json";

describe("registry:cleanup against real registries and hosts", function () {
    this.timeout(300_000);
    let dockerd: DockerEngine;
    let hosts: Record<"dev" | "prod", SshHost>;
    let app: AppRepository;
    const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerd.host } }).trim();

    before(async () => {
        dockerd = await startDockerd();
        // Both workspaces' hosts run on one engine: a container on it is on each workspace's host.
        hosts = { dev: await startSshHost({ dockerHost: dockerd.host }), prod: await startSshHost({ dockerHost: dockerd.host }) };
        app = new AppRepository(dockerd.host);
    });
    after(async () => {
        app?.remove();
        await hosts?.dev.stop();
        await hosts?.prod.stop();
        await dockerd?.stop();
    });

    for (const flavour of registryFlavours) {
        describe(`on Registry ${flavour}`, () => forRegistry(flavour));
    }

    function forRegistry(flavour: RegistryFlavour): void {
        let registry: RegistryServer;
        let registryDir: string;
        let projectDir: string;
        let client: RegistryClient;
        const digests: Record<string, string> = {};
        /** The tag the hand-started container was made from, since moved to an old image nothing references. */
        let movedTag: string;
        /** The registry as the container pulled through it names it: the same server, another spelling. */
        let aliasName: string;

        const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
        const record = (workspace: string, appName: string, name: string) => ({
            app: appName, workspace, image: `${registry.address}/${repository}`, tag: name, digest: digests[name],
            description: name, deployed_at: daysAgo(1), deployed_by: "wander@casa",
        });
        const appDir = (workspace: "dev" | "prod", appName: string) => path.join(hosts[workspace].deployRoot, "rednaw", appName);
        const writeRecords = (workspace: "dev" | "prod", appName: string, current: string | null, history: string[]) => {
            const dir = appDir(workspace, appName);
            fs.mkdirSync(dir, { recursive: true });
            if (current) {
                fs.writeFileSync(path.join(dir, "deploy-info.yml"), YAML.stringify(record(workspace, appName, current)));
            }
            fs.writeFileSync(path.join(dir, "deploy-history.yml"), history.map((name) => `---\n${YAML.stringify(record(workspace, appName, name))}`).join(""));
        };
        const exists = async (name: string) =>
            (await fetch(`http://${registry.address}/v2/${repository}/manifests/${digests[name]}`,
                { method: "HEAD", headers: { accept: manifestType } })).status === 200;
        const cleanup = (args: string[]) => runOperatorCommand("registry:cleanup",
            ["--project-dir", projectDir, "--identity", `dev=${hosts.dev.privateKeyFile}`, "--identity", `prod=${hosts.prod.privateKeyFile}`, ...args],
            { timeout: 120_000 });
        const sources = () => (["dev", "prod"] as const).map((workspace) => ({
            workspace: readWorkspace(workspace, projectDir), privateKey: hosts[workspace].privateKey,
        }));
        const writeStack = (workspace: string, host: SshHost, extra: Record<string, unknown> = {}) =>
            fs.writeFileSync(path.join(projectDir, `Pulumi.${workspace}.yaml`), YAML.stringify({ config: {
                "iac:apps": ["hello-world"], "iac:registry": registry.address, "iac:registryInsecure": true,
                "iac:sshHost": host.host, "iac:sshPort": host.port, "iac:sshUser": host.user,
                "iac:org": "rednaw", "iac:deployRoot": host.deployRoot, "hello-world:image": repository, "hello-world:tag": "d1", ...extra,
            } }));
        const deleteCandidates = (plan: Decision[]) => plan.filter((d) => d.decision === "delete").map((d) => d.tags[0]).sort();
        const unchanged = async () => {
            for (const name of ["d0", "d1", "d2", "d3", "d4"]) {
                assert.ok(await exists(name), `${name} still there`);
            }
        };

        before(async () => {
            registryDir = fs.mkdtempSync(path.join(os.tmpdir(), `iac-cleanup-${flavour}-`));
            registry = await startRegistry({ flavour, dir: registryDir });
            client = new RegistryClient({ registry: registry.address, insecure: true });
            const pusher = new TestPusher(registry.address);
            // d0 oldest … d4 newest, all older than anything the policy would keep by age.
            for (const [i, name] of ["d0", "d1", "d2", "d3", "d4"].entries()) {
                digests[name] = (await pusher.pushImage(repository, [name], { labels: {
                    "org.opencontainers.image.created": daysAgo(200 - i * 10), "org.opencontainers.image.description": `build ${name}`,
                } })).digest;
            }
            // A real image, pulled and left as a stopped container by hand on the hosts' engine, then its tag moved on.
            const handmade = app.build(`${registry.address}/${repository}`, `handmade on ${flavour}`);
            digests.handmade = handmade.digest;
            docker("create", "--name", `handmade-${flavour}`, `${registry.address}/${repository}:${handmade.tag}`);
            movedTag = handmade.tag;
            await pusher.pushImage(repository, [movedTag], { labels: { "org.opencontainers.image.created": daysAgo(300) } });
            // Another real image, then pulled through localhost and its 127.0.0.1 names dropped from the engine:
            // neither the container nor its image names the registry as the workspaces do.
            const alias = app.build(`${registry.address}/${repository}`, `pulled as localhost on ${flavour}`);
            digests.alias = alias.digest;
            aliasName = `localhost:${registry.port}/${repository}`;
            docker("pull", "--quiet", `${aliasName}@${alias.digest}`);
            // Untagging the last tag of a name drops that name's digest reference with it.
            docker("rmi", `${registry.address}/${repository}:${alias.tag}`);
            docker("create", "--name", `alias-${flavour}`, `${aliasName}@${alias.digest}`);
            assert.strictEqual(docker("image", "inspect", "--format", "{{json .RepoDigests}}", `${aliasName}@${alias.digest}`),
                JSON.stringify([`${aliasName}@${alias.digest}`]));

            projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-cleanup-project-"));
            writeStack("dev", hosts.dev);
            writeStack("prod", hosts.prod);
            fs.writeFileSync(path.join(projectDir, "retention.yml"), "default:\n  keepNewest: 0\n  keepYoungerThanDays: 0\n");
            for (const workspace of ["dev", "prod"] as const) {
                fs.rmSync(path.join(hosts[workspace].deployRoot, "rednaw"), { recursive: true, force: true });
            }
            writeRecords("prod", "hello-world", "d1", ["d1"]);
            writeRecords("dev", "hello-world", "d4", ["d2", "d4"]);
            // Dropped from iac:apps but still running on dev's host.
            writeRecords("dev", "old-app", "d3", ["d3"]);
        });
        after(async () => {
            docker("rm", "-f", `handmade-${flavour}`, `alias-${flavour}`);
            await registry?.stop();
            fs.rmSync(registryDir, { recursive: true, force: true });
            fs.rmSync(projectDir, { recursive: true, force: true });
        });

        it("keeps what prod runs, dev's history, an app dropped from iac:apps and a container started by hand", () => {
            const result = cleanup(["--json", "--history", "1"]);
            assert.strictEqual(result.status, 0, result.stderr);
            const plan = JSON.parse(result.stdout) as Decision[];
            const byDigest = (name: string) => plan.find((d) => d.digest === digests[name]);
            assert.deepStrictEqual(byDigest("d1")?.reasons, ["deployed in prod", "in prod history"]);
            assert.deepStrictEqual(byDigest("d4")?.reasons, ["deployed in dev", "in dev history"]);
            assert.deepStrictEqual(byDigest("d3")?.reasons, ["deployed in dev (old-app, not in iac:apps)", "in dev history (old-app, not in iac:apps)"]);
            assert.strictEqual(byDigest("d2")?.decision, "delete", "beyond --history 1");
            assert.deepStrictEqual(byDigest("d0")?.reasons, ["delete: not referenced, older than 0d, not among the newest 0"]);
            // Its tag moved on, so the registry lists it under no tag: nothing proposes it, and the container protects it.
            assert.strictEqual(byDigest("handmade"), undefined);
            const deeper = JSON.parse(cleanup(["--json", "--history", "3"]).stdout) as Decision[];
            assert.deepStrictEqual(deeper.find((d) => d.digest === digests.d2)?.reasons, ["in dev history"]);
        });

        it("protects, in every repository, the digest of a container pulled through another name of the registry", () => {
            const plan = JSON.parse(cleanup(["--json"]).stdout) as Decision[];
            assert.deepStrictEqual(plan.find((d) => d.digest === digests.alias)?.reasons,
                ["dev", "prod"].map((workspace) => `container on ${workspace}'s host (as ${aliasName})`));
        });

        it("protects the digest of a container made by hand and never started (docker ps -a lists it)", async () => {
            const references = await gatherReferences(sources(), registry.address, 3);
            assert.deepStrictEqual(references.get(`${repository}@${digests.handmade}`), ["container on dev's host", "container on prod's host"]);
        });

        it("refuses, deleting nothing, a stack without iac:org, a missing deploy root, and unusable records", async () => {
            const refused = (args: string[], expected: RegExp) => {
                const result = cleanup(["--apply", ...args]);
                assert.strictEqual(result.status, 1, result.stdout);
                assert.match(result.stderr, expected);
            };
            const broken = ["--workspaces", "dev,broken", "--identity", `broken=${hosts.prod.privateKeyFile}`];
            try {
                writeStack("broken", hosts.prod, { "iac:org": undefined });
                refused(broken, /iac:org: not set[\s\S]*Nothing was deleted/);
                writeStack("broken", hosts.prod, { "iac:deployRoot": path.join(hosts.prod.deployRoot, "gone") });
                refused(broken, /cannot read the deploy records of workspace broken: [\s\S]*the deploy root \S*gone does not exist on this host/);
            } finally {
                fs.rmSync(path.join(projectDir, "Pulumi.broken.yaml"));
            }

            const info = path.join(appDir("prod", "hello-world"), "deploy-info.yml");
            const good = fs.readFileSync(info, "utf8");
            for (const [bad, expected] of [
                [good.replace(/^digest: .*$/m, "digest: null"), /deploy-info\.yml on .* \(workspace prod\), line \d+: digest must be text, not null/],
                [good.replace(/^digest: (sha256:[0-9a-f]{12}).*$/m, "digest: $1"), /line \d+: invalid digest "sha256:[0-9a-f]{12}"/],
                [good.replace(/^image: .*$/m, `image: ${repository}`), /line \d+: invalid image "rednaw\/hello-world": expected registry\/repository/],
            ] as const) {
                fs.writeFileSync(info, bad);
                refused([], expected);
            }
            fs.writeFileSync(info, good);
            const history = path.join(appDir("dev", "hello-world"), "deploy-history.yml");
            const goodHistory = fs.readFileSync(history, "utf8");
            fs.writeFileSync(history, `${goodHistory}---\ndigest: [unclosed\n`);
            refused([], /deploy-history\.yml on .* \(workspace dev\), line \d+: not valid YAML/);
            fs.writeFileSync(history, goodHistory);
            await unchanged();
        });

        it("spares a digest deployed between plan and apply", async () => {
            const policy = loadPolicy(path.join(projectDir, "retention.yml"));
            const now = new Date();
            const plan = planCleanup(await inventory(client), await gatherReferences(sources(), registry.address, 3), policy, now);
            assert.deepStrictEqual(deleteCandidates(plan), ["d0", movedTag].sort());
            writeRecords("dev", "hello-world", "d0", ["d2", "d4", "d0"]);
            const result = await applyPlan(client, plan, policy, now, () => gatherReferences(sources(), registry.address, 3));
            assert.deepStrictEqual(result.spared.map((d) => [d.tags[0], d.reasons[0]]), [["d0", "deployed in dev"]]);
            writeRecords("dev", "hello-world", "d4", ["d2", "d4"]);
            await unchanged();
        });

        it("after --apply, the documented garbage collection keeps a multi-arch index and a deployed digest whose tag moved pullable", async () => {
            const pusher = new TestPusher(registry.address);
            const platforms = [await pusher.pushImage(repository, [], { platform: "linux/amd64" }), await pusher.pushImage(repository, [], { platform: "linux/arm64/v8" })];
            digests.multi = await pusher.pushIndex(repository, ["multi"], platforms);
            fs.appendFileSync(path.join(projectDir, "retention.yml"), "  keepTags: [multi]\n");
            // Deployed in prod by its tag, which then moves to another image: the deployed digest has no tag left.
            digests.moved = (await pusher.pushImage(repository, ["moving"], { labels: { "org.opencontainers.image.created": daysAgo(400) } })).digest;
            writeRecords("prod", "hello-world", "moved", ["d1", "moved"]);
            await pusher.pushImage(repository, ["moving"], { labels: { "org.opencontainers.image.created": daysAgo(400) } });
            const d0Blobs = JSON.parse((await (await fetch(`http://${registry.address}/v2/${repository}/manifests/${digests.d0}`,
                { headers: { accept: manifestType } })).text())) as { layers: { digest: string }[] };

            const applied = cleanup(["--apply"]);
            assert.strictEqual(applied.status, 0, applied.stderr);
            assert.match(applied.stdout, new RegExp(`deleted ${repository}@${digests.d0} \\(d0\\)`));
            assert.match(applied.stdout, /registry garbage-collect \/etc\/docker\/registry\/config\.yml\n\(never --delete-untagged/);

            // The documented step: the registry stopped, plain garbage-collect, started again on the same storage.
            await registry.stop();
            execFileSync(registryBinary(flavour), ["garbage-collect", path.join(registryDir, "config.yml")], { encoding: "utf8", stdio: "pipe" });
            // A fresh log: the old one's "listening on" line would pass for the new process being ready.
            fs.rmSync(registry.logFile);
            registry = await startRegistry({ flavour, dir: registryDir, port: registry.port });

            for (const name of ["multi", "moved", "d1", "d3", "d4", "handmade", "alias"]) {
                await pullCompletely(registry.address, repository, digests[name]);
            }
            assert.ok(!(await exists("d0")), "d0 deleted");
            assert.strictEqual((await fetch(`http://${registry.address}/v2/${repository}/blobs/${d0Blobs.layers[0].digest}`)).status, 404,
                "the garbage collection reclaimed d0's layer");
        });

        it("keeps the digest of a deploy waiting on its app's lock through --apply, and the deploy then runs it", async () => {
            // A rollback to an image nothing else names: no record, no container, no keep rule.
            const rollback = app.build(`${registry.address}/${repository}`, `rollback target on ${flavour}`);
            digests.rollback = rollback.digest;
            const location: AppLocation = { app: "inflight", workspace: "dev", org: "rednaw", deployRoot: hosts.dev.deployRoot };
            const dir = appDir("dev", location.app);
            const policy = loadPolicy(path.join(projectDir, "retention.yml"));
            const now = new Date();
            const stale = planCleanup(await inventory(client), await gatherReferences(sources(), registry.address, 3), policy, now)
                .filter((d) => d.digest === rollback.digest);
            assert.deepStrictEqual(stale.map((d) => d.decision), ["delete"], "before the deploy is staged, nothing keeps it");

            // Another deploy holds the app's lock, the way the deploy phase takes it.
            fs.mkdirSync(dir, { recursive: true });
            let holder: ChildProcess | undefined = spawn("flock", [path.join(dir, ".deploy.lock"), "sh", "-c", "echo locked; exec cat"],
                { stdio: ["pipe", "pipe", "inherit"] });
            const release = async () => {
                const held = holder;
                holder = undefined;
                if (held && held.exitCode === null) {
                    held.stdin!.end();
                    await new Promise((resolve) => held.once("exit", resolve));
                }
            };
            const request = deployRequest(rollback, { registry: registry.address, location, port: await freePort() });
            let deploying: ReturnType<typeof runOverSsh> | undefined;
            try {
                await new Promise<void>((resolve, reject) => {
                    holder!.stdout!.once("data", () => resolve());
                    holder!.once("exit", (code) => reject(new Error(`flock exited with ${code} before it held the lock`)));
                });
                deploying = runOverSsh(hosts.dev, request.script, request.stdin);
                // Staged once its phase has started (and waits on the lock): the job's log exists from then on.
                const staged = path.join(dir, "staged");
                const startedJob = () => (fs.existsSync(staged) ? fs.readdirSync(staged) : []).find((name) => fs.existsSync(path.join(staged, name, "log")));
                const since = Date.now();
                let job: string | undefined;
                while ((job = startedJob()) === undefined) {
                    assert.ok(Date.now() - since < 30_000, "the deploy staged its job within 30 s");
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                const reason = `deploy staged on dev's host (inflight, ${job}, app lock held)`;

                const plan = JSON.parse(cleanup(["--json"]).stdout) as Decision[];
                assert.deepStrictEqual(plan.find((d) => d.digest === rollback.digest)?.reasons, [reason]);
                // The plan made before the deploy was staged: the references read again just before deleting spare it.
                const result = await applyPlan(client, stale, policy, now, () => gatherReferences(sources(), registry.address, 3));
                assert.deepStrictEqual([result.deleted, result.spared.map((d) => d.reasons)], [[], [[reason]]]);
                // The reproduction: registry:cleanup --apply while the rollback waits.
                const applied = cleanup(["--apply", "--json"]);
                assert.strictEqual(applied.status, 0, applied.stderr);
                assert.ok(!(JSON.parse(applied.stdout) as { deleted: Decision[] }).deleted.some((d) => d.digest === rollback.digest));

                await release();
                const deployed = await deploying;
                assert.strictEqual(deployed.status, 0, deployed.stderr);
                assert.ok(await exists("rollback"));
            } finally {
                await release();
                await deploying;
                const containers = docker("ps", "-aq", "--filter", `label=${composeLabels.project}=${composeProject(location)}`);
                if (containers !== "") {
                    docker("rm", "-f", ...containers.split("\n"));
                }
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("prunes tags without undoing retention, re-reading references just before removing", async () => {
            const pusher = new TestPusher(registry.address);
            const manifestOf = async (name: string) => Buffer.from(await (await fetch(`http://${registry.address}/v2/${repository}/manifests/${digests[name]}`,
                { headers: { accept: manifestType } })).arrayBuffer());
            for (const tag of ["release-7", "d4-alias"]) {
                await pusher.putManifest(repository, tag, manifestType, await manifestOf(tag === "release-7" ? "d3" : "d4"));
            }
            fs.writeFileSync(path.join(projectDir, "retention.yml"), "default:\n  keepNewest: 0\n  keepYoungerThanDays: 0\n  keepTags: ['release-.*']\n");
            const result = cleanup(["--prune-tags", "release-.*|d4.*|d3", "--apply"]);
            if (flavour === "v2.8") {
                assert.strictEqual(result.status, 1);
                assert.match(result.stderr, /registry 127\.0\.0\.1:\d+ cannot delete tags: this registry version has no tag delete/);
                assert.doesNotMatch(result.stderr, /storage\.delete\.enabled/);
                return;
            }
            assert.strictEqual(result.status, 0, result.stderr);
            const tags = (await client.listTags(repository)).sort();
            assert.ok(tags.includes("release-7"), "the keep pattern keeps d3 by release-7");
            assert.match(result.stdout, /release-7 \(\w+\) kept: the keep pattern/);
            assert.ok(!tags.includes("d3"), "d3 keeps release-7, so its other tag goes");
            assert.ok(tags.includes("d4") !== tags.includes("d4-alias"), `exactly one of d4's tags is left: ${tags}`);

            // A tag that moves between the plan and the removal is not removed.
            const policy = loadPolicy(path.join(projectDir, "retention.yml"));
            const replan = async () => planTagPrune(planCleanup(await inventory(client), await gatherReferences(sources(), registry.address, 3), policy, new Date()), /^d1$/, policy);
            const prunes = await replan();
            assert.deepStrictEqual(prunes.map((p) => [p.tag, p.action]), [["d1", "keep"]], "d1's last tag stays while prod's history keeps it");
            await pusher.putManifest(repository, "d1-extra", manifestType, await manifestOf("d1"));
            const planned = planTagPrune(planCleanup(await inventory(client), await gatherReferences(sources(), registry.address, 3), policy, new Date()), /^d1$/, policy);
            assert.deepStrictEqual(planned.map((p) => [p.tag, p.action]), [["d1", "remove"]]);
            await pusher.putManifest(repository, "d1", manifestType, await manifestOf("d4"));
            const applied = await applyTagPrune(client, planned, replan);
            assert.deepStrictEqual([applied.removed, applied.spared.map((p) => p.tag)], [[], ["d1"]]);
        });
    }
});
