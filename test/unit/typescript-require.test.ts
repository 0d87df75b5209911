// components/typescript-require.js compiles the program's and the providers' TypeScript outside ts-node, and keeps
// what swc made of each file: a file that did not change loads without starting swc, an edited one compiles anew,
// and a cache that cannot be written costs the compile, nothing else.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const projectRoot = path.resolve(__dirname, "..", "..");
const hook = path.join(projectRoot, "components", "typescript-require.js");

/**
 * What a fresh node, the hook preloaded as Pulumi.yaml's nodeargs preload it and its cache under `cacheHome`, gets
 * from requiring `file`: its `value` (or the stack of what it threw); and whether it started swc.
 */
function load(file: string, cacheHome: string, more: NodeJS.ProcessEnv = {}, cwd = projectRoot): { value: unknown; swc: boolean } {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome, ...more };
    delete env.NODE_OPTIONS;
    const probe = `let value; try { value = require(${JSON.stringify(file)}).value; } catch (error) { value = error.stack; }
        process.stdout.write(JSON.stringify({ value, swc: Object.keys(require.cache).some((f) => f.includes("@swc/core")) }));`;
    return JSON.parse(execFileSync(process.execPath, ["--require", hook, "-e", probe], { cwd, env, encoding: "utf8" }));
}

/** The cache's entries under `cacheHome`, as paths below its root (one dir per source file). */
function entriesOf(cacheHome: string): string[] {
    const root = path.join(cacheHome, "iac", "typescript");
    return fs.readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile()).map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)));
}

describe("the TypeScript require hook of the program and the providers", function () {
    this.timeout(60_000);
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-ts-require-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("compiles a file once, loads it unchanged from the cache without swc, and compiles an edited one anew", () => {
        const file = path.join(dir, "module.ts");
        const marker = "compiled";
        fs.writeFileSync(file, `const parts: string[] = ["${marker}"];\nexport const value = parts.join("");\n`);
        const cacheHome = path.join(dir, "cache");
        assert.deepStrictEqual(load(file, cacheHome), { value: marker, swc: true });
        assert.deepStrictEqual(load(file, cacheHome), { value: marker, swc: false });
        const [first] = entriesOf(cacheHome);
        assert.deepStrictEqual(entriesOf(cacheHome), [first]);
        fs.writeFileSync(file, `const parts: string[] = ["${marker}", "edited"];\nexport const value = parts.join(" ");\n`);
        assert.deepStrictEqual(load(file, cacheHome), { value: `${marker} edited`, swc: true });
        assert.deepStrictEqual(load(file, cacheHome), { value: `${marker} edited`, swc: false });
        // One entry per file: the edit's replaced the first, and took with it what a crash had left half written.
        const leftOver = path.join(cacheHome, "iac", "typescript", `${first}.123.abc.tmp`);
        fs.writeFileSync(leftOver, "half");
        fs.writeFileSync(file, `export const value: string = "${marker} again";\n`);
        assert.deepStrictEqual(load(file, cacheHome), { value: `${marker} again`, swc: true });
        const entries = entriesOf(cacheHome);
        assert.strictEqual(entries.length, 1, entries.join(", "));
        assert.notStrictEqual(entries[0], first);
        assert.strictEqual(path.dirname(entries[0]), path.dirname(first));
    });

    it("compiles an entry cut short or written over again, and never runs it as it is", () => {
        const file = path.join(dir, "module.ts");
        fs.writeFileSync(file, `export const value: string = "whole";\n`);
        const cacheHome = path.join(dir, "cache");
        assert.deepStrictEqual(load(file, cacheHome), { value: "whole", swc: true });
        const [entry] = entriesOf(cacheHome).map((name) => path.join(cacheHome, "iac", "typescript", name));
        for (const broken of ["", "exports.value = 'empty';\n", fs.readFileSync(entry, "utf8").slice(0, -10)]) {
            fs.writeFileSync(entry, broken);
            assert.deepStrictEqual(load(file, cacheHome), { value: "whole", swc: true });
            assert.deepStrictEqual(load(file, cacheHome), { value: "whole", swc: false }, "the entry written again");
        }
    });

    it("reports the TypeScript's own lines in stack traces", () => {
        const file = path.join(dir, "thrower.ts");
        fs.writeFileSync(file, ["interface Unused {", "    a: string;", "}", "", "type Alias = Unused;", "", "export const value: string = (() => {",
            "    throw new Error(\"from line 8\");", "})();", ""].join("\n"));
        const cacheHome = path.join(dir, "cache");
        assert.match(String(load(file, cacheHome).value), /from line 8\n\s+at .*thrower\.ts:8:/);
        assert.match(String(load(file, cacheHome).value), /from line 8\n\s+at .*thrower\.ts:8:/, "from the cache too");
    });

    it("keeps its cache in ~/.cache when XDG_CACHE_HOME is empty or relative, as XDG says, never in the working dir", () => {
        const file = path.join(dir, "module.ts");
        fs.writeFileSync(file, `export const value: string = "home";\n`);
        const home = path.join(dir, "home");
        const cwd = path.join(dir, "cwd");
        fs.mkdirSync(cwd);
        for (const xdg of ["", "relative/cache"]) {
            assert.deepStrictEqual(load(file, xdg, { HOME: home }, cwd).value, "home");
        }
        assert.strictEqual(entriesOf(path.join(home, ".cache")).length, 1);
        // No home to speak of either: no cache, and still nothing in the working dir.
        for (const emptyHome of ["", "relative-home"]) {
            assert.deepStrictEqual(load(file, "", { HOME: emptyHome }, cwd), { value: "home", swc: true });
        }
        assert.deepStrictEqual(fs.readdirSync(cwd), []);
    });

    it("reads no .swcrc, as ts-node read none", () => {
        const file = path.join(dir, "module.ts");
        fs.writeFileSync(file, "export const value = (function named(longParameterName: string) { return longParameterName; }).toString();\n");
        fs.writeFileSync(path.join(dir, ".swcrc"), JSON.stringify({ minify: true, jsc: { minify: { mangle: true } } }));
        assert.match(String(load(file, path.join(dir, "cache"), {}, dir).value), /longParameterName/);
    });

    it("compiles every time, and loads right, where the cache cannot be written", () => {
        const file = path.join(dir, "module.ts");
        const marker = "unwritable";
        fs.writeFileSync(file, `export const value: string = "${marker}";\n`);
        // A file where the cache's home would be: as on a full disk or a read-only home, nothing can be written there.
        const cacheHome = path.join(dir, "not-a-dir");
        fs.writeFileSync(cacheHome, "");
        assert.deepStrictEqual(load(file, cacheHome), { value: marker, swc: true });
        assert.deepStrictEqual(load(file, cacheHome), { value: marker, swc: true });
    });
});
