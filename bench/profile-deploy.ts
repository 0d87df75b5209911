// Profile (not a test) of one `pulumi up` of a tag change, then of a no-op one: when each engine event arrives
// (the run's prelude, each resource step and its provider call from pre to outputs, the providers' progress lines,
// which name each SSH session's phases), and every request the registry answered and every SSH login during the run.
//   npm run bench:profile-deploy
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { openWorkspace } from "../local/pulumi-workspace";
import { startDeployEnvironment } from "../test/helpers/deploy-environment";

/** One line of the timeline for an engine event, or undefined for events that say nothing about time spent. */
function describe(event: EngineEvent): string | undefined {
    const short = (urn: string) => urn.split("::").slice(-2).join("::");
    if (event.preludeEvent) return "engine: prelude (program about to run)";
    if (event.resourcePreEvent) {
        const step = event.resourcePreEvent.metadata;
        return `step ${step.op} ${short(step.urn)}: provider call starts`;
    }
    if (event.resOutputsEvent) {
        const step = event.resOutputsEvent.metadata;
        return `step ${step.op} ${short(step.urn)}: outputs`;
    }
    if (event.diagnosticEvent) return `diagnostic ${event.diagnosticEvent.severity}: ${event.diagnosticEvent.message.trim().split("\n")[0]}`;
    if (event.summaryEvent) return `engine: summary (${event.summaryEvent.durationSeconds} s by the engine's count)`;
    return undefined;
}

async function main(): Promise<void> {
    const env = await startDeployEnvironment();
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-profile-"));
    try {
        const workspace = await openWorkspace({ workDir: path.join(temp, "work"), stateDir: path.join(temp, "state"), passphrase: "profile" });
        const stack = await Stack.create("dev", workspace);
        await stack.setAllConfig(env.stackConfig(env.images.a.tag), true);
        await stack.up();
        await stack.setConfig("hello-world:tag", { value: env.images.b.tag });

        const profile = async (label: string) => {
            const registryLogStart = fs.statSync(env.registry.logFile).size;
            const sessionsBefore = env.ssh.sessionCount();
            const timeline: string[] = [];
            let debugMessages = 0;
            const start = process.hrtime.bigint();
            const at = () => (Number(process.hrtime.bigint() - start) / 1e9).toFixed(2).padStart(6);
            await stack.up({
                onEvent: (event) => {
                    // The SDK's debug messages (one per function the closure serializer visits, each an RPC to the
                    // engine) are counted, not listed.
                    // (The SDK's type omits "debug"; the engine sends it all the same.)
                    if ((event.diagnosticEvent?.severity as string | undefined) === "debug") {
                        debugMessages++;
                        return;
                    }
                    const line = describe(event);
                    if (line) timeline.push(`${at()} s  ${line}`);
                },
            });
            timeline.push(`${at()} s  pulumi up returned`);

            const registryLog = fs.readFileSync(env.registry.logFile, "utf8").slice(registryLogStart);
            const requests = registryLog.split("\n").filter((line) => /"(GET|HEAD|PUT|POST|DELETE) \/v2\//.test(line))
                .map((line) => line.match(/"((GET|HEAD|PUT|POST|DELETE) \/v2\/[^ ]*)/)![1]);
            console.log(`--- ${label}`);
            console.log(timeline.join("\n"));
            console.log(`debug messages from the program: ${debugMessages}`);
            console.log(`registry requests during the run (${requests.length}):\n  ${requests.join("\n  ")}`);
            console.log(`SSH logins during the run: ${env.ssh.sessionCount() - sessionsBefore}`);
        };
        await profile("tag change");
        await profile("no-op");
        await stack.destroy();
    } finally {
        await env.stop();
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main().catch((error: Error) => {
    console.error(`profile: ${error.message}`);
    process.exitCode = 1;
});
