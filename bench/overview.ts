// Benchmark (not a test) of registry:overview as an operator runs it (`npm run registry:overview`, compiled), all in
// one run on Registry v3:
//   - launch to the first request, of the compiled command alone and through npm run;
//   - 1,000 tags over 100 digests in one repository, cold (empty digest cache) and warm, against skopeo
//     (list-tags, then inspect per tag);
//   - 500 repositories of 20 tags each, cold;
//   - 100,000 tags in one repository, cold: time and the process's peak memory.
// With --baseline DIR (another checkout, set up and built: e.g. main before a change), its registry:overview runs
// on the same registries right before ours, each row then comparing the two from one run.
//   npm run bench:overview [-- --tags 1000 --digests 100 --skopeo-tags 1000 --repositories 500 --big-tags 100000
//                              --baseline DIR]
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { mapWithLimit } from "../components/registry/listing";
import { RegistryServer, startRegistry } from "../local/registry";
import { TestPusher } from "../test/helpers/push";

const projectRoot = path.resolve(__dirname, "..");
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Milliseconds from spawning `argv` to its first connection to a port that answers nothing (then it is killed). */
async function launchToFirstRequest(argv: string[]): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
        const start = process.hrtime.bigint();
        const child = spawn(argv[0], [...argv.slice(1), "--registry", `127.0.0.1:${port}`, "--insecure"],
            { cwd: projectRoot, stdio: "ignore", detached: true });
        const connected = await new Promise<bigint>((resolve) => server.once("connection", (socket) => {
            resolve(process.hrtime.bigint());
            socket.destroy();
        }));
        process.kill(-child.pid!, "SIGKILL");
        return Number(connected - start) / 1e6;
    } finally {
        server.close();
    }
}

interface OverviewRun {
    seconds: number;
    peakMiB: number;
    rows: number;
}

/** The whole command as an operator runs it (in `root`, this checkout by default), with its own digest cache. */
function overviewRun(registry: RegistryServer, cacheHome: string, root = projectRoot): OverviewRun {
    const start = process.hrtime.bigint();
    const result = spawnSync("/usr/bin/time", ["-f", "%M", "npm", "run", "-s", "registry:overview", "--",
        "--registry", registry.address, "--insecure", "--json"],
    { cwd: root, encoding: "utf8", maxBuffer: 1 << 30, env: { ...process.env, XDG_CACHE_HOME: cacheHome } });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (result.status !== 0) {
        throw new Error(`registry:overview failed: ${result.stderr}`);
    }
    // /usr/bin/time's last line: the largest resident set of the processes it waited for (node, under npm), KiB.
    const peakKiB = Number(result.stderr.trim().split("\n").pop());
    return { seconds, peakMiB: peakKiB / 1024, rows: (JSON.parse(result.stdout) as unknown[]).length };
}

/**
 * Ours, then the baseline checkout's run on the same registry, described for the row: its time and memory, and ours as a
 * ratio of it. A baseline that fails (say, out of connections) is reported, not fatal: the row still has ours.
 */
function versusBaseline(baseline: string | undefined, registry: RegistryServer, cacheHome: string, ours: () => OverviewRun): [OverviewRun, string] {
    if (!baseline) {
        return [ours(), ""];
    }
    // Ours first: a baseline that opens a connection per request must not leave ours short of ports.
    const run = ours();
    let before: OverviewRun | undefined;
    let failure = "";
    try {
        before = overviewRun(registry, cacheHome, baseline);
    } catch (error) {
        failure = (error as Error).message.split("\n").find((line) => line.includes("registry:overview:")) ?? (error as Error).message;
    }
    return [run, before
        ? `; baseline ${before.seconds.toFixed(2)} s, peak ${before.peakMiB.toFixed(0)} MiB (${(before.seconds / run.seconds).toFixed(1)}× ours)`
        : `; baseline failed: ${failure.slice(0, 200)}`];
}

async function pushTags(registry: RegistryServer, repository: string, tagCount: number, digestCount: number): Promise<void> {
    const pusher = new TestPusher(registry.address);
    const perDigest = Math.ceil(tagCount / digestCount);
    await mapWithLimit(Array.from({ length: digestCount }, (_, i) => i), 8, (i) =>
        pusher.pushImage(repository, Array.from({ length: perDigest }, (_, j) => `v${i}.${j}`).slice(0, Math.max(0, tagCount - i * perDigest)), {
            labels: {
                "org.opencontainers.image.description": `build ${i}`,
                "org.opencontainers.image.created": new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
            },
        }));
}

async function withRegistry(task: (registry: RegistryServer) => Promise<void>): Promise<void> {
    const registry = await startRegistry({ flavour: "v3" });
    try {
        await task(registry);
    } finally {
        await registry.stop();
    }
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        tags: { type: "string", default: "1000" }, digests: { type: "string", default: "100" },
        "skopeo-tags": { type: "string", default: "1000" }, repositories: { type: "string", default: "500" },
        "big-tags": { type: "string", default: "100000" }, baseline: { type: "string" },
    } });
    const baseline = values.baseline === undefined ? undefined : path.resolve(values.baseline);
    const tagCount = Number(values.tags);
    const skopeoTags = Math.min(Number(values["skopeo-tags"]), tagCount);
    if (spawnSync("skopeo", ["--version"]).status !== 0) {
        throw new Error("skopeo is missing: run scripts/install-tools");
    }
    for (const root of [projectRoot, ...(baseline ? [baseline] : [])]) {
        execFileSync("npm", ["run", "-s", "build:cli"], { cwd: root, stdio: "inherit" });
    }
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-overview-"));
    const cacheHome = (name: string) => fs.mkdtempSync(path.join(temp, `${name}-`));
    try {
        const compiled: number[] = [];
        const viaNpm: number[] = [];
        for (let round = 0; round < 5; round++) {
            compiled.push(await launchToFirstRequest(["node", "bin/cli/registry-overview.js"]));
            viaNpm.push(await launchToFirstRequest(["npm", "run", "-s", "registry:overview", "--"]));
        }
        console.log(`bench: registry:overview, launch to first request: median ${median(compiled).toFixed(0)} ms compiled ` +
            `(node bin/cli/registry-overview.js), ${median(viaNpm).toFixed(0)} ms through npm run (target ≤ 300 ms)`);

        await withRegistry(async (registry) => {
            const repository = "bench/app";
            await pushTags(registry, repository, tagCount, Number(values.digests));
            const cache = cacheHome("one");
            const [cold, versus] = versusBaseline(baseline, registry, cacheHome("one-baseline"), () => overviewRun(registry, cache));
            const warm = overviewRun(registry, cache);
            const skopeoStart = process.hrtime.bigint();
            const tags = (JSON.parse(execFileSync("skopeo", ["list-tags", "--tls-verify=false", `docker://${registry.address}/${repository}`],
                { encoding: "utf8" })) as { Tags: string[] }).Tags;
            for (const tag of tags.slice(0, skopeoTags)) {
                execFileSync("skopeo", ["inspect", "--tls-verify=false", `docker://${registry.address}/${repository}:${tag}`], { stdio: "ignore" });
            }
            const skopeo = Number(process.hrtime.bigint() - skopeoStart) / 1e9 * (tags.length / skopeoTags);
            console.log(`bench: npm run registry:overview, ${cold.rows} tags: cold ${cold.seconds.toFixed(2)} s, warm ${warm.seconds.toFixed(2)} s; ` +
                `skopeo list-tags + inspect per tag ${skopeo.toFixed(2)} s${skopeoTags < tags.length ? ` (measured on ${skopeoTags}, scaled)` : ""}: ` +
                `cold is ${(skopeo / cold.seconds).toFixed(1)}× faster (target ≥ 15×)${versus}`);
        });

        await withRegistry(async (registry) => {
            const repositories = Number(values.repositories);
            await mapWithLimit(Array.from({ length: repositories }, (_, i) => i), 4, (i) => pushTags(registry, `bench/app${i}`, 20, 2));
            const [run, versus] = versusBaseline(baseline, registry, cacheHome("many-baseline"), () => overviewRun(registry, cacheHome("many")));
            console.log(`bench: npm run registry:overview, ${repositories} repositories × 20 tags (${run.rows} rows), cold: ` +
                `${run.seconds.toFixed(2)} s, peak ${run.peakMiB.toFixed(0)} MiB (target ≤ 5 s)${versus}`);
        });

        await withRegistry(async (registry) => {
            const bigTags = Number(values["big-tags"]);
            await pushTags(registry, "bench/big", bigTags, 100);
            const [run, versus] = versusBaseline(baseline, registry, cacheHome("big-baseline"), () => overviewRun(registry, cacheHome("big")));
            console.log(`bench: npm run registry:overview, ${run.rows} tags in one repository, cold: ${run.seconds.toFixed(2)} s, ` +
                `peak ${run.peakMiB.toFixed(0)} MiB${versus}`);
        });
    } finally {
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
