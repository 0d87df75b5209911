// The design's floor for the benchmarks: Pulumi TypeScript programs made only of dynamic resources that never
// change, their provider loaded from a file beside the program the way components/pulumi/dynamic-resource.ts loads
// ours. They run on this project's node_modules (the same @pulumi/pulumi with the same patches, ts-node and swc)
// and compiler settings (tsconfig.json, transpiled only), so a run of one and a run of the program differ only by
// the program: a floor pays the language host's and the provider process's starts, and the engine's and the SDK's
// work per resource, and nothing of ours. A floor is a stock Pulumi TypeScript program (`typescript: true`: ts-node
// with swc), as the design defines it, or compiled as the program is (components/typescript-require.js, preloaded
// with `typescript: false`), which takes ts-node's and TypeScript's load out of both.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import * as ts from "typescript";
import { openWorkspace } from "../local/pulumi-workspace";

const projectRoot = path.resolve(__dirname, "..");

/** A provider that creates and never changes: its outputs are its inputs. */
const providerSource = "exports.provider = {\n" +
    "    async create(inputs) { return { id: `floor-${Date.now()}-${Math.random()}`, outs: inputs }; },\n" +
    "    async diff() { return { changes: false }; },\n" +
    "};\n";

const resourceClass = [
    'import { ComponentResource, CustomResource, CustomResourceOptions } from "@pulumi/pulumi/resource";',
    "class Floor extends CustomResource {",
    "    constructor(name: string, props: Record<string, unknown>, opts?: CustomResourceOptions) {",
    '        super("pulumi-nodejs:dynamic:Resource", name, { ...props, __provider: ' +
        '\'exports.handler = () => require(require("path").resolve("floor-provider.js")).provider;\\n\' }, opts);',
    "    }",
    "}",
];

/**
 * What a floor declares. `single`: one dynamic resource, the smallest program of the design's shape. `apps: N`: per
 * app what this program declares per app (a component with two dynamic resources, the second taking an output of
 * the first, as the deployment takes the pin's), with a few small inputs each; `resourcesPerApp` other than 2
 * prices that choice (bench/floor-shape.ts).
 */
export type FloorShape = "single" | { apps: number; resourcesPerApp?: number };

function indexSource(shape: FloorShape): string {
    if (shape === "single") {
        return [...resourceClass, 'new Floor("floor", {});', ""].join("\n");
    }
    return [
        ...resourceClass,
        "class App extends ComponentResource {",
        "    constructor(name: string) {",
        '        super("floor:index:App", name, {}, {});',
        '        const inputs = { app: name, repository: "rednaw/hello-world", tag: "eb53023" };',
        "        let last: Floor | undefined;",
        `        for (let i = 0; i < ${shape.resourcesPerApp ?? 2}; i++) {`,
        '            last = new Floor(`${name}-${i}`, { ...inputs, previous: last?.id }, { parent: this });',
        "        }",
        "        this.registerOutputs({ last: last!.id });",
        "    }",
        "}",
        `export const apps = Array.from({ length: ${shape.apps} }, (_, i) => new App(\`app-\${i + 1}\`).urn);`,
        "",
    ].join("\n");
}

/** How a floor's TypeScript is compiled: as a stock Pulumi program, or as this program is. */
export type FloorCompiler = "ts-node" | "as the program";

/** A floor program of `shape` in `dir` (new), with its workspace on a file backend in `stateDir`. */
export async function floorProgram(dir: string, stateDir: string, shape: FloorShape, compiler: FloorCompiler = "ts-node"): Promise<LocalWorkspace> {
    const workspace = await openWorkspace({ workDir: dir, stateDir, passphrase: "bench" });
    const tsconfig = readJsonc(path.join(projectRoot, "tsconfig.json"));
    const options = compiler === "ts-node" ? ["typescript: true", "tsconfig: tsconfig.json"]
        : ["typescript: false", `nodeargs: --require ${path.join(projectRoot, "components", "typescript-require.js")}`];
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"),
        ["name: floor", "runtime:", "  name: nodejs", "  options:", ...options.map((line) => `    ${line}`), "    packagemanager: npm", ""].join("\n"));
    fs.writeFileSync(path.join(dir, "floor-provider.js"), providerSource);
    fs.writeFileSync(path.join(dir, "index.ts"), indexSource(shape));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "floor", private: true, main: "index.ts" }, null, 2));
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
        compilerOptions: { ...tsconfig.compilerOptions, noCheck: true }, "ts-node": { swc: true }, include: ["index.ts"] }, null, 2));
    return workspace;
}

/** A tsconfig file, comments and all. */
function readJsonc(file: string): { compilerOptions?: object } {
    const parsed = ts.parseConfigFileTextToJson(file, fs.readFileSync(file, "utf8"));
    if (parsed.error) {
        throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(parsed.error.messageText, "\n")}`);
    }
    return parsed.config;
}
