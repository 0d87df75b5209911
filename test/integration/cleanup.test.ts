// registry:cleanup on Registry v3 with two workspaces (dev, prod) on SSH test hosts: a digest deployed only
// in prod survives, --apply deletes exactly the plan's candidates, an unreadable workspace stops everything,
// and a deploy between plan and apply wins.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { applyPlan, inventory } from "../../components/cleanup/cleanup";
import { Decision, planCleanup } from "../../components/cleanup/plan";
import { loadPolicy } from "../../components/cleanup/policy";
import { gatherReferences } from "../../components/cleanup/references";
import { RegistryClient } from "../../components/registry/client";
import { appDir } from "../../components/remote/scripts";
import { RegistryServer, startRegistry } from "../../scripts/local/registry";
import { SshHost, freePort, startSshHost } from "../../scripts/local/sshd";
import { TestPusher } from "../helpers/push";

const projectRoot = path.resolve(__dirname, "..", "..");
const repository = "rednaw/hello-world";

describe("registry:cleanup against Registry v3 and two workspaces", function () {
    this.timeout(180_000);
    let registry: RegistryServer;
    let hosts: Record<"dev" | "prod", SshHost>;
    let projectDir: string;
    const digests: Record<string, string> = {};
    let client: RegistryClient;

    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    const record = (workspace: string, name: string) => ({
        app: "hello-world", workspace, image: `${registry.address}/${repository}`, tag: name, digest: digests[name],
        description: name, deployed_at: daysAgo(1), deployed_by: "wander@casa",
    });
    const writeRecords = (workspace: "dev" | "prod", current: string, history: string[]) => {
        const dir = appDir({ app: "hello-world", workspace, org: "rednaw", deployRoot: hosts[workspace].deployRoot });
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "deploy-info.yml"), YAML.stringify(record(workspace, current)));
        fs.writeFileSync(path.join(dir, "deploy-history.yml"), history.map((name) => `---\n${YAML.stringify(record(workspace, name))}`).join(""));
    };
    const exists = async (name: string) =>
        (await fetch(`http://${registry.address}/v2/${repository}/manifests/${digests[name]}`,
            { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })).status === 200;
    const cleanup = (args: string[]) => spawnSync("npm", ["run", "-s", "registry:cleanup", "--",
        "--project-dir", projectDir, "--identity", `dev=${hosts.dev.privateKeyFile}`, "--identity", `prod=${hosts.prod.privateKeyFile}`, ...args],
    { cwd: projectRoot, encoding: "utf8", timeout: 90_000 });
    const sources = () => (["dev", "prod"] as const).map((workspace) => ({
        workspace, config: YAML.parse(fs.readFileSync(path.join(projectDir, `Pulumi.${workspace}.yaml`), "utf8")).config,
        privateKey: hosts[workspace].privateKey,
    }));

    before(async () => {
        registry = await startRegistry({ flavour: "v3" });
        hosts = { dev: await startSshHost(), prod: await startSshHost() };
        client = new RegistryClient({ registry: registry.address, insecure: true });
        const pusher = new TestPusher(registry.address);
        // d1 oldest … d6 newest, all older than the 30 days the policy keeps.
        for (const [i, name] of ["d1", "d2", "d3", "d4", "d5", "d6"].entries()) {
            digests[name] = (await pusher.pushImage(repository, [name], { labels: {
                "org.opencontainers.image.created": daysAgo(200 - i * 10), "org.opencontainers.image.description": `build ${name}`,
            } })).digest;
        }
        projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-cleanup-"));
        for (const workspace of ["dev", "prod"] as const) {
            fs.writeFileSync(path.join(projectDir, `Pulumi.${workspace}.yaml`), YAML.stringify({ config: {
                "iac:apps": ["hello-world"], "iac:registry": registry.address, "iac:registryInsecure": true,
                "iac:sshHost": hosts[workspace].host, "iac:sshPort": hosts[workspace].port, "iac:sshUser": hosts[workspace].user,
                "iac:org": "rednaw", "iac:deployRoot": hosts[workspace].deployRoot, "hello-world:image": repository,
            } }));
        }
        fs.writeFileSync(path.join(projectDir, "retention.yml"), "default:\n  keepNewest: 1\n  keepYoungerThanDays: 30\n");
        writeRecords("prod", "d1", ["d1"]);
        writeRecords("dev", "d6", ["d2", "d6"]);
    });
    after(async () => {
        await registry?.stop();
        await hosts?.dev.stop();
        await hosts?.prod.stop();
        fs.rmSync(projectDir, { recursive: true, force: true });
    });

    it("plans by digest with a reason for each, keeping what prod runs and dev's history", () => {
        const result = cleanup(["--json", "--history", "1"]);
        assert.strictEqual(result.status, 0, result.stderr);
        const plan = JSON.parse(result.stdout) as Decision[];
        const decisions = Object.fromEntries(plan.map((d) => [d.tags[0], [d.decision, ...d.reasons]]));
        assert.deepStrictEqual(decisions.d1, ["keep", "deployed in prod", "in prod history"]);
        assert.deepStrictEqual(decisions.d6, ["keep", "deployed in dev", "in dev history", "newest 1"]);
        assert.deepStrictEqual([decisions.d2[0], decisions.d3[0], decisions.d4[0], decisions.d5[0]], ["delete", "delete", "delete", "delete"]);
        const deeper = JSON.parse(cleanup(["--json", "--history", "3"]).stdout) as Decision[];
        assert.deepStrictEqual(deeper.find((d) => d.tags[0] === "d2")?.reasons, ["in dev history"]);
    });

    it("stops without deleting anything when a workspace cannot be read", async () => {
        const broken = YAML.parse(fs.readFileSync(path.join(projectDir, "Pulumi.prod.yaml"), "utf8"));
        broken.config["iac:sshPort"] = await freePort();
        fs.writeFileSync(path.join(projectDir, "Pulumi.broken.yaml"), YAML.stringify(broken));
        const result = cleanup(["--apply", "--workspaces", "dev,prod,broken", "--identity", hosts.prod.privateKeyFile]);
        fs.rmSync(path.join(projectDir, "Pulumi.broken.yaml"));
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /cannot read the deploy records of hello-world in workspace broken: cannot reach .* connection refused/);
        for (const name of ["d1", "d2", "d3", "d4", "d5", "d6"]) {
            assert.ok(await exists(name), `${name} still there`);
        }
    });

    it("spares a digest deployed between plan and apply", async () => {
        const policy = loadPolicy(path.join(projectDir, "retention.yml"));
        const now = new Date();
        const plan = planCleanup(await inventory(client), await gatherReferences(sources(), 3), policy, now);
        assert.deepStrictEqual(plan.filter((d) => d.decision === "delete").map((d) => d.tags[0]).sort(), ["d3", "d4", "d5"]);
        writeRecords("dev", "d3", ["d2", "d6", "d3"]);
        const result = await applyPlan(client, plan, policy, now, () => gatherReferences(sources(), 3));
        assert.deepStrictEqual(result.deleted.map((d) => d.tags[0]).sort(), ["d4", "d5"]);
        assert.deepStrictEqual(result.spared.map((d) => [d.tags[0], d.reasons[0]]), [["d3", "deployed in dev"]]);
        assert.ok(await exists("d3"));
        assert.ok(!(await exists("d4")) && !(await exists("d5")));
    });

    it("--apply deletes exactly the plan's candidates and says how to reclaim the blobs", async () => {
        digests.d0 = (await new TestPusher(registry.address).pushImage(repository, ["d0"], { labels: {
            "org.opencontainers.image.created": daysAgo(400) } })).digest;
        const dry = JSON.parse(cleanup(["--json"]).stdout) as Decision[];
        assert.deepStrictEqual(dry.filter((d) => d.decision === "delete").map((d) => d.tags[0]), ["d0"]);
        const applied = cleanup(["--apply"]);
        assert.strictEqual(applied.status, 0, applied.stderr);
        assert.match(applied.stdout, new RegExp(`deleted ${repository}@${digests.d0} \\(d0\\)`));
        assert.match(applied.stdout, /registry garbage-collect --delete-untagged/);
        assert.ok(!(await exists("d0")));
        for (const name of ["d1", "d2", "d3", "d6"]) {
            assert.ok(await exists(name), `${name} kept`);
        }
    });

    it("prunes tags only, never the last tag of a kept digest", async () => {
        await new TestPusher(registry.address).putManifest(repository, "d6-alias",
            "application/vnd.oci.image.manifest.v1+json",
            Buffer.from(await (await fetch(`http://${registry.address}/v2/${repository}/manifests/${digests.d6}`,
                { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })).arrayBuffer()));
        const result = cleanup(["--prune-tags", "d6.*", "--apply"]);
        assert.strictEqual(result.status, 0, result.stderr);
        const tags = (await client.listTags(repository)).sort();
        assert.ok(tags.includes("d6") !== tags.includes("d6-alias"), `exactly one of d6's tags is left: ${tags}`);
        assert.ok(await exists("d6"));
    });
});
