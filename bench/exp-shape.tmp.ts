import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { floorProgram } from "./floor-program";

const oneEach = (apps: number) => [
    'import { ComponentResource, CustomResource, CustomResourceOptions } from "@pulumi/pulumi/resource";',
    "class Floor extends CustomResource {",
    "    constructor(name: string, props: Record<string, unknown>, opts?: CustomResourceOptions) {",
    '        super("pulumi-nodejs:dynamic:Resource", name, { ...props, __provider: ' +
        '\'exports.handler = () => require(require("path").resolve("floor-provider.js")).provider;\\n\' }, opts);',
    "    }",
    "}",
    "class App extends ComponentResource {",
    "    constructor(name: string) {",
    '        super("floor:index:App", name, {}, {});',
    '        const inputs = { app: name, repository: "rednaw/hello-world", tag: "eb53023" };',
    '        const one = new Floor(`${name}-deploy`, inputs, { parent: this });',
    "        this.registerOutputs({ overview: one.id });",
    "    }",
    "}",
    `export const apps = Array.from({ length: ${apps} }, (_, i) => new App(\`app-\${i + 1}\`).urn);`,
    "",
].join("\n");

async function main() {
    const rows: Record<string, number[]> = {};
    const stacks: [string, Stack][] = [];
    for (const size of [1, 20]) {
        for (const shape of ["3 per app", "1 per app"]) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exp-floor-"));
            const ws = await floorProgram(dir, path.join(dir, ".state"), { apps: size }, "as the program");
            if (shape === "1 per app") fs.writeFileSync(path.join(dir, "index.ts"), oneEach(size));
            const stack = await Stack.create("floor", ws);
            await stack.up();
            stacks.push([`${size} apps, ${shape}`, stack]);
        }
    }
    for (let round = 0; round < 5; round++) {
        for (const [name, stack] of stacks) {
            for (const args of [["up", "--yes", "--skip-preview"], ["preview"], ["refresh", "--yes"]]) {
                const start = performance.now();
                execFileSync("pulumi", [...args, "--stack", "floor", "--non-interactive"], { cwd: stack.workspace.workDir, env: { ...process.env, ...stack.workspace.envVars }, stdio: "ignore" });
                (rows[`${name}: ${args[0]}`] ??= []).push((performance.now() - start) / 1000);
            }
        }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const [k, v] of Object.entries(rows)) console.log(k, med(v).toFixed(2));
    for (const shape of ["3 per app", "1 per app"]) for (const cmd of ["up", "preview", "refresh"])
        console.log(shape, cmd, (med(rows[`20 apps, ${shape}: ${cmd}`]) / med(rows[`1 apps, ${shape}: ${cmd}`])).toFixed(2));
}
main().catch((e) => { console.error(e); process.exit(1); });
