// Benchmark (not a test): what the program's shape costs the engine, apart from anything the program does. The
// design's floor with N apps against one app, each app a component of two dynamic resources (the pin and the
// deployment, as the program declares), of three (as it declared while the overview was a resource of its own) or
// of one, compiled as the program is, all in one run: the differences are what the engine and the SDK spend per
// resource an app declares, and the 20-vs-1 ratios are the least a program of each shape can reach. No apps run on the host meanwhile (bench:fleet's floor rows
// share the machine with twenty apps' healthchecks).
//   npm run bench:floor-shape [-- --apps 20 --rounds 5]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { Stack } from "@pulumi/pulumi/automation";
import { floorProgram } from "./floor-program";
import { cli, median, seconds } from "./pulumi-cli";

const commands = [["no-op up", ["up", "--yes", "--skip-preview"]], ["preview", ["preview"]], ["refresh", ["refresh", "--yes"]]] as const;
const shapes = [2, 3, 1];

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { apps: { type: "string", default: "20" }, rounds: { type: "string", default: "5" } } });
    const apps = Number(values.apps);
    const rounds = Number(values.rounds);
    if (!Number.isInteger(apps) || apps < 2 || !Number.isInteger(rounds) || rounds < 1) {
        throw new Error("--apps takes a whole number of at least 2, --rounds one of at least 1");
    }
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "iac-floor-shape-"));
    try {
        const floors: { size: number; perApp: number; stack: Stack }[] = [];
        for (const perApp of shapes) {
            for (const size of [1, apps]) {
                const dir = fs.mkdtempSync(path.join(temp, "floor-"));
                const stack = await Stack.create("floor",
                    await floorProgram(dir, path.join(dir, ".state"), { apps: size, resourcesPerApp: perApp }, "as the program"));
                await stack.up();
                floors.push({ size, perApp, stack });
            }
        }
        const times = new Map<string, number[]>();
        const key = (perApp: number, size: number, command: string) => `${perApp} ${size} ${command}`;
        // Interleaved, so that the machine's moods fall on every cell alike.
        for (let round = 0; round < rounds; round++) {
            for (const { size, perApp, stack } of floors) {
                for (const [name, args] of commands) {
                    const time = await seconds(() => cli(stack.workspace, stack.name, [...args]));
                    times.set(key(perApp, size, name), [...(times.get(key(perApp, size, name)) ?? []), time]);
                    process.stderr.write(`floor-shape: ${perApp} per app, ${size} app(s), ${name}: ${time.toFixed(2)} s\n`);
                }
            }
        }
        const at = (perApp: number, size: number, command: string) => median(times.get(key(perApp, size, command))!);
        console.log(`\nThe design's floor, compiled as the program is, ${rounds} round(s), medians in seconds\n`);
        console.log(`| command | ${shapes.map((perApp) => `${perApp} per app: 1 → ${apps} apps | ${apps} vs 1`).join(" | ")} |`);
        console.log(`|---|${shapes.map(() => "---|---|").join("")}`);
        for (const [name] of commands) {
            console.log(`| ${name} | ${shapes.map((perApp) => `${at(perApp, 1, name).toFixed(2)} → ${at(perApp, apps, name).toFixed(2)} | ` +
                `${(at(perApp, apps, name) / at(perApp, 1, name)).toFixed(2)}×`).join(" | ")} |`);
        }
        for (const { stack } of floors) {
            await stack.destroy();
        }
    } finally {
        fs.rmSync(temp, { recursive: true, force: true });
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
