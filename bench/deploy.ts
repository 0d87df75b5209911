// Benchmark (not a test), all in one run on this machine: `pulumi up` of a tag change against doing the same
// by hand over SSH (`docker compose pull && docker compose up -d --wait`), and a no-op `pulumi up` of this
// program against a no-op `pulumi up` of an empty program.   npm run bench:deploy [-- --rounds 3]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { Stack } from "@pulumi/pulumi/automation";
import { renderCompose } from "../components/compose";
import { runRemote } from "../components/remote/ssh";
import { openWorkspace } from "../local/pulumi-workspace";
import { freePort } from "../local/sshd";
import { repository, startDeployEnvironment } from "../test/helpers/deploy-environment";

const projectRoot = path.resolve(__dirname, "..");

async function seconds(task: () => Promise<unknown>): Promise<number> {
    const start = process.hrtime.bigint();
    await task();
    return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

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

        const pulumiTimes: number[] = [];
        const manualTimes: number[] = [];
        for (let round = 0; round < rounds; round++) {
            for (const image of [env.images.b, env.images.a]) {
                await stack.setConfig("hello-world:tag", { value: image.tag });
                pulumiTimes.push(await seconds(() => stack.up()));
                manualTimes.push(await seconds(() => byHand(image.digest)));
            }
        }

        const noopTimes: number[] = [];
        for (let round = 0; round < rounds; round++) {
            noopTimes.push(await seconds(() => stack.up()));
        }
        const emptyDir = path.join(temp, "empty");
        fs.mkdirSync(emptyDir);
        fs.writeFileSync(path.join(emptyDir, "index.ts"), "export {};\n");
        fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(emptyDir, "node_modules"));
        const emptyWorkspace = await openWorkspace({ workDir: path.join(temp, "empty-work"), stateDir: path.join(temp, "state"), passphrase: "bench" });
        fs.writeFileSync(path.join(temp, "empty-work", "Pulumi.yaml"),
            `name: empty\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: ../empty\n`);
        const empty = await Stack.create("empty", emptyWorkspace);
        await empty.up();
        const emptyTimes: number[] = [];
        for (let round = 0; round < rounds; round++) {
            emptyTimes.push(await seconds(() => empty.up()));
        }

        const report = (label: string, values: number[]) =>
            console.log(`bench: ${label}: median ${median(values).toFixed(2)} s (${values.map((v) => v.toFixed(2)).join(", ")})`);
        report("pulumi up, tag change", pulumiTimes);
        report("by hand over ssh, compose pull + up --wait", manualTimes);
        report("pulumi up, nothing changed", noopTimes);
        report("pulumi up of an empty program, nothing changed", emptyTimes);
        console.log(`bench: tag change ${(median(pulumiTimes) / median(manualTimes)).toFixed(2)}× the by-hand deploy (target ≤ 1.5×); ` +
            `no-op ${(median(noopTimes) / median(emptyTimes)).toFixed(2)}× an empty program's`);
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
