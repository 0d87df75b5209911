// Compiles the project's TypeScript as it is required, in the two processes that run it outside ts-node: the
// program under `pulumi` (Pulumi.yaml's `nodeargs` preloads this file, with `typescript: false`, so the
// language host loads neither TypeScript's compiler nor ts-node) and the engine's dynamic-provider process
// (components/providers/load.js). Like `pulumi up` with `noCheck`, it transpiles without type checking
// (scripts/lint type-checks), with swc, to tsconfig.json's target and module format.
//
// What swc makes of a file is kept in the user's cache (XDG_CACHE_HOME, as the registry's cache), named by a hash
// of everything it depends on (swc's version, the options, the file's path and text), so a run whose files did not
// change loads them without starting swc; an edited file is a new name, never a stale entry. A cache that cannot
// be written (a full disk, a read-only home) only costs the compile.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const options = (filename) => ({
    filename,
    // Inline, for the stack traces that source-map-support prints with the file's own lines.
    sourceMaps: "inline",
    module: { type: "commonjs" },
    jsc: { parser: { syntax: "typescript" }, target: "es2022" },
});

const projectRoot = path.resolve(__dirname, "..");
const cacheDir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "iac", "typescript");
let swcVersion;

/** swc's version, from its package.json: reading it does not load swc's native binding. */
function compilerVersion() {
    swcVersion ??= JSON.parse(fs.readFileSync(require.resolve("@swc/core/package.json", { paths: [projectRoot] }), "utf8")).version;
    return swcVersion;
}

/** The JavaScript of `source`, from the cache or compiled (and cached). */
function compiled(filename, source) {
    const key = crypto.createHash("sha256").update(JSON.stringify([compilerVersion(), options(filename), source])).digest("hex");
    const cached = path.join(cacheDir, `${key}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        // Not compiled yet: below.
    }
    const { code } = require("@swc/core").transformSync(source, options(filename));
    // Written aside and renamed, so a process that dies mid-write never leaves half a file under the name.
    const partial = `${cached}.${process.pid}.tmp`;
    try {
        fs.mkdirSync(cacheDir, { recursive: true });
        fs.writeFileSync(partial, code);
        fs.renameSync(partial, cached);
    } catch {
        // Compiled again next time; what a full disk let through is not kept.
        fs.rm(partial, () => {});
    }
    return code;
}

/**
 * Compiles `.ts` on require, unless something already does: the tests run under ts-node, whose hook (and its
 * settings) must stay the one in force there.
 */
function compileTypeScript() {
    if (require.extensions[".ts"]) {
        return;
    }
    require.extensions[".ts"] = (module, filename) => module._compile(compiled(filename, fs.readFileSync(filename, "utf8")), filename);
}

compileTypeScript();
module.exports = { compiled };
