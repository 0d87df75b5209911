// Benchmark (not a test): the overview of one repository of 1,000 tags over 100 digests on Registry v3,
// cold (empty digest cache) and warm, against skopeo (list-tags, then inspect per tag) in the same run.
//   npm run bench:overview [-- --tags 1000 --digests 100 --skopeo-tags 1000]
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { listOverview } from "../components/overview-listing";
import { mapWithLimit } from "../components/registry/listing";
import { startRegistry } from "../scripts/local/registry";
import { TestPusher } from "../test/helpers/push";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        tags: { type: "string", default: "1000" }, digests: { type: "string", default: "100" },
        "skopeo-tags": { type: "string", default: "1000" },
    } });
    const tagCount = Number(values.tags);
    const digestCount = Number(values.digests);
    const skopeoTags = Math.min(Number(values["skopeo-tags"]), tagCount);
    const repository = "bench/app";
    const registry = await startRegistry({ flavour: "v3" });
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-cache-"));
    try {
        console.log(`bench: pushing ${tagCount} tags over ${digestCount} digests to Registry v3 at ${registry.address}`);
        const pusher = new TestPusher(registry.address);
        const perDigest = Math.ceil(tagCount / digestCount);
        await mapWithLimit(Array.from({ length: digestCount }, (_, i) => i), 8, (i) =>
            pusher.pushImage(repository, Array.from({ length: perDigest }, (_, j) => `v${i}.${j}`).slice(0, tagCount - i * perDigest), {
                labels: {
                    "org.opencontainers.image.description": `build ${i}`,
                    "org.opencontainers.image.created": new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
                },
            }));

        const measure = async (label: string) => {
            const before = registry.requestCount();
            const start = process.hrtime.bigint();
            const listing = await listOverview({ registry: registry.address, repository, insecure: true, deployedDigest: null, cacheDir });
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            const requests = registry.requestCount() - before;
            console.log(`bench: ${label}: ${listing.tags.length} tags in ${seconds.toFixed(2)} s, ${requests} requests (${(requests / listing.tags.length).toFixed(2)} per tag)`);
            return { seconds, requestsPerTag: requests / listing.tags.length };
        };
        const cold = await measure("overview, cold cache");
        const warm = await measure("overview, warm cache");

        if (spawnSync("skopeo", ["--version"]).status !== 0) {
            throw new Error("skopeo is missing: run scripts/install-tools");
        }
        const skopeoStart = process.hrtime.bigint();
        const tags = (JSON.parse(execFileSync("skopeo", ["list-tags", "--tls-verify=false", `docker://${registry.address}/${repository}`],
            { encoding: "utf8" })) as { Tags: string[] }).Tags;
        for (const tag of tags.slice(0, skopeoTags)) {
            execFileSync("skopeo", ["inspect", "--tls-verify=false", `docker://${registry.address}/${repository}:${tag}`], { stdio: "ignore" });
        }
        const skopeoSeconds = Number(process.hrtime.bigint() - skopeoStart) / 1e9 * (tags.length / skopeoTags);
        console.log(`bench: skopeo list-tags + inspect per tag: ${skopeoSeconds.toFixed(2)} s for ${tags.length} tags` +
            (skopeoTags < tags.length ? ` (measured on ${skopeoTags}, scaled)` : ""));
        console.log(`bench: cold overview is ${(skopeoSeconds / cold.seconds).toFixed(1)}× faster than skopeo (target ≥ 10×); ` +
            `warm costs ${warm.requestsPerTag.toFixed(2)} requests per tag (target ≤ 1)`);
    } finally {
        await registry.stop();
        fs.rmSync(cacheDir, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
