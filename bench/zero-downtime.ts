// Benchmark (not a test): what a user of the app sees while it is deployed. A client sends a request every 20 ms
// (about 50 a second) to hello-world while `pulumi up` changes its tag and rolls it back, round after round, on a
// real stack (dockerd, Registry v3 and an SSH host on loopback); per deploy: the requests failed, the longest
// time without an answer, and the seconds `pulumi up` took. Two stacks of the same program deploy hello-world
// side by side on one host: "direct" (the compose target, the client on the app's own port) and "proxy" (the
// host's proxy in front of two colours, the client on the proxy's port). Their deploys alternate, so both see the
// same machine load and the difference in `pulumi up` time is what the switch costs. docs/zero-downtime.md keeps
// the figures.
//   npm run bench:zero-downtime [-- --rounds 10] [--mode direct|proxy|both] [--swarm]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { ConfigMap, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { freePort } from "../local/sshd";
import { openWorkspace } from "../local/pulumi-workspace";
import { DeployEnvironment, startDeployEnvironment } from "../test/helpers/deploy-environment";
import { HostProxy, prepareHostProxy } from "../test/helpers/host-proxy";
import { TrafficReport, startTraffic } from "../test/helpers/traffic";
import { cliUp, median, seconds } from "./pulumi-cli";

type Mode = "direct" | "proxy";
type Kind = "tag change" | "rollback";

interface DeployFigures extends TrafficReport {
    mode: Mode;
    kind: Kind;
    round: number;
    seconds: number;
    /** The machine's 1-minute load average when the deploy ended. */
    load: number;
}

/** One stack of the program, deploying hello-world one way, and where its client sends requests. */
interface Deployed {
    mode: Mode;
    stack: Stack;
    url: string;
}

function describe(figures: TrafficReport): string {
    return `${figures.sent} requests, ${failedText(figures)}, longest gap ${figures.longestGapMs.toFixed(0)} ms`;
}

function failedText(figures: TrafficReport): string {
    const reasons = Object.entries(figures.failures);
    const detail = reasons.length === 1 ? ` (${reasons[0][0]})`
        : reasons.length > 1 ? ` (${reasons.map(([reason, count]) => `${count} ${reason}`).join(", ")})` : "";
    return `${figures.failed} failed${detail}`;
}

const range = (values: number[], digits: number) =>
    `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

function summary(mode: Mode, kind: Kind, deploys: DeployFigures[]): string {
    const failed = deploys.map((d) => d.failed);
    const gaps = deploys.map((d) => d.longestGapMs);
    const times = deploys.map((d) => d.seconds);
    const reasons: Record<string, number> = {};
    for (const deploy of deploys) {
        for (const [reason, count] of Object.entries(deploy.failures)) {
            reasons[reason] = (reasons[reason] ?? 0) + count;
        }
    }
    const byReason = Object.entries(reasons).map(([reason, count]) => `${count} ${reason}`).join(", ");
    return `bench: ${mode}, ${kind}s (${deploys.length}): ${failed.reduce((a, b) => a + b, 0)} requests failed` +
        `${byReason ? ` (${byReason})` : ""} (${range(failed, 0)} per deploy, of ${deploys.reduce((sum, d) => sum + d.sent, 0)} sent), ` +
        `longest gap ${range(gaps, 0)} ms (median ${median(gaps).toFixed(0)}), ` +
        `pulumi up ${range(times, 2)} s (median ${median(times).toFixed(2)})`;
}

/**
 * What the switch adds to a deploy, for one kind: the proxy's median `pulumi up` against the direct one's, and the
 * median of each round's difference (the two deploys of a round ran back to back, under much the same load).
 */
function switchCost(kind: Kind, deploys: DeployFigures[]): string {
    const of = (mode: Mode) => deploys.filter((d) => d.mode === mode && d.kind === kind);
    const direct = median(of("direct").map((d) => d.seconds));
    const proxied = median(of("proxy").map((d) => d.seconds));
    const differences = of("proxy").map((p) => p.seconds - of("direct").find((d) => d.round === p.round)!.seconds);
    const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
    return `bench: ${kind}s, median pulumi up: proxy ${proxied.toFixed(2)} s, direct ${direct.toFixed(2)} s ` +
        `(${signed(proxied - direct)} s, ×${(proxied / direct).toFixed(2)}); per round, proxy − direct: ` +
        `${range(differences, 2)} s (median ${signed(median(differences))} s)`;
}

/** One row per round and kind, each mode's figures side by side: the like-for-like comparison. */
function table(modes: Mode[], deploys: DeployFigures[]): string {
    const cells = (d: DeployFigures) => `${d.seconds.toFixed(2)} s | ${d.sent} | ${failedText(d).replace(" failed", "")} | ${d.longestGapMs.toFixed(0)} ms`;
    const header = ["round", "deploy", ...modes.flatMap((mode) => [`${mode}: \`pulumi up\``, "requests", "failed", "longest gap"]), "load"];
    const rows: string[] = [];
    for (const first of deploys.filter((d) => d.mode === modes[0])) {
        const same = modes.map((mode) => deploys.find((d) => d.mode === mode && d.round === first.round && d.kind === first.kind)!);
        const load = Math.max(...same.map((d) => d.load));
        rows.push(`| ${first.round} | ${first.kind} | ${same.map(cells).join(" | ")} | ${load.toFixed(1)} |`);
    }
    return [`| ${header.join(" | ")} |`, `|${header.map(() => "---|").join("")}`, ...rows].join("\n");
}

const loadAverages = () => os.loadavg().map((load) => load.toFixed(1)).join(" ");

/** The stack config of each mode: direct as the tests deploy it; proxy with the app's port moved to the proxy. */
async function modeConfig(mode: Mode, env: DeployEnvironment, proxy: HostProxy | undefined): Promise<{ config: ConfigMap; port: number }> {
    const config = env.stackConfig(env.images.a.tag);
    if (mode === "direct") {
        return { config, port: env.port };
    }
    const port = await freePort();
    const colourBase = 20_000 + Math.floor(Math.random() * 20_000);
    const { ["hello-world:environment.PORT"]: _appPort, ...rest } = config;
    return {
        port,
        config: {
            ...rest,
            ...proxy!.stackConfig,
            // An app dir is <deployRoot>/<org>/<app>: the proxy stack's hello-world needs a dir of its own.
            "iac:org": { value: "bench-proxy" },
            "iac:proxyPorts": { value: `${colourBase}-${colourBase + 199}` },
            "iac:proxyAddress": { value: "127.0.0.1" },
            "hello-world:proxy.port": { value: String(port) },
        },
    };
}

async function deploy(workspace: LocalWorkspace, env: DeployEnvironment, proxy: HostProxy | undefined, mode: Mode): Promise<Deployed> {
    // One stack per mode, each a workspace of its own on the host.
    const stack = await Stack.create(mode, workspace);
    const { config, port } = await modeConfig(mode, env, proxy);
    await stack.setAllConfig(config, true);
    await stack.up();
    return { mode, stack, url: `http://127.0.0.1:${port}/` };
}

function parseModes(mode: string | undefined, swarm: boolean): Mode[] {
    const chosen = mode ?? (swarm ? "direct" : "both");
    const modes: Mode[] = chosen === "both" ? ["direct", "proxy"] : chosen === "direct" || chosen === "proxy" ? [chosen] : [];
    if (modes.length === 0) {
        throw new Error(`--mode takes direct, proxy or both (got ${mode})`);
    }
    if (swarm && modes.includes("proxy")) {
        throw new Error("--swarm runs the direct mode only: the proxy is not supported on a swarm yet");
    }
    return modes;
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        rounds: { type: "string", default: "10" },
        mode: { type: "string" },
        swarm: { type: "boolean", default: false },
    } });
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) {
        throw new Error(`--rounds takes a positive integer (got ${values.rounds})`);
    }
    const modes = parseModes(values.mode, values.swarm ?? false);
    console.log(`bench: load averages at the start: ${loadAverages()}`);
    const env = await startDeployEnvironment({ swarm: values.swarm });
    let proxy: HostProxy | undefined;
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bench-zero-downtime-"));
    try {
        proxy = modes.includes("proxy") ? prepareHostProxy(env) : undefined;
        const workspace = await openWorkspace({ workDir: path.join(temp, "work"), stateDir: path.join(temp, "state"), passphrase: "bench" });
        const deployed: Deployed[] = [];
        for (const mode of modes) {
            deployed.push(await deploy(workspace, env, proxy, mode));
        }

        // The same client with nothing being deployed: what "no failure" looks like on this machine right now.
        for (const { mode, url } of deployed) {
            const idle = startTraffic(url);
            await new Promise((resolve) => setTimeout(resolve, 3000));
            console.log(`bench: ${values.swarm ? "swarm" : "compose"}, ${mode}, no deploy, 3 s: ${describe(await idle.stop())}`);
        }

        const deploys: DeployFigures[] = [];
        for (let round = 1; round <= rounds; round++) {
            // The modes take turns going first, so neither always deploys right after the other.
            const order = round % 2 === 1 ? deployed : [...deployed].reverse();
            for (const [kind, image] of [["tag change", env.images.b], ["rollback", env.images.a]] as const) {
                for (const { mode, stack, url } of order) {
                    await stack.setConfig("hello-world:tag", { value: image.tag });
                    const traffic = startTraffic(url);
                    const took = await seconds(() => cliUp(workspace, mode));
                    const figures: DeployFigures = { mode, kind, round, seconds: took, ...await traffic.stop(), load: os.loadavg()[0] };
                    deploys.push(figures);
                    console.log(`bench: round ${round}/${rounds}, ${mode}, ${kind} to ${image.tag}: pulumi up ${took.toFixed(2)} s, ` +
                        `${describe(figures)}, load ${loadAverages()}`);
                }
            }
        }
        for (const mode of modes) {
            for (const kind of ["tag change", "rollback"] as const) {
                console.log(summary(mode, kind, deploys.filter((d) => d.mode === mode && d.kind === kind)));
            }
        }
        if (modes.length === 2) {
            console.log(switchCost("tag change", deploys));
            console.log(switchCost("rollback", deploys));
        }
        console.log(`bench: load averages at the end: ${loadAverages()}`);
        console.log(table(modes, deploys));
        for (const { stack } of deployed) {
            await stack.destroy();
        }
    } finally {
        await proxy?.stop().catch(() => undefined);
        await env.stop();
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
});
