// Benchmark (not a test): a cleanup plan over 5,000 manifests in 50 repositories on Registry v3, with one
// workspace read over SSH, cold (empty digest cache) and warm.   npm run bench:cleanup [-- --repos 50 --per-repo 100]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { inventory } from "../components/cleanup/cleanup";
import { planCleanup } from "../components/cleanup/plan";
import { defaultRule } from "../components/cleanup/policy";
import { gatherReferences } from "../components/cleanup/references";
import { DigestCache } from "../components/registry/cache";
import { RegistryClient } from "../components/registry/client";
import { mapWithLimit } from "../components/registry/listing";
import { parseWorkspace } from "../components/model/workspace";
import { startDockerd } from "../local/dockerd";
import { startRegistry } from "../local/registry";
import { startSshHost } from "../local/sshd";
import { TestPusher } from "../test/helpers/push";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { repos: { type: "string", default: "50" }, "per-repo": { type: "string", default: "100" } } });
    const repos = Number(values.repos);
    const perRepo = Number(values["per-repo"]);
    const registry = await startRegistry({ flavour: "v3" });
    // Cleanup reads the host's containers too, so the host needs a Docker engine.
    const dockerd = await startDockerd();
    const ssh = await startSshHost({ dockerHost: dockerd.host });
    fs.mkdirSync(path.join(ssh.deployRoot, "rednaw"));
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-cache-"));
    try {
        console.log(`bench: pushing ${repos * perRepo} manifests in ${repos} repositories to Registry v3 at ${registry.address}`);
        const pusher = new TestPusher(registry.address);
        const jobs = Array.from({ length: repos * perRepo }, (_, i) => ({ repo: `bench/app-${Math.floor(i / perRepo)}`, n: i % perRepo }));
        await mapWithLimit(jobs, 16, ({ repo, n }) => pusher.pushImage(repo, [`t${n}`], { labels: {
            "org.opencontainers.image.created": new Date(Date.UTC(2025, 0, 1) + n * 3_600_000).toISOString(),
            "org.opencontainers.image.description": `build ${n}`,
        } }));
        const source = { privateKey: ssh.privateKey, workspace: parseWorkspace("dev", {
            "iac:apps": ["hello-world"], "iac:registry": registry.address, "iac:sshHost": ssh.host, "iac:sshPort": ssh.port,
            "iac:sshUser": ssh.user, "iac:org": "rednaw", "iac:deployRoot": ssh.deployRoot,
            "hello-world:image": "rednaw/hello-world", "hello-world:tag": "t0",
        }) };
        const plan = async (label: string) => {
            const before = registry.requestCount();
            const start = process.hrtime.bigint();
            const client = new RegistryClient({ registry: registry.address, insecure: true, cache: new DigestCache(cacheDir) });
            const references = await gatherReferences([source], registry.address, 3);
            const decisions = planCleanup(await inventory(client), references, { default: defaultRule, repositories: {} }, new Date());
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            const deletions = decisions.filter((d) => d.decision === "delete").length;
            console.log(`bench: plan, ${label}: ${decisions.length} digests (${deletions} to delete) in ${seconds.toFixed(2)} s, ` +
                `${registry.requestCount() - before} registry requests`);
            return seconds;
        };
        await plan("cold cache");
        const warm = await plan("warm cache");
        console.log(`bench: warm plan ${warm.toFixed(2)} s (target < 5 s)`);
    } finally {
        await ssh.stop();
        await dockerd.stop();
        await registry.stop();
        fs.rmSync(cacheDir, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
