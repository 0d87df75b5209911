// Benchmark (not a test): the language host's launch, as the engine starts it (.tools/bin/pulumi-language-nodejs),
// to the port it prints, against Node's own start to a first line of output in the same run (the floor any
// Node.js host pays), and optionally against another checkout's host.
//   npm run bench:language-host [-- --rounds 20 --baseline DIR]
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";

const projectRoot = path.resolve(__dirname, "..");
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Milliseconds from spawning `argv` to its first output on stdout, and the CPU it had used by then. */
async function launch(argv: string[]): Promise<{ ms: number; cpuMs: number }> {
    const start = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`${argv[0]} exited (${code}) before printing anything`)));
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    // utime + stime in clock ticks (100 per second here), fields 14 and 15 of /proc/PID/stat.
    const fields = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ");
    const cpuMs = (Number(fields[11]) + Number(fields[12])) * 10;
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    return { ms, cpuMs };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { rounds: { type: "string", default: "20" }, baseline: { type: "string" } } });
    const hostOf = (root: string) => path.join(root, ".tools", "bin", "pulumi-language-nodejs");
    const variants: [string, string[]][] = [
        // Stays alive after its line, as the host does, so both are measured the same way.
        ["node alone", [process.execPath, "-e", "console.log(1); setTimeout(() => undefined, 60_000)"]],
        ["language host", [hostOf(projectRoot)]],
        ...(values.baseline ? [["baseline host", [hostOf(path.resolve(values.baseline))]] as [string, string[]]] : []),
    ];
    const times = new Map(variants.map(([name]) => [name, { ms: [] as number[], cpuMs: [] as number[] }]));
    // Interleaved, so a burst of load elsewhere on the machine falls on all of them alike.
    for (let round = 0; round < Number(values.rounds); round++) {
        for (const [name, argv] of variants) {
            const { ms, cpuMs } = await launch(argv);
            times.get(name)!.ms.push(ms);
            times.get(name)!.cpuMs.push(cpuMs);
        }
    }
    const floor = median(times.get("node alone")!.ms);
    for (const [name, { ms, cpuMs }] of times) {
        console.log(`bench: ${name}, launch to first line: median ${median(ms).toFixed(0)} ms (min ${Math.min(...ms).toFixed(0)}), ` +
            `CPU ${median(cpuMs).toFixed(0)} ms, ${(median(ms) / floor).toFixed(2)}× node alone` +
            (name === "language host" ? " (target ≤ 150 ms)" : ""));
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
