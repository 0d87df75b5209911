// The overview against real parts: Registry v3 for the listing (two tags on one digest, a tag deleted
// mid-listing, the digest cache), and `npm run images:overview` reading deploy-info.yml over real SSH.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { listOverview } from "../../components/model/overview-listing";
import { RegistryClient } from "../../components/registry/client";
import { listRepositoryTags } from "../../components/registry/listing";
import { appDir } from "../../components/remote/layout";
import { RegistryServer, startRegistry } from "../../local/registry";
import { SshHost, freePort, startSshHost } from "../../local/sshd";
import { PushedImage, TestPusher } from "../helpers/push";
import { runOperatorCommand } from "../helpers/operator-command";

describe("overview against Registry v3 and a real SSH host", function () {
    this.timeout(180_000);
    const repository = "rednaw/hello-world";
    let registry: RegistryServer;
    let pusher: TestPusher;
    let older: PushedImage;
    let newer: PushedImage;
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-cache-"));

    before(async () => {
        registry = await startRegistry({ flavour: "v3" });
        pusher = new TestPusher(registry.address);
        older = await pusher.pushImage(repository, ["eb53023"], { labels: {
            "org.opencontainers.image.description": "initial deploy", "org.opencontainers.image.created": "2026-01-25T01:01:33Z" } });
        newer = await pusher.pushImage(repository, ["6350192", "stable"], { labels: {
            "org.opencontainers.image.description": "add healthcheck", "org.opencontainers.image.created": "2026-01-25T01:10:00Z" } });
    });
    after(async () => {
        await registry?.stop();
        fs.rmSync(cacheDir, { recursive: true, force: true });
    });

    it("marks every tag on the deployed digest, newest first", async () => {
        const listing = await listOverview({ registry: registry.address, repository, insecure: true, cacheDir }, { digest: newer.digest, tag: null });
        assert.deepStrictEqual(listing.map((t) => [t.tag, t.deployed]), [["6350192", true], ["stable", true], ["eb53023", false]]);
        assert.strictEqual(listing[2].digest, older.digest);
    });

    it("costs one request per tag (plus the tag list) when the cache is warm", async () => {
        const before = registry.requestCount();
        await listOverview({ registry: registry.address, repository, insecure: true, cacheDir }, null);
        assert.strictEqual(registry.requestCount() - before, 3 + 1, "a manifest per tag and the tag list, no config blob");
    });

    /** Runs `body` with an arm64-only index tagged `arm64only` beside the good tags, then deletes that tag again. */
    async function withArm64OnlyTag(body: (index: string) => Promise<void>): Promise<void> {
        const arm64 = await pusher.pushImage(repository, [], { platform: "linux/arm64", labels: {
            "org.opencontainers.image.description": "arm64 build", "org.opencontainers.image.created": "2026-01-25T01:20:00Z" } });
        const index = await pusher.pushIndex(repository, ["arm64only"], [arm64]);
        try {
            await body(index);
        } finally {
            const deleted = await fetch(`http://${registry.address}/v2/${repository}/manifests/arm64only`, { method: "DELETE" });
            assert.strictEqual(deleted.status, 202, "Registry v3 deletes a tag");
        }
    }

    it("lists a tag whose image has no linux/amd64 as one row saying why, the good rows as before", async () => {
        await withArm64OnlyTag(async (index) => {
            const listing = await listOverview({ registry: registry.address, repository, insecure: true, cacheDir }, { digest: newer.digest, tag: null });
            assert.deepStrictEqual(listing.map((t) => [t.tag, t.deployed, t.description]), [
                ["6350192", true, "add healthcheck"], ["stable", true, "add healthcheck"], ["eb53023", false, "initial deploy"],
                ["arm64only", false, null],
            ]);
            assert.deepStrictEqual(listing[3], {
                repository, tag: "arm64only", digest: index, created: null, description: null, revision: null, source: null,
                unreadable: "no linux/amd64 image in this index: linux/arm64", deployed: false,
            });
            // The same tag read for the platform it was built for is an ordinary row.
            const forArm64 = await listOverview({ registry: registry.address, repository, insecure: true, platform: "linux/arm64", cacheDir }, null);
            const arm64Row = forArm64.find((t) => t.tag === "arm64only")!;
            assert.deepStrictEqual([arm64Row.description, arm64Row.unreadable], ["arm64 build", undefined]);
        });
    });

    it("shows a tag deleted between listing and resolving as gone, not as a crash", async () => {
        const doomed = await pusher.pushImage("race/app", ["keep", "doomed"]);
        await pusher.pushImage("race/app", ["other"]);
        class RacingClient extends RegistryClient {
            async listTags(name: string): Promise<string[]> {
                const tags = await super.listTags(name);
                await fetch(`http://${registry.address}/v2/race/app/manifests/doomed`, { method: "DELETE" });
                return tags;
            }
        }
        const rows = await listRepositoryTags(new RacingClient({ registry: registry.address, insecure: true }), "race/app");
        const byTag = Object.fromEntries(rows.map((r) => [r.tag, r.digest]));
        assert.strictEqual(byTag.doomed, null);
        assert.strictEqual(byTag.keep, doomed.digest);
    });

    describe("npm run images:overview", () => {
        let ssh: SshHost;
        let projectDir: string;

        before(async () => {
            ssh = await startSshHost();
            projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-stackfile-"));
            fs.writeFileSync(path.join(projectDir, "Pulumi.staging.yaml"), YAML.stringify({ config: {
                "iac:apps": ["hello-world"], "iac:registry": registry.address, "iac:registryInsecure": true,
                "iac:sshHost": ssh.host, "iac:sshPort": ssh.port, "iac:sshUser": ssh.user, "iac:org": "rednaw",
                "iac:deployRoot": ssh.deployRoot, "hello-world:image": repository, "hello-world:tag": "eb53023",
            } }));
            const dir = appDir({ app: "hello-world", workspace: "staging", org: "rednaw", deployRoot: ssh.deployRoot });
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "deploy-info.yml"), YAML.stringify({
                app: "hello-world", workspace: "staging", image: `${registry.address}/${repository}`, tag: "eb53023",
                digest: older.digest, description: "initial deploy", deployed_at: "2026-01-25T01:12:00Z", deployed_by: "wander@casa",
            }));
        });
        after(async () => {
            await ssh?.stop();
            fs.rmSync(projectDir, { recursive: true, force: true });
        });

        const run = (args: string[]) => runOperatorCommand("images:overview", args);

        it("reads the deployed digest from the host and marks it", () => {
            const result = run(["staging", repository, "--identity", ssh.privateKeyFile, "--project-dir", projectDir]);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.ok(result.stdout.includes([
                "TAG        CREATED              DESCRIPTION",
                "---        -------              -----------",
                "  6350192  2026-01-25 01:10     add healthcheck",
                "  stable   2026-01-25 01:10     add healthcheck",
                "→ eb53023  2026-01-25 01:01     initial deploy",
            ].join("\n")), result.stdout);
            const json = run(["staging", repository, "--identity", ssh.privateKeyFile, "--project-dir", projectDir, "--json"]);
            assert.deepStrictEqual((JSON.parse(json.stdout) as { tag: string; deployed: boolean }[]).map((t) => [t.tag, t.deployed]),
                [["6350192", false], ["stable", false], ["eb53023", true]]);
        });

        it("shows a tag whose image has no linux/amd64 as one row saying why, in the table and in JSON", async () => {
            await withArm64OnlyTag(async (index) => {
                const args = ["staging", repository, "--identity", ssh.privateKeyFile, "--project-dir", projectDir];
                const result = run(args);
                assert.strictEqual(result.status, 0, result.stderr);
                assert.ok(result.stdout.includes([
                    "TAG          CREATED              DESCRIPTION",
                    "---          -------              -----------",
                    "  6350192    2026-01-25 01:10     add healthcheck",
                    "  stable     2026-01-25 01:10     add healthcheck",
                    "→ eb53023    2026-01-25 01:01     initial deploy",
                    "  arm64only                       (no linux/amd64 image in this index: linux/arm64)",
                    "",
                    "DEPLOYED: eb53023 at 2026-01-25 01:12 by wander@casa",
                ].join("\n")), result.stdout);
                const json = JSON.parse(run([...args, "--json"]).stdout) as { tag: string; digest: string | null; unreadable?: string }[];
                assert.deepStrictEqual(json.map((t) => [t.tag, t.digest, t.unreadable]), [
                    ["6350192", newer.digest, undefined], ["stable", newer.digest, undefined], ["eb53023", older.digest, undefined],
                    ["arm64only", index, "no linux/amd64 image in this index: linux/arm64"],
                ]);
            });
        });

        it("exits non-zero naming a host it cannot reach, showing nothing partial", async () => {
            const file = path.join(projectDir, "Pulumi.staging.yaml");
            const config = YAML.parse(fs.readFileSync(file, "utf8"));
            const port = await freePort();
            config.config["iac:sshPort"] = port;
            fs.writeFileSync(path.join(projectDir, "Pulumi.broken.yaml"), YAML.stringify(config));
            const result = run(["broken", repository, "--identity", ssh.privateKeyFile, "--project-dir", projectDir]);
            assert.strictEqual(result.status, 1);
            assert.strictEqual(result.stdout, "");
            assert.match(result.stderr, new RegExp(`cannot reach ${ssh.user}@127\\.0\\.0\\.1:${port} over SSH`));
        });
    });
});
