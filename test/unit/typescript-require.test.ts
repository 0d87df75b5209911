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
 * from requiring `file`; and whether it started swc.
 */
function load(file: string, cacheHome: string): { value: unknown; swc: boolean } {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
    delete env.NODE_OPTIONS;
    const probe = `const value = require(${JSON.stringify(file)}).value;
        process.stdout.write(JSON.stringify({ value, swc: Object.keys(require.cache).some((f) => f.includes("@swc/core")) }));`;
    return JSON.parse(execFileSync(process.execPath, ["--require", hook, "-e", probe], { cwd: projectRoot, env, encoding: "utf8" }));
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
        assert.deepStrictEqual(fs.readdirSync(path.join(cacheHome, "iac", "typescript")).length, 1);
        fs.writeFileSync(file, `const parts: string[] = ["${marker}", "edited"];\nexport const value = parts.join(" ");\n`);
        assert.deepStrictEqual(load(file, cacheHome), { value: `${marker} edited`, swc: true });
        assert.deepStrictEqual(load(file, cacheHome), { value: `${marker} edited`, swc: false });
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
