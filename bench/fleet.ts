// Benchmark (not a test): what each command costs as a workspace grows, N apps on one host against one app, all
// in one run on this machine. Per size and command: wall seconds, SSH logins, registry requests, and the CPU
// seconds of the pulumi process tree (the engine, the language host, the provider processes: the steadier figure
// on a shared machine), medians over the rounds; and the state's size. The apps are copies of hello-world on
// ports of their own, in a copy of the checkout with apps/app-NN/ added, so the checkout itself is never touched.
//   npm run bench:fleet [-- --sizes 1,5,20] [--rounds 3] [--checkout DIR] [--target compose|swarm]
// --checkout measures another checkout's program (e.g. a worktree of an earlier commit, with its own
// node_modules) on the same registry and host, for a before/after in one run.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../local/pulumi-workspace";
import { median, stateBytes } from "./pulumi-cli";
import { freePort } from "../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../test/helpers/deploy-environment";

const commands = ["first up", "no-op up", "tag change of one app", "preview, nothing changed", "refresh", "refresh, --skip-preview", "destroy"] as const;
type Command = typeof commands[number];

interface Cost {
    seconds: number;
    sessions: number;
    requests: number;
    cpu: number;
}

/** A copy of `checkout`'s tracked and new files with `count` copies of hello-world as apps/app-NN. */
function programCopy(checkout: string, count: number): { dir: string; apps: string[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-program-"));
    const files = execFileSync("git", ["-C", checkout, "ls-files", "-co", "--exclude-standard", "-z"], { encoding: "utf8" })
        .split("\0").filter((file) => file !== "" && fs.existsSync(path.join(checkout, file)));
    for (const file of files) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.copyFileSync(path.join(checkout, file), path.join(dir, file));
    }
    fs.symlinkSync(path.join(checkout, "node_modules"), path.join(dir, "node_modules"));
    const apps = Array.from({ length: count }, (_, i) => `app-${String(i + 1).padStart(2, "0")}`);
    for (const app of apps) {
        fs.mkdirSync(path.join(dir, "apps", app), { recursive: true });
        fs.copyFileSync(path.join(checkout, "apps", "hello-world", "compose.yml"), path.join(dir, "apps", app, "compose.yml"));
    }
    return { dir, apps };
}

async function fleetConfig(env: DeployEnvironment, apps: string[], tag: string): Promise<ConfigMap> {
    const config: ConfigMap = Object.fromEntries(Object.entries(env.stackConfig(tag))
        .filter(([key]) => !key.startsWith("hello-world:") && !key.startsWith("iac:apps[")));
    for (const [i, app] of apps.entries()) {
        config[`iac:apps[${i}]`] = { value: app };
        config[`${app}:image`] = { value: repository };
        config[`${app}:tag`] = { value: tag };
        config[`${app}:environment.PORT`] = { value: String(await freePort()) };
    }
    return config;
}

/** One CLI run as an operator types it, with what it cost; the CPU is the children's, as bash's `times` reports. */
async function measure(env: DeployEnvironment, stack: Stack, args: string[]): Promise<Cost> {
    const registryLogStart = fs.statSync(env.registry.logFile).size;
    const sessionsBefore = env.ssh.sessionCount();
    const start = process.hrtime.bigint();
    const script = 'pulumi "$@" > "$BENCH_OUT" 2>&1; status=$?; times; exit $status';
    const out = path.join(stack.workspace.workDir, "bench-run.log");
    const child = spawn("bash", ["-c", script, "bash", ...args, "--stack", stack.name, "--non-interactive", "--color", "never"], {
        cwd: stack.workspace.workDir, env: { ...process.env, ...stack.workspace.envVars, BENCH_OUT: out }, stdio: ["ignore", "pipe", "inherit"],
    });
    let times = "";
    child.stdout!.on("data", (chunk: Buffer) => (times += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (status !== 0) {
        throw new Error(`pulumi ${args.join(" ")} exited ${status}:\n${fs.readFileSync(out, "utf8").slice(-4000)}`);
    }
    // `times`: the shell's user and system time, then its children's: "0m1.234s 0m0.567s".
    const children = times.trim().split("\n").at(-1)!.match(/(\d+)m([\d.]+)s/g)!
        .map((part) => { const [, m, s] = /(\d+)m([\d.]+)s/.exec(part)!; return Number(m) * 60 + Number(s); });
    const requests = fs.readFileSync(env.registry.logFile, "utf8").slice(registryLogStart).split("\n")
        .filter((line) => /"(GET|HEAD|PUT|POST|DELETE) \/v2\//.test(line)).length;
    return { seconds, sessions: env.ssh.sessionCount() - sessionsBefore, requests, cpu: children[0] + children[1] };
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        sizes: { type: "string", default: "1,5,20" }, rounds: { type: "string", default: "3" },
        checkout: { type: "string", default: path.resolve(__dirname, "..") }, target: { type: "string", default: "compose" },
    } });
    const sizes = values.sizes!.split(",").map(Number);
    const rounds = Number(values.rounds);
    const checkout = path.resolve(values.checkout!);
    const env = await startDeployEnvironment({ swarm: values.target === "swarm" });
    const results = new Map<number, Map<Command, Cost[]>>();
    const stateSizes = new Map<number, number>();
    try {
        for (const size of sizes) {
            const { dir, apps } = programCopy(checkout, size);
            const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-work-"));
            const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-state-"));
            try {
                const workspace = await openWorkspace({ workDir, stateDir, passphrase: "bench", programDir: dir });
                const stack = await Stack.create("dev", workspace);
                await stack.setAllConfig(await fleetConfig(env, apps, env.images.a.tag), true);
                const costs = new Map<Command, Cost[]>(commands.map((command) => [command, []]));
                const run = async (command: Command, args: string[]) => {
                    const cost = await measure(env, stack, args);
                    costs.get(command)!.push(cost);
                    process.stderr.write(`fleet: ${size} app(s), ${command}: ${cost.seconds.toFixed(1)} s, ${cost.cpu.toFixed(1)} CPU s, ` +
                        `${cost.sessions} SSH, ${cost.requests} registry\n`);
                };
                for (let round = 0; round < rounds; round++) {
                    await stack.setConfig(`${apps[0]}:tag`, { value: env.images.a.tag });
                    await run("first up", ["up", "--yes", "--skip-preview"]);
                    if (round === 0) {
                        stateSizes.set(size, await stateBytes(workspace, "dev"));
                    }
                    await run("no-op up", ["up", "--yes", "--skip-preview"]);
                    await run("preview, nothing changed", ["preview"]);
                    await stack.setConfig(`${apps[0]}:tag`, { value: env.images.b.tag });
                    await run("tag change of one app", ["up", "--yes", "--skip-preview"]);
                    // `--yes` runs Pulumi's preview pass first, an engine run of its own that reads every resource
                    // too; `--skip-preview` is the refresh alone.
                    await run("refresh", ["refresh", "--yes"]);
                    await run("refresh, --skip-preview", ["refresh", "--yes", "--skip-preview"]);
                    await run("destroy", ["destroy", "--yes", "--skip-preview"]);
                }
                results.set(size, costs);
                await workspace.removeStack("dev");
            } finally {
                for (const temp of [dir, workDir, stateDir]) {
                    fs.rmSync(temp, { recursive: true, force: true });
                }
            }
        }
    } finally {
        await env.stop();
    }
    const first = sizes[0];
    const last = sizes[sizes.length - 1];
    const cell = (cost: Cost[]) => {
        const m = (pick: (c: Cost) => number) => median(cost.map(pick));
        return `${m((c) => c.seconds).toFixed(1)} / ${m((c) => c.sessions)} / ${m((c) => c.requests)} · ${m((c) => c.cpu).toFixed(1)}`;
    };
    console.log(`\n${checkout}, target ${values.target}, medians of ${rounds}: seconds / SSH logins / registry requests · CPU seconds\n`);
    console.log(`| command | ${sizes.map((size) => `${size} app${size === 1 ? "" : "s"}`).join(" | ")} | ${last} vs ${first} |`);
    console.log(`|---|${sizes.map(() => "---").join("|")}|---|`);
    for (const command of commands) {
        const ratio = (pick: (c: Cost) => number) =>
            (median(results.get(last)!.get(command)!.map(pick)) / median(results.get(first)!.get(command)!.map(pick))).toFixed(1);
        console.log(`| ${command} | ${sizes.map((size) => cell(results.get(size)!.get(command)!)).join(" | ")} | ` +
            `${ratio((c) => c.seconds)}× time, ${ratio((c) => c.cpu)}× CPU |`);
    }
    console.log(`| state (stack export) | ${sizes.map((size) => `${(stateSizes.get(size)! / 1024).toFixed(0)} KiB`).join(" | ")} | |`);
}

main().catch((error: Error) => {
    console.error(`bench:fleet: ${error.stack ?? error.message}`);
    process.exitCode = 1;
});
