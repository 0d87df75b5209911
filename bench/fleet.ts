// Benchmark (not a test): what each command costs as a workspace grows, N apps on one host against one app, all
// in one run on this machine. Per size and command: wall seconds, SSH logins, registry requests, the CPU
// seconds of the pulumi process tree (the engine, the language host, the provider processes: the steadier figure
// on a shared machine) and of the whole machine (the host here is this machine: dockerd, containerd, compose and
// the apps' healthchecks count there), medians over the rounds; and the state's size. The same apps' compose work
// typed by hand over one SSH session ("by hand") is the floor under the first up and the destroy. The apps are
// copies of hello-world on ports of their own, in a copy of the checkout with apps/app-NN/ added, so the checkout
// itself is never touched.
//   npm run bench:fleet [-- --sizes 1,5,20] [--rounds 3] [--checkout DIR] [--target compose|swarm]
//                       [--healthcheck-interval 30s]
// --checkout measures another checkout's program (e.g. a worktree of an earlier commit, with its own
// node_modules) on the same registry and host, for a before/after in one run. The floor rows are a program of the
// same shape and size made only of dynamic resources that never change (./floor-program): what the engine and the
// SDK cost per app before any code of ours runs, as a stock Pulumi TypeScript program and compiled as the program
// is (without ts-node's and TypeScript's load, which made every run's fixed part larger). --healthcheck-interval sets the apps' healthcheck interval, whose
// probes run on this machine beside pulumi (a real host runs them on the host).
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../local/pulumi-workspace";
import { floorProgram } from "./floor-program";
import { median, stateBytes } from "./pulumi-cli";
import { freePort } from "../local/sshd";
import { DeployEnvironment, repository, startDeployEnvironment } from "../test/helpers/deploy-environment";

const commands = ["first up", "no-op up", "tag change of one app", "preview, nothing changed", "refresh", "refresh, --skip-preview", "destroy",
    "at rest, 3 s", "by hand: compose pull, up --wait", "by hand: compose down", "floor: no-op up", "floor: preview",
    "floor compiled as the program: no-op up", "floor compiled as the program: preview", "floor compiled as the program: refresh"] as const;
type Command = typeof commands[number];

interface Cost {
    seconds: number;
    sessions: number;
    requests: number;
    cpu: number;
    /** Busy CPU seconds of the whole machine meanwhile. */
    machineCpu: number;
}

/** The machine's busy jiffies so far (user, nice, system, irq, softirq of every core), from /proc/stat. */
function busyJiffies(): number {
    const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return fields[0] + fields[1] + fields[2] + fields[5] + fields[6];
}

const jiffiesPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/**
 * hello-world's compose template, its healthcheck's interval replaced when one is given: the apps' healthchecks
 * run on this machine, beside pulumi, where a real host's run on the host.
 */
function appTemplate(checkout: string, interval: string | undefined): string {
    const template = fs.readFileSync(path.join(checkout, "apps", "hello-world", "compose.yml"), "utf8");
    const line = /^([ \t]+interval:[ \t]*)\S+$/m;
    if (interval === undefined) {
        return template;
    }
    if (!line.test(template) || !/^[0-9]+(ms|s|m)$/.test(interval)) {
        throw new Error(`cannot set the healthcheck interval ${JSON.stringify(interval)} in apps/hello-world/compose.yml`);
    }
    return template.replace(line, (_match, key: string) => `${key}${interval}`);
}

/** A copy of `checkout`'s tracked and new files with `count` copies of hello-world (`template`) as apps/app-NN. */
function programCopy(checkout: string, count: number, template: string): { dir: string; apps: string[] } {
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
        fs.writeFileSync(path.join(dir, "apps", app, "compose.yml"), template);
    }
    return { dir, apps };
}

async function fleetConfig(env: DeployEnvironment, apps: string[], ports: Map<string, number>, tag: string): Promise<ConfigMap> {
    const config: ConfigMap = Object.fromEntries(Object.entries(env.stackConfig(tag))
        .filter(([key]) => !key.startsWith("hello-world:") && !key.startsWith("iac:apps[")));
    for (const [i, app] of apps.entries()) {
        config[`iac:apps[${i}]`] = { value: app };
        config[`${app}:image`] = { value: repository };
        config[`${app}:tag`] = { value: tag };
        ports.set(app, await freePort());
        config[`${app}:environment.PORT`] = { value: String(ports.get(app)) };
    }
    return config;
}

/**
 * One command as an operator types it (`bash -c script` with `args`), with what it cost; the CPU is the children's,
 * as bash's `times` reports, and the machine's.
 */
async function measure(env: DeployEnvironment, script: string, args: string[], cwd: string, vars: Record<string, string>): Promise<Cost> {
    const registryLogStart = fs.statSync(env.registry.logFile).size;
    const sessionsBefore = env.ssh.sessionCount();
    const busyBefore = busyJiffies();
    const start = process.hrtime.bigint();
    const out = path.join(cwd, "bench-run.log");
    const child = spawn("bash", ["-c", `{ ${script}; } > "$BENCH_OUT" 2>&1; status=$?; times; exit $status`, "bash", ...args], {
        cwd, env: { ...process.env, ...vars, BENCH_OUT: out }, stdio: ["ignore", "pipe", "inherit"],
    });
    let times = "";
    child.stdout!.on("data", (chunk: Buffer) => (times += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const machineCpu = (busyJiffies() - busyBefore) / jiffiesPerSecond;
    if (status !== 0) {
        throw new Error(`${script} ${args.join(" ")} exited ${status}:\n${fs.readFileSync(out, "utf8").slice(-4000)}`);
    }
    // `times`: the shell's user and system time, then its children's: "0m1.234s 0m0.567s".
    const children = times.trim().split("\n").at(-1)!.match(/(\d+)m([\d.]+)s/g)!
        .map((part) => { const [, m, s] = /(\d+)m([\d.]+)s/.exec(part)!; return Number(m) * 60 + Number(s); });
    const requests = fs.readFileSync(env.registry.logFile, "utf8").slice(registryLogStart).split("\n")
        .filter((line) => /"(GET|HEAD|PUT|POST|DELETE) \/v2\//.test(line)).length;
    return { seconds, sessions: env.ssh.sessionCount() - sessionsBefore, requests, cpu: children[0] + children[1], machineCpu };
}

function measurePulumi(env: DeployEnvironment, stack: Stack, args: string[]): Promise<Cost> {
    return measure(env, 'pulumi "$@"', [...args, "--stack", stack.name, "--non-interactive", "--color", "never"],
        stack.workspace.workDir, stack.workspace.envVars);
}

/**
 * The apps' compose files as an operator would write them by hand into a dir of the host: the template with the
 * image pinned and the app's PORT in an env file.
 */
function writeByHandApps(dir: string, template: string, apps: string[], ports: Map<string, number>, image: string): void {
    for (const app of apps) {
        fs.mkdirSync(path.join(dir, app));
        fs.writeFileSync(path.join(dir, app, "compose.yml"), template.replaceAll("${IMAGE}", image).replace(/^  web:\n/m, "  web:\n    env_file: env\n"));
        fs.writeFileSync(path.join(dir, app, "env"), `PORT=${ports.get(app)}\n`);
    }
}

/** One SSH session running `commands` (compose arguments) for every app of `dir`, 8 apps at a time as the program's channels run. */
function measureByHand(env: DeployEnvironment, dir: string, commands: string[][], cwd: string): Promise<Cost> {
    const perApp = commands.map((command) => `docker compose -p "hand-$1" -f "$1/compose.yml" ${command.join(" ")}`).join(" && ");
    const remote = `cd '${dir}' && ls | xargs -P 8 -I{} sh -c '${perApp.replace(/'/g, "'\\''")}' sh {}`;
    return measure(env, "ssh \"$@\"", ["-i", env.ssh.privateKeyFile, "-p", String(env.ssh.port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `${env.ssh.user}@${env.ssh.host}`, remote], cwd, {});
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        sizes: { type: "string", default: "1,5,20" }, rounds: { type: "string", default: "3" },
        checkout: { type: "string", default: path.resolve(__dirname, "..") }, target: { type: "string", default: "compose" },
        "healthcheck-interval": { type: "string" },
    } });
    const sizes = values.sizes!.split(",").map(Number);
    const rounds = Number(values.rounds);
    const checkout = path.resolve(values.checkout!);
    const template = appTemplate(checkout, values["healthcheck-interval"]);
    const env = await startDeployEnvironment({ swarm: values.target === "swarm" });
    const results = new Map<number, Map<Command, Cost[]>>();
    const stateSizes = new Map<number, number>();
    try {
        for (const size of sizes) {
            const { dir, apps } = programCopy(checkout, size, template);
            const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-work-"));
            const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-state-"));
            const handDir = fs.mkdtempSync(path.join(env.ssh.deployRoot, "by-hand-"));
            const floorDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-floor-"));
            const compiledFloorDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-fleet-floor-"));
            try {
                const floor = await Stack.create("floor", await floorProgram(floorDir, path.join(floorDir, ".state"), { apps: size }));
                await floor.up();
                const compiledFloor = await Stack.create("floor",
                    await floorProgram(compiledFloorDir, path.join(compiledFloorDir, ".state"), { apps: size }, "as the program"));
                await compiledFloor.up();
                const workspace = await openWorkspace({ workDir, stateDir, passphrase: "bench", programDir: dir });
                const stack = await Stack.create("dev", workspace);
                const ports = new Map<string, number>();
                await stack.setAllConfig(await fleetConfig(env, apps, ports, env.images.a.tag), true);
                writeByHandApps(handDir, template, apps, ports,
                    `${env.stackConfig(env.images.a.tag)["iac:registry"].value}/${repository}@${env.images.a.digest}`);
                const costs = new Map<Command, Cost[]>(commands.map((command) => [command, []]));
                const measureCommand = (command: Command, args: string[]): Promise<Cost> => {
                    switch (command) {
                    // What the running apps cost the machine by themselves (their healthchecks), inside every figure after the first up.
                    case "at rest, 3 s": return measure(env, "sleep 3", [], workDir, {});
                    case "by hand: compose pull, up --wait": return measureByHand(env, handDir, [["pull", "--quiet"], ["up", "-d", "--wait"]], workDir);
                    case "by hand: compose down": return measureByHand(env, handDir, [["down"]], workDir);
                    case "floor: no-op up":
                    case "floor: preview": return measurePulumi(env, floor, args);
                    case "floor compiled as the program: no-op up":
                    case "floor compiled as the program: preview":
                    case "floor compiled as the program: refresh": return measurePulumi(env, compiledFloor, args);
                    default: return measurePulumi(env, stack, args);
                    }
                };
                const run = async (command: Command, args: string[]) => {
                    const cost = await measureCommand(command, args);
                    costs.get(command)!.push(cost);
                    process.stderr.write(`fleet: ${size} app(s), ${command}: ${cost.seconds.toFixed(1)} s, ${cost.cpu.toFixed(1)} CPU s, ` +
                        `${cost.machineCpu.toFixed(1)} machine CPU s, ${cost.sessions} SSH, ${cost.requests} registry\n`);
                };
                for (let round = 0; round < rounds; round++) {
                    await stack.setConfig(`${apps[0]}:tag`, { value: env.images.a.tag });
                    await run("first up", ["up", "--yes", "--skip-preview"]);
                    if (round === 0) {
                        stateSizes.set(size, await stateBytes(workspace, "dev"));
                    }
                    await run("at rest, 3 s", []);
                    await run("no-op up", ["up", "--yes", "--skip-preview"]);
                    await run("preview, nothing changed", ["preview"]);
                    await run("floor: no-op up", ["up", "--yes", "--skip-preview"]);
                    await run("floor: preview", ["preview"]);
                    await run("floor compiled as the program: no-op up", ["up", "--yes", "--skip-preview"]);
                    await run("floor compiled as the program: preview", ["preview"]);
                    await stack.setConfig(`${apps[0]}:tag`, { value: env.images.b.tag });
                    await run("tag change of one app", ["up", "--yes", "--skip-preview"]);
                    // `--yes` runs Pulumi's preview pass first, an engine run of its own that reads every resource
                    // too; `--skip-preview` is the refresh alone.
                    await run("refresh", ["refresh", "--yes"]);
                    await run("refresh, --skip-preview", ["refresh", "--yes", "--skip-preview"]);
                    await run("floor compiled as the program: refresh", ["refresh", "--yes"]);
                    await run("destroy", ["destroy", "--yes", "--skip-preview"]);
                    await run("by hand: compose pull, up --wait", []);
                    await run("by hand: compose down", []);
                }
                results.set(size, costs);
                await workspace.removeStack("dev");
                await floor.destroy();
                await compiledFloor.destroy();
            } finally {
                for (const temp of [dir, workDir, stateDir, handDir, floorDir, compiledFloorDir]) {
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
        return `${m((c) => c.seconds).toFixed(1)} / ${m((c) => c.sessions)} / ${m((c) => c.requests)} · ${m((c) => c.cpu).toFixed(1)} · ` +
            `${m((c) => c.machineCpu).toFixed(1)}`;
    };
    const interval = values["healthcheck-interval"] === undefined ? "" : `, healthcheck interval ${values["healthcheck-interval"]}`;
    console.log(`\n${checkout}, target ${values.target}${interval}, medians of ${rounds}: seconds / SSH logins / registry requests · ` +
        `CPU seconds of pulumi · of the machine\n`);
    console.log(`| command | ${sizes.map((size) => `${size} app${size === 1 ? "" : "s"}`).join(" | ")} | ${last} vs ${first} |`);
    console.log(`|---|${sizes.map(() => "---").join("|")}|---|`);
    for (const command of commands) {
        const ratio = (pick: (c: Cost) => number) =>
            (median(results.get(last)!.get(command)!.map(pick)) / median(results.get(first)!.get(command)!.map(pick))).toFixed(2);
        console.log(`| ${command} | ${sizes.map((size) => cell(results.get(size)!.get(command)!)).join(" | ")} | ` +
            `${ratio((c) => c.seconds)}× time, ${ratio((c) => c.cpu)}× CPU, ${ratio((c) => c.machineCpu)}× machine CPU |`);
    }
    console.log(`| state (stack export) | ${sizes.map((size) => `${(stateSizes.get(size)! / 1024).toFixed(0)} KiB`).join(" | ")} | |`);
}

main().catch((error: Error) => {
    console.error(`bench:fleet: ${error.stack ?? error.message}`);
    process.exitCode = 1;
});
