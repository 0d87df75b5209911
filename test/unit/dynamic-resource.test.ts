// What the program and the dynamic provider's process load at their start: neither @pulumi/pulumi's runtime
// index (with its Automation API and TypeScript) nor its closure serializer, which nothing here uses.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const projectRoot = path.resolve(__dirname, "..", "..");
/** What only serializing a closure needs: @pulumi/pulumi's index with its Automation API, the runtime's index, the serializer, arborist. */
const serializerModules = /^(@pulumi\/pulumi\/(index|automation\/|runtime\/index|runtime\/closure\/)|@npmcli\/arborist\/)/;

/**
 * The modules (paths under node_modules, or absolute) a node process has loaded when the code `run` calls
 * `report()`, which also ends the process; run from the project root.
 */
function modulesLoaded(run: string, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): string[] {
    const probe = [
        "const write = process.stdout.write.bind(process.stdout);",
        "function report() {",
        "  const loaded = Object.keys(require.cache).map((file) => file.split('node_modules/').pop());",
        "  write(JSON.stringify(loaded) + '\\n', () => process.exit(0));",
        "}",
        run,
    ].join("\n");
    const output = execFileSync(process.execPath, [...nodeArgs, "-e", probe], { cwd: projectRoot, env, encoding: "utf8" });
    return JSON.parse(output.trim().split("\n").pop()!);
}

describe("the program's load", function () {
    this.timeout(120_000);

    it("loads neither @pulumi/pulumi's index (with its Automation API) nor its closure serializer, nor TypeScript or ts-node", () => {
        // The program as `pulumi up` starts it (Pulumi.yaml's nodeargs); it stops at its config outside a Pulumi run, its modules loaded.
        const nodeargs = /^ {4}nodeargs: (.*)$/m.exec(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8"))![1].split(" ");
        const env = { ...process.env };
        delete env.NODE_OPTIONS;
        delete env.TS_NODE_PROJECT;
        const loaded = modulesLoaded("try { require('./index.ts'); } catch {}\nreport();", nodeargs, env);
        assert.ok(loaded.some((file) => file.endsWith("/components/pulumi/app-deployment.ts")), "the program's modules are loaded");
        assert.deepStrictEqual(loaded.filter((file) => serializerModules.test(file) || /^(typescript|ts-node)\//.test(file)), []);
    });
});

describe("the dynamic provider's start", function () {
    this.timeout(120_000);

    // patches/ makes cmd/dynamic-provider require the runtime's settings, the one thing of the runtime it uses,
    // instead of the runtime's index (about 0.7 s of every run of the program, a no-op included).
    it("loads neither @pulumi/pulumi's runtime index nor what only the closure serializer needs", () => {
        // The provider as its shim starts it (argv: the engine's address), stopped when it prints its port.
        const loaded = modulesLoaded([
            "process.argv = [process.argv[0], 'dynamic-provider', '127.0.0.1:1'];",
            "process.stdout.write = () => { report(); return true; };",
            "require('@pulumi/pulumi/cmd/dynamic-provider');",
        ].join("\n"));
        assert.deepStrictEqual(loaded.filter((file) => serializerModules.test(file) || file.startsWith("typescript/")), []);
    });
});
