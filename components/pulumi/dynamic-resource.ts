// A dynamic resource whose provider is serialized once per version of the code instead of once per run.
// @pulumi/pulumi's dynamic.Resource serializes its provider's closure in every process that declares it: every
// function the provider reaches is looked up through the V8 inspector and parsed again, about 2 s per run for our
// three providers, paid by a no-op `pulumi up` as much as by a deploy. The text it produces depends only on the
// code (the local modules' sources, the transpiler, the serializer), so it is kept on disk under a hash of exactly
// that and read back while nothing of it changed. The engine receives the very text the serializer wrote, so the
// state, and a teammate's machine reading it, cannot tell the difference.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { output, secret } from "@pulumi/pulumi/output";
import { CustomResource } from "@pulumi/pulumi/resource";

/** Bumped when what is kept changes shape. */
const cacheFormat = 1;
/** Kept per provider name; older texts are removed when a new one is written. */
const keptPerProvider = 8;
/** What transforms the sources into the text: their versions are part of the key. */
const toolchain = ["@pulumi/pulumi", "typescript", "ts-node", "@swc/core"];

export function providerCacheDir(): string {
    return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "iac", "providers");
}

function versionOf(name: string): string {
    try {
        return String(require(`${name}/package.json`).version);
    } catch {
        return "absent";
    }
}

/**
 * A hash of everything the serializer's output can depend on besides run-time values: every module loaded from
 * outside node_modules (the program and its components, which the serializer captures by value; node_modules are
 * captured as `require("name")`), the compiler options the program is transpiled with, and the toolchain's versions.
 * Run-time values captured from module scope would escape it: the providers keep none (no module-level state read
 * from the environment), which test/integration/dynamic-resource.test.ts checks against a fresh serialization.
 */
export function codeKey(): string {
    const hash = crypto.createHash("sha256");
    hash.update(JSON.stringify([cacheFormat, process.version, toolchain.map(versionOf), process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? null]));
    const local = Object.keys(require.cache).filter((file) => !file.split(path.sep).includes("node_modules"));
    const configs = fs.readdirSync(process.cwd()).filter((name) => /^tsconfig.*\.json$/.test(name)).map((name) => path.join(process.cwd(), name));
    for (const file of [...local.sort(), ...configs.sort()]) {
        hash.update(`${file}\0`);
        hash.update(fs.readFileSync(file));
        hash.update("\0");
    }
    return hash.digest("hex").slice(0, 32);
}

/** Undefined when the key cannot be made (a loaded module's file gone since): then the provider is serialized. */
function cacheFile(dir: string, name: string): string | undefined {
    try {
        return path.join(dir, `${name}-${codeKey()}.js`);
    } catch {
        return undefined;
    }
}

function readCached(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}

/** Atomic (a concurrent run reads a whole text or none), and never fatal: the cache only saves time. */
function writeCached(dir: string, name: string, file: string, text: string): void {
    try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const temp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(temp, text, { mode: 0o600 });
        fs.renameSync(temp, file);
        const older = fs.readdirSync(dir).filter((entry) => entry.startsWith(`${name}-`) && entry.endsWith(".js"))
            .map((entry) => ({ entry, mtime: fs.statSync(path.join(dir, entry)).mtimeMs }))
            .sort((a, b) => b.mtime - a.mtime).slice(keptPerProvider);
        for (const { entry } of older) {
            fs.rmSync(path.join(dir, entry), { force: true });
        }
    } catch {
        // A read-only or full cache directory costs the next run a serialization, nothing else.
    }
}

const serialized = new WeakMap<object, pulumi.Output<string>>();

// The serializer is loaded only when it runs: with it come @pulumi/pulumi's runtime index, its Automation API
// and TypeScript, about half a second of every run that finds the text kept. A require() when called, not an
// import(): swc leaves that to node's ESM loader, which does not resolve a path without its extension.
function serializer(): typeof import("@pulumi/pulumi/runtime/closure/serializeClosure") {
    return require("@pulumi/pulumi/runtime/closure/serializeClosure");
}

/**
 * The provider's text as the engine stores it. A text that captured a secret is never written to disk; it stays
 * secret in the state, as dynamic.Resource makes it.
 */
export function providerText(name: string, provider: object): pulumi.Output<string> {
    const known = serialized.get(provider);
    if (known) {
        return known;
    }
    const dir = providerCacheDir();
    const file = cacheFile(dir, name);
    const cached = file === undefined ? undefined : readCached(file);
    const text = cached !== undefined ? output(cached)
        : output(serializer().serializeFunction(() => provider, { allowSecrets: true }))
            .apply((result): pulumi.Output<string> => {
                if (result.containsSecrets) {
                    return secret(result.text);
                }
                if (file !== undefined) {
                    writeCached(dir, name, file, result.text);
                }
                return output(result.text);
            });
    serialized.set(provider, text);
    return text;
}

/**
 * pulumi.dynamic.Resource with the provider text from providerText: the same type token
 * (`pulumi-nodejs:dynamic/<module>:<type>`), so the engine runs it with the same default dynamic provider.
 */
export abstract class CachedDynamicResource extends CustomResource {
    protected constructor(provider: pulumi.dynamic.ResourceProvider, name: string, props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions | undefined, module: string, type: string) {
        if ("__provider" in props) {
            throw new Error("A dynamic resource must not define the __provider key");
        }
        super(`pulumi-nodejs:dynamic/${module}:${type}`, name, { ...props, __provider: providerText(`${module}-${type}`, provider) }, opts);
    }
}
