// Benchmark (not a test), all in one run on this machine: `pulumi up` of a tag change against doing the same
// by hand over SSH (`docker compose pull && docker compose up -d --wait`), a no-op `pulumi up` of this program
// against a no-op `pulumi up` of the design's floor (the smallest program of its shape: one dynamic resource that
// never changes, its provider loaded as ours are; a stock Pulumi TypeScript program, and the same compiled as the
// program is), the state's size, and the launch to the port printed of the language host and of the dynamic
// provider (which every run of a program with dynamic resources starts).
//   npm run bench:deploy [-- --rounds 3]
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { Stack } from "@pulumi/pulumi/automation";
import { renderCompose } from "../components/model/compose";
import { runRemote } from "../components/remote/ssh";
import { openWorkspace } from "../local/pulumi-workspace";
import { freePort } from "../local/sshd";
import { repository, startDeployEnvironment } from "../test/helpers/deploy-environment";
import { floorProgram } from "./floor-program";
import { cliUp, median, seconds, stateBytes } from "./pulumi-cli";

const projectRoot = path.resolve(__dirname, "..");

/**
 * Milliseconds from starting a plugin the engine starts (from .tools/bin, in the project dir, as the engine does) to
 * the port it prints. Its whole process group is stopped after: the dynamic provider's shim is a shell script whose
 * node process would outlive a signal to the shell.
 */
async function launchToPort(plugin: string, args: string[] = []): Promise<number> {
    const start = process.hrtime.bigint();
    const child = spawn(path.join(projectRoot, ".tools", "bin", plugin), args, { cwd: projectRoot, stdio: ["ignore", "pipe", "inherit"], detached: true });
    try {
        await new Promise<void>((resolve, reject) => {
            child.stdout.once("data", () => resolve());
            child.once("exit", (code) => reject(new Error(`${plugin} exited (${code}) before printing its port`)));
        });
        return Number(process.hrtime.bigint() - start) / 1e6;
    } finally {
        process.kill(-child.pid!, "SIGKILL");
    }
}

async function main(): Promise<void> {
    const rounds = Number(parseArgs({ options: { rounds: { type: "string", default: "3" } } }).values.rounds);
    const env = await startDeployEnvironment();
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-"));
    try {
        const connection = { host: env.ssh.host, port: env.ssh.port, user: env.ssh.user, privateKey: env.ssh.privateKey };
        const workspace = await openWorkspace({ workDir: path.join(temp, "work"), stateDir: path.join(temp, "state"), passphrase: "bench" });
        const stack = await Stack.create("dev", workspace);
        await stack.setAllConfig(env.stackConfig(env.images.a.tag), true);
        await stack.up();

        // By hand: a compose project of its own on the same host, switched between the same two digests.
        const manualPort = await freePort();
        const manualDir = path.join(env.ssh.deployRoot, "by-hand");
        fs.mkdirSync(manualDir, { recursive: true });
        fs.writeFileSync(path.join(manualDir, "app.env"), `PORT=${manualPort}\n`);
        const template = fs.readFileSync(path.join(projectRoot, "apps", "hello-world", "compose.yml"), "utf8");
        const byHand = async (digest: string) => {
            fs.writeFileSync(path.join(manualDir, "compose.yml"),
                renderCompose("compose.yml", template, `${env.registry.address}/${repository}@${digest}`).content);
            await runRemote(connection, `cd '${manualDir}' && docker compose -p by-hand pull --quiet && docker compose -p by-hand up -d --wait`);
        };
        await byHand(env.images.a.digest);

        const floorWorkspace = await floorProgram(path.join(temp, "floor"), path.join(temp, "state"), "single");
        await (await Stack.create("floor", floorWorkspace)).up();
        // The same floor compiled as the program is: what the program costs beyond the shape, its compiler aside.
        const compiledFloor = await floorProgram(path.join(temp, "floor-compiled"), path.join(temp, "state"), "single", "as the program");
        await (await Stack.create("floor-compiled", compiledFloor)).up();

        const pulumiTimes: number[] = [];
        const manualTimes: number[] = [];
        for (let round = 0; round < rounds; round++) {
            for (const image of [env.images.b, env.images.a]) {
                await stack.setConfig("hello-world:tag", { value: image.tag });
                pulumiTimes.push(await seconds(() => cliUp(workspace, "dev")));
                manualTimes.push(await seconds(() => byHand(image.digest)));
            }
        }

        // The program's and the floors' no-ops take turns, so that load from elsewhere falls on them alike.
        const noopTimes: number[] = [];
        const floorTimes: number[] = [];
        const compiledFloorTimes: number[] = [];
        for (let round = 0; round < rounds; round++) {
            noopTimes.push(await seconds(() => cliUp(workspace, "dev")));
            floorTimes.push(await seconds(() => cliUp(floorWorkspace, "floor")));
            compiledFloorTimes.push(await seconds(() => cliUp(compiledFloor, "floor-compiled")));
        }
        // The first run after the code changed: with nothing this program keeps between runs (XDG_CACHE_HOME holds
        // what swc made of its files, components/typescript-require.js, and the registry cache that a no-op never reads).
        const coldTimes: number[] = [];
        for (let round = 0; round < rounds; round++) {
            const cold = fs.mkdtempSync(path.join(temp, "cold-cache-"));
            coldTimes.push(await seconds(() => cliUp(workspace, "dev", { XDG_CACHE_HOME: cold })));
        }

        const report = (label: string, values: number[]) =>
            console.log(`bench: ${label}: median ${median(values).toFixed(2)} s (${values.map((v) => v.toFixed(2)).join(", ")})`);
        report("pulumi up, tag change", pulumiTimes);
        report("by hand over ssh, compose pull + up --wait", manualTimes);
        report("pulumi up, nothing changed", noopTimes);
        report("pulumi up, nothing changed, first run after a code change (fresh caches)", coldTimes);
        report("pulumi up of the floor (one dynamic resource), nothing changed", floorTimes);
        report("pulumi up of the floor compiled as the program is, nothing changed", compiledFloorTimes);
        // What the state holds for one app (and the stack's own resources), as `pulumi stack export` writes it.
        console.log(`bench: state of a stack with one app, pulumi stack export: ${await stateBytes(workspace, "dev")} bytes`);
        const launches: number[] = [];
        const providerStarts: number[] = [];
        for (let round = 0; round < 10; round++) {
            launches.push(await launchToPort("pulumi-language-nodejs"));
            // The engine starts it with its own address; the provider prints its port before it connects there.
            providerStarts.push(await launchToPort("pulumi-resource-pulumi-nodejs", ["127.0.0.1:1"]));
        }
        console.log(`bench: language host, launch to port printed: median ${median(launches).toFixed(0)} ms ` +
            `(${launches.map((v) => v.toFixed(0)).join(", ")}) (target ≤ 150 ms)`);
        // Every program with a dynamic resource pays this start on every run, a no-op included, the floor too.
        console.log(`bench: dynamic provider (@pulumi/pulumi's shim), launch to port printed: median ${median(providerStarts).toFixed(0)} ms ` +
            `(${providerStarts.map((v) => v.toFixed(0)).join(", ")})`);
        const floor = median(floorTimes) + median(manualTimes);
        console.log(`bench: tag change ${median(pulumiTimes).toFixed(2)} s = the floor's no-op + by hand (${floor.toFixed(2)} s) ` +
            `+ ${(median(pulumiTimes) - floor).toFixed(2)} s (target ≤ + 0.5 s); ${(median(pulumiTimes) / median(manualTimes)).toFixed(2)}× the by-hand deploy; ` +
            `no-op ${(median(noopTimes) / median(floorTimes)).toFixed(2)}× the floor's (target ≤ 1.15×), ` +
            `${(median(coldTimes) / median(floorTimes)).toFixed(2)}× on the first run after a code change; ` +
            `${(median(noopTimes) / median(compiledFloorTimes)).toFixed(2)}× the floor compiled as the program is`);
        await runRemote(connection, `cd '${manualDir}' && docker compose -p by-hand down`);
        await stack.destroy();
    } finally {
        await env.stop();
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
