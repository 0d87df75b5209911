// Compiles the project's TypeScript as it is required, in the two processes that run it outside ts-node: the
// program under `pulumi` (Pulumi.yaml's `nodeargs` preloads this file, with `typescript: false`, so the
// language host loads neither TypeScript's compiler nor ts-node) and the engine's dynamic-provider process
// (components/providers/load.js). Like `pulumi up` with `noCheck`, it transpiles without type checking
// (scripts/lint type-checks), with swc, to tsconfig.json's target and module format; no .swcrc is read, as
// ts-node read none.
//
// What swc makes of a file is kept in the user's cache (XDG_CACHE_HOME, as the registry's cache), named by a hash
// of everything it depends on (swc's version, the options, the file's path and text), so a run whose files did not
// change loads them without starting swc; an edited file is a new name, never a stale entry. An entry ends with its
// own name and is used only when it does: one cut short (a crash before the disk had it, a full disk) or written
// over is compiled again, never run as it is, since an empty program would plan to delete every app. A cache that
// cannot be written (a full disk, a read-only or missing home) only costs the compile.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { userCacheDir } = require("./cache-home");

const options = (filename) => ({
    filename,
    swcrc: false,
    configFile: false,
    // Inline, and handed to source-map-support below, so stack traces name the TypeScript's own lines.
    sourceMaps: "inline",
    module: { type: "commonjs" },
    jsc: { parser: { syntax: "typescript" }, target: "es2022" },
});

const projectRoot = path.resolve(__dirname, "..");

const cacheDir = userCacheDir("typescript");
let swcVersion;

/** swc's version, from its package.json: reading it does not load swc's native binding. */
function compilerVersion() {
    swcVersion ??= JSON.parse(fs.readFileSync(require.resolve("@swc/core/package.json", { paths: [projectRoot] }), "utf8")).version;
    return swcVersion;
}

/** The last line of an entry named `key`: what makes a whole entry tell itself from a cut or foreign one. */
const trailer = (key) => `\n// iac-typescript ${key}\n`;

function readEntry(file, key) {
    try {
        const text = fs.readFileSync(file, "utf8");
        return text.endsWith(trailer(key)) ? text : null;
    } catch {
        return null;
    }
}

function writeEntry(file, text) {
    // Written aside under a name of its own, on the disk before it is renamed into place.
    const partial = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`;
    try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const fd = fs.openSync(partial, "wx");
        try {
            fs.writeFileSync(fd, text);
            fs.fsyncSync(fd);
        } finally {
            fs.closeSync(fd);
        }
        fs.renameSync(partial, file);
    } catch {
        // Compiled again next time; what a full disk let through is not kept.
        fs.rm(partial, () => {});
        return;
    }
    // The file's earlier versions, and what a crash left half written, are of no use now: the cache holds one
    // entry per file. Another process's write in flight may go too; it only compiles again next time.
    const dir = path.dirname(file);
    fs.readdir(dir, (error, names) => {
        for (const name of error ? [] : names) {
            if (name !== path.basename(file)) {
                fs.rm(path.join(dir, name), () => {});
            }
        }
    });
}

/** The JavaScript of `source`, from the cache or compiled (and cached). */
function compiled(filename, source) {
    const key = crypto.createHash("sha256").update(JSON.stringify([compilerVersion(), options(filename), source])).digest("hex");
    // A dir per file (by its path), so that writing one version can drop the others.
    const file = cacheDir === null ? null
        : path.join(cacheDir, crypto.createHash("sha256").update(filename).digest("hex").slice(0, 32), `${key}.js`);
    const cached = file === null ? null : readEntry(file, key);
    if (cached !== null) {
        return cached;
    }
    const code = require("@swc/core").transformSync(source, options(filename)).code + trailer(key);
    if (file !== null) {
        writeEntry(file, code);
    }
    return code;
}

/** What each file compiled to, for source-map-support, which otherwise reads the .ts on disk and finds no map there. */
const compiledFiles = new Map();

/**
 * Compiles `.ts` on require, unless something already does: the tests run under ts-node, whose hook (and its
 * settings) must stay the one in force there.
 */
function compileTypeScript() {
    if (require.extensions[".ts"]) {
        return;
    }
    require("source-map-support").install({
        environment: "node",
        retrieveFile: (file) => compiledFiles.get(file) ?? null,
    });
    require.extensions[".ts"] = (module, filename) => {
        const code = compiled(filename, fs.readFileSync(filename, "utf8"));
        compiledFiles.set(filename, code);
        module._compile(code, filename);
    };
}

compileTypeScript();
module.exports = { compiled };
