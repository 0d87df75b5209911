import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { parseOptions, resolvePackageManager, shellSplit } from "../src/options";

describe("language host: runtime options", () => {
    it("defaults to TypeScript, no tsconfig, no node args, the package manager found by lock file", () => {
        assert.deepStrictEqual(parseOptions(undefined), {
            typescript: true,
            tsconfigpath: "",
            nodeargs: "",
            packagemanager: "auto",
            production: false,
        });
    });

    it("takes Pulumi.yaml's option names (tsconfig, not tsconfigpath)", () => {
        const opts = parseOptions({
            typescript: false,
            tsconfig: "tsconfig.pulumi.json",
            nodeargs: "--max-old-space-size=4096",
            packagemanager: "pnpm",
            production: true,
        });
        assert.deepStrictEqual(opts, {
            typescript: false,
            tsconfigpath: "tsconfig.pulumi.json",
            nodeargs: "--max-old-space-size=4096",
            packagemanager: "pnpm",
            production: true,
        });
    });

    it("refuses wrongly typed values with upstream's messages", () => {
        assert.throws(() => parseOptions({ typescript: "yes" }), /typescript option must be a boolean/);
        assert.throws(() => parseOptions({ tsconfig: 1 }), /tsconfigpath option must be a string/);
        assert.throws(() => parseOptions({ nodeargs: ["--x"] }), /nodeargs option must be a string/);
        assert.throws(() => parseOptions({ packagemanager: "deno" }), /must be one of auto, npm, yarn, pnpm or bun, got "deno"/);
        assert.throws(() => parseOptions({ production: "true" }), /production option must be a boolean/);
    });

    it("splits nodeargs as a shell does", () => {
        assert.deepStrictEqual(shellSplit(`--a 'b c' "d \\"e\\"" f\\ g # comment`), ["--a", "b c", 'd "e"', "f g"]);
        assert.deepStrictEqual(shellSplit("  "), []);
        assert.deepStrictEqual(shellSplit("''"), [""]);
        assert.throws(() => shellSplit("'open"), /expecting closing quote/);
        assert.throws(() => shellSplit("end\\"), /after escape character/);
    });

    it("picks the package manager by the nearest lock file up from the program, npm without one", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-pm-"));
        try {
            const program = path.join(root, "a", "b");
            fs.mkdirSync(program, { recursive: true });
            assert.strictEqual(resolvePackageManager("auto", program), "npm");
            fs.writeFileSync(path.join(root, "a", "pnpm-lock.yaml"), "");
            assert.strictEqual(resolvePackageManager("auto", program), "pnpm");
            fs.writeFileSync(path.join(program, "yarn.lock"), "");
            assert.strictEqual(resolvePackageManager("auto", program), "yarn");
            assert.strictEqual(resolvePackageManager("bun", program), "bun");
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
