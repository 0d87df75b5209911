// Benchmark (not a test): this checkout's registry:overview and another's, alternately on one Registry v3, each run
// with its wall time, the CPU its process used (/usr/bin/time) and the registry's over the same run (/proc). Single
// rows of bench/overview.ts move by seconds on a loaded machine; CPU per process and alternating runs show what a
// change did to our own cost, apart from the registry's and from others on the machine.
//   npm run bench:overview-cpu -- --baseline DIR [--repositories 500 --tags 20 --digests 2 --rounds 3]
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { mapWithLimit } from "../components/registry/listing";
import { startRegistry } from "../local/registry";
import { TestPusher } from "../test/helpers/push";

const projectRoot = path.resolve(__dirname, "..");

const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** Seconds of CPU (user + system) a process has used so far: utime and stime of /proc/PID/stat. */
function cpuSeconds(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Sockets to `port` in TIME_WAIT: a run leaves one per connection it opened (it closes them at its exit, or before). */
function timeWait(port: number): number {
    const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
    return fs.readFileSync("/proc/net/tcp", "utf8").split("\n")
        .filter((line) => line.includes(hexPort) && line.trim().split(/\s+/)[3] === "06").length;
}

const loadAverage = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        baseline: { type: "string" }, repositories: { type: "string", default: "500" }, tags: { type: "string", default: "20" },
        digests: { type: "string", default: "2" }, rounds: { type: "string", default: "3" },
    } });
    if (!values.baseline) {
        throw new Error("--baseline DIR is required: the checkout to compare with");
    }
    const baseline = path.resolve(values.baseline);
    const [repositories, tags, digests] = [Number(values.repositories), Number(values.tags), Number(values.digests)];
    for (const root of [projectRoot, baseline]) {
        execFileSync("npm", ["run", "-s", "build:cli"], { cwd: root, stdio: "inherit" });
    }
    const registry = await startRegistry({ flavour: "v3" });
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-overview-cpu-"));
    try {
        const perDigest = Math.ceil(tags / digests);
        await mapWithLimit(Array.from({ length: repositories }, (_, i) => i), 4, async (i) => {
            const pusher = new TestPusher(registry.address);
            for (let d = 0; d < digests; d++) {
                await pusher.pushImage(`bench/app${i}`, Array.from({ length: perDigest }, (_, j) => `v${d}.${j}`)
                    .slice(0, Math.max(0, tags - d * perDigest)), { labels: {
                    "org.opencontainers.image.description": `build ${d}`,
                    "org.opencontainers.image.created": new Date(Date.UTC(2026, 0, 1, 0, d)).toISOString(),
                } });
            }
        });
        const port = Number(registry.address.split(":")[1]);
        for (let round = 0; round < Number(values.rounds); round++) {
            for (const [name, root] of [["ours", projectRoot], ["baseline", baseline]]) {
                const load = loadAverage();
                const registryBefore = cpuSeconds(registry.pid);
                const waitingBefore = timeWait(port);
                const start = process.hrtime.bigint();
                const result = spawnSync("/usr/bin/time", ["-f", "%U %S", "node", "bin/cli/registry-overview.js",
                    "--registry", registry.address, "--insecure", "--json"],
                { cwd: root, encoding: "utf8", maxBuffer: 1 << 30, env: { ...process.env, XDG_CACHE_HOME: fs.mkdtempSync(path.join(temp, "cache-")) } });
                const wall = Number(process.hrtime.bigint() - start) / 1e9;
                if (result.status !== 0) {
                    throw new Error(`${name}'s registry:overview failed: ${result.stderr}`);
                }
                const [user, system] = result.stderr.trim().split("\n").pop()!.split(" ").map(Number);
                const rows = (JSON.parse(result.stdout) as unknown[]).length;
                console.log(`bench: ${name}, ${rows} rows cold: wall ${wall.toFixed(2)} s, node CPU ${(user + system).toFixed(2)} s ` +
                    `(user ${user.toFixed(2)}, sys ${system.toFixed(2)}), registry CPU ${(cpuSeconds(registry.pid) - registryBefore).toFixed(2)} s, ` +
                    `connections ${timeWait(port) - waitingBefore}, load before ${load}`);
            }
        }
    } finally {
        await registry.stop();
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
