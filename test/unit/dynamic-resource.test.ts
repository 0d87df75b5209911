// The provider texts kept between runs: each is exactly what the SDK's serializer writes for the provider, kept only
// while the code it came from is unchanged, never with a captured secret, and free of this checkout's paths.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { codeKey, providerCacheDir, providerText } from "../../components/pulumi/dynamic-resource";
import { hostDeploymentProvider } from "../../components/pulumi/host-deployment";
import { imageDigestProvider } from "../../components/pulumi/image-digest";
import { imageOverviewProvider } from "../../components/pulumi/image-overview";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => { handler: () => Record<string, unknown> } = require("require-from-string");

/** An Output's value and whether it is secret, outside a Pulumi run. */
async function settle(output: pulumi.Output<string>): Promise<{ value: string; secret: boolean }> {
    const internal = output as unknown as { promise(): Promise<string>; isSecret: Promise<boolean> };
    return { value: await internal.promise(), secret: await internal.isSecret };
}

describe("dynamic-resource: provider texts kept between runs", function () {
    this.timeout(120_000);
    const projectRoot = path.resolve(__dirname, "..", "..");
    let cacheHome: string;
    let previous: string | undefined;

    before(() => {
        cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), "iac-provider-cache-"));
        previous = process.env.XDG_CACHE_HOME;
        process.env.XDG_CACHE_HOME = cacheHome;
    });
    after(() => {
        if (previous === undefined) {
            delete process.env.XDG_CACHE_HOME;
        } else {
            process.env.XDG_CACHE_HOME = previous;
        }
        fs.rmSync(cacheHome, { recursive: true, force: true });
    });

    const providers = { "iac-ImageDigest": imageDigestProvider, "iac-HostDeployment": hostDeploymentProvider, "iac-ImageOverview": imageOverviewProvider };

    for (const [name, provider] of Object.entries(providers)) {
        it(`${name}: the serializer's own text, written once and read back by the next run`, async () => {
            const fresh = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
            const first = await settle(providerText(name, provider));
            assert.strictEqual(first.value, fresh.text);
            assert.strictEqual(first.secret, false);
            const file = path.join(providerCacheDir(), `${name}-${codeKey()}.js`);
            assert.strictEqual(fs.readFileSync(file, "utf8"), fresh.text);
            // The text must work wherever the state is read: no path of this checkout in it.
            assert.ok(!fresh.text.includes(projectRoot), `${name}'s text names ${projectRoot}`);
            const loaded = requireFromString(fresh.text).handler();
            for (const method of ["diff", "create", "update", "read"]) {
                assert.strictEqual(typeof loaded[method], "function", `${name}.${method}`);
            }

            // Another run (another provider object, as a new process has) reads the text instead of serializing.
            fs.writeFileSync(file, `${fresh.text}\n// read back`);
            assert.strictEqual((await settle(providerText(name, { ...provider }))).value, `${fresh.text}\n// read back`);
            fs.writeFileSync(file, fresh.text);
        });
    }

    it("keys the texts by the code: another source of any local module is another key", () => {
        const before = codeKey();
        assert.strictEqual(codeKey(), before);
        const module = path.join(cacheHome, "local-module.js");
        fs.writeFileSync(module, "exports.value = 1;\n");
        require(module);
        const withModule = codeKey();
        assert.notStrictEqual(withModule, before);
        fs.writeFileSync(module, "exports.value = 2;\n");
        assert.notStrictEqual(codeKey(), withModule);
        delete require.cache[require.resolve(module)];
    });

    it("serializes, and keeps nothing, when the key cannot be made (a loaded module's file is gone)", async () => {
        const module = path.join(cacheHome, "gone-module.js");
        fs.writeFileSync(module, "exports.value = 1;\n");
        require(module);
        fs.rmSync(module);
        try {
            const provider = { async create() { return { id: "x", outs: {} }; } };
            const fresh = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
            assert.strictEqual((await settle(providerText("iac-GoneTest", provider))).value, fresh.text);
            const written = fs.existsSync(providerCacheDir()) ? fs.readdirSync(providerCacheDir()) : [];
            assert.deepStrictEqual(written.filter((entry) => entry.startsWith("iac-GoneTest")), []);
        } finally {
            delete require.cache[module];
        }
    });

    it("never writes a text that captured a secret, and keeps it secret", async () => {
        const token = pulumi.secret("s3cr3t-value");
        const provider = { async create() { return { id: "x", outs: { token } }; } };
        const { value, secret } = await settle(providerText("iac-SecretTest", provider));
        assert.strictEqual(secret, true);
        assert.ok(value.includes("s3cr3t-value"));
        const written = fs.existsSync(providerCacheDir()) ? fs.readdirSync(providerCacheDir()) : [];
        assert.deepStrictEqual(written.filter((entry) => entry.startsWith("iac-SecretTest")), []);
    });
});

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

    it("loads neither @pulumi/pulumi's index (with its Automation API) nor its closure serializer", () => {
        // The program as `pulumi up` compiles it; it stops at its config outside a Pulumi run, its modules loaded.
        const loaded = modulesLoaded("try { require('./index.ts'); } catch {}\nreport();", ["-r", "ts-node/register"],
            { ...process.env, TS_NODE_PROJECT: "tsconfig.pulumi.json" });
        assert.deepStrictEqual(loaded.filter((file) => serializerModules.test(file)), []);
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
