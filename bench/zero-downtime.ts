// Benchmark (not a test): what a user of the app sees while it is deployed. A client sends a request every 20 ms
// (about 50 a second) to hello-world while `pulumi up` changes its tag and rolls it back, round after round, on a
// real stack (dockerd, Registry v3 and an SSH host on loopback); per deploy: the requests failed, the longest
// time without an answer, and the seconds `pulumi up` took. docs/zero-downtime.md keeps the figures.
//   npm run bench:zero-downtime [-- --rounds 10] [--swarm]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../local/pulumi-workspace";
import { startDeployEnvironment } from "../test/helpers/deploy-environment";
import { TrafficReport, startTraffic } from "../test/helpers/traffic";
import { cliUp, median, seconds } from "./pulumi-cli";

interface DeployFigures extends TrafficReport {
    kind: "tag change" | "rollback";
    seconds: number;
}

function describe(figures: TrafficReport): string {
    const reasons = Object.entries(figures.failures).map(([reason, count]) => `${reason} ×${count}`).join(", ");
    return `${figures.sent} requests, ${figures.failed} failed${reasons ? ` (${reasons})` : ""}, ` +
        `longest gap ${figures.longestGapMs.toFixed(0)} ms`;
}

function summary(kind: string, deploys: DeployFigures[]): string {
    const failed = deploys.map((d) => d.failed);
    const gaps = deploys.map((d) => d.longestGapMs);
    const times = deploys.map((d) => d.seconds);
    const range = (values: number[], digits: number) =>
        `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
    return `bench: ${kind}s (${deploys.length}): ${failed.reduce((a, b) => a + b, 0)} requests failed ` +
        `(${range(failed, 0)} per deploy, of ${deploys.reduce((sum, d) => sum + d.sent, 0)} sent), ` +
        `longest gap ${range(gaps, 0)} ms (median ${median(gaps).toFixed(0)}), ` +
        `pulumi up ${range(times, 2)} s (median ${median(times).toFixed(2)})`;
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { rounds: { type: "string", default: "10" }, swarm: { type: "boolean", default: false } } });
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) {
        throw new Error(`--rounds takes a positive integer (got ${values.rounds})`);
    }
    const env = await startDeployEnvironment({ swarm: values.swarm });
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-zero-downtime-"));
    try {
        const workspace = await openWorkspace({ workDir: path.join(temp, "work"), stateDir: path.join(temp, "state"), passphrase: "bench" });
        const stack = await Stack.create("dev", workspace);
        await stack.setAllConfig(env.stackConfig(env.images.a.tag), true);
        await stack.up();
        const url = `http://127.0.0.1:${env.port}/`;

        // The same client with nothing deployed: what "no failure" looks like on this machine right now.
        const idle = startTraffic(url);
        await new Promise((resolve) => setTimeout(resolve, 3000));
        console.log(`bench: ${values.swarm ? "swarm" : "compose"}, no deploy, 3 s: ${describe(await idle.stop())}`);

        const deploys: DeployFigures[] = [];
        for (let round = 1; round <= rounds; round++) {
            for (const [kind, image] of [["tag change", env.images.b], ["rollback", env.images.a]] as const) {
                await stack.setConfig("hello-world:tag", { value: image.tag });
                const traffic = startTraffic(url);
                const took = await seconds(() => cliUp(workspace, "dev"));
                const figures: DeployFigures = { kind, seconds: took, ...await traffic.stop() };
                deploys.push(figures);
                console.log(`bench: round ${round}/${rounds}, ${kind} to ${image.tag}: pulumi up ${took.toFixed(2)} s, ${describe(figures)}`);
            }
        }
        console.log(summary("tag change", deploys.filter((d) => d.kind === "tag change")));
        console.log(summary("rollback", deploys.filter((d) => d.kind === "rollback")));
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
