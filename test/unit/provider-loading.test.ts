// The providers as the engine's dynamic-provider process loads them: the `__provider` text each resource records
// is a few lines that require the providers' entry from the project's root, in plain node (no ts-node), which
// compiles their TypeScript on require; and the interface version that keeps an older checkout off a newer record.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { ProviderType, providerText } from "../../components/pulumi/dynamic-resource";
import { NewerRecordError, providerInterface, stamped } from "../../components/providers/interface-version";

const projectRoot = path.resolve(__dirname, "..", "..");
const types: ProviderType[] = ["ImageDigest", "HostDeployment", "StackIdentity"];
/** A type no program declares any more, whose resources stacks deployed before still hold: the text they recorded. */
const retiredText = (type: string) => providerText("ImageDigest").replace(JSON.stringify("ImageDigest"), JSON.stringify(type));

/** What plain node, started in the project's root as the engine starts its providers, makes of each text. */
function loadInPlainNode(): Record<string, unknown> {
    const script = `
        const requireFromString = require("require-from-string");
        const texts = JSON.parse(process.argv[1]);
        (async () => {
            const methods = {};
            for (const [type, text] of Object.entries(texts)) {
                methods[type] = Object.keys(requireFromString(text).handler()).sort();
            }
            const identity = await requireFromString(texts.StackIdentity).handler().create({});
            const loaded = Object.keys(require.cache);
            process.stdout.write(JSON.stringify({
                methods, identity, tsHook: typeof require.extensions[".ts"],
                sdkRuntimeIndex: loaded.filter((file) => /@pulumi[\\\\/]pulumi[\\\\/](index|runtime[\\\\/](index|closure[\\\\/].*))\\.js$/.test(file)),
                typescript: loaded.filter((file) => /[\\\\/]node_modules[\\\\/](typescript|ts-node)[\\\\/]/.test(file)),
            }));
        })().catch((error) => { console.error(error); process.exit(1); });`;
    const texts = { ...Object.fromEntries(types.map((type) => [type, providerText(type)])), ImageOverview: retiredText("ImageOverview") };
    const env = { ...process.env };
    delete env.TS_NODE_PROJECT;
    delete env.NODE_OPTIONS;
    return JSON.parse(execFileSync(process.execPath, ["-e", script, JSON.stringify(texts)], { cwd: projectRoot, env, encoding: "utf8" }));
}

describe("providers loaded from the checkout", function () {
    this.timeout(60_000);

    it("records a few lines per type, naming no path of this checkout", () => {
        for (const type of types) {
            const text = providerText(type);
            assert.ok(text.split("\n").length <= 3 && text.length < 300, text);
            assert.ok(!text.includes(projectRoot), text);
            assert.ok(text.includes(JSON.stringify(type)), text);
        }
    });

    it("loads every provider in plain node from the project's root, without the SDK's runtime index or TypeScript", () => {
        const result = loadInPlainNode() as {
            methods: Record<string, string[]>; identity: { id: string; outs: Record<string, unknown> }; tsHook: string;
            sdkRuntimeIndex: string[]; typescript: string[];
        };
        assert.strictEqual(result.tsHook, "function", "the entry compiles TypeScript when nothing else does");
        assert.deepStrictEqual(result.methods, {
            ImageDigest: ["check", "create", "delete", "diff", "read", "update"],
            HostDeployment: ["create", "delete", "diff", "read", "update"],
            // Retired (the listing is the ImageDigest's now): nothing to call, so the engine's delete of such a
            // resource, and a refresh before that, change nothing.
            ImageOverview: [],
            StackIdentity: ["create", "diff", "read"],
        });
        assert.deepStrictEqual(result.identity.outs, { value: result.identity.id, providerInterface });
        assert.deepStrictEqual(result.sdkRuntimeIndex, []);
        assert.deepStrictEqual(result.typescript, []);
    });

    it("says so when a type has no provider in this checkout", () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const entry = require(path.join(projectRoot, "components", "providers", "load.js")) as { provider(type: string): unknown };
        assert.throws(() => entry.provider("Unheard"), /no dynamic provider for resource type "Unheard".*pull/);
        assert.throws(() => entry.provider("toString"), /no dynamic provider for resource type "toString"/);
    });
});

describe("the providers' interface version", () => {
    type Outs = { value: string; providerInterface?: number };
    const calls: string[] = [];
    const provider = stamped<Record<string, never>, Outs>("Thing", {
        async create() {
            calls.push("create");
            return { id: "t1", outs: { value: "made" } };
        },
        async diff() {
            calls.push("diff");
            return { changes: false };
        },
        async update(_id, olds) {
            calls.push("update");
            return { outs: { value: olds.value } };
        },
        async read(id) {
            calls.push("read");
            // Like ImageOverview's read, a record made afresh: the stamp comes from the wrapper.
            return { id, props: { value: "read" } };
        },
        async delete() {
            calls.push("delete");
        },
    }) as Required<pulumi.dynamic.ResourceProvider<Record<string, never>, Outs>>;

    beforeEach(() => (calls.length = 0));

    it("stamps what it creates and updates with this version", async () => {
        assert.strictEqual((await provider.create({})).outs!.providerInterface, providerInterface);
        assert.strictEqual((await provider.update("t1", { value: "v" }, {})).outs!.providerInterface, providerInterface);
    });

    it("keeps on refresh the stamp it found, and adds none to a record from before stamps", async () => {
        assert.deepStrictEqual((await provider.read("t1", { value: "v", providerInterface })).props, { value: "read", providerInterface });
        assert.deepStrictEqual((await provider.read("t1", { value: "v" })).props, { value: "read" });
    });

    it("refuses a record written by later providers before reading or changing anything, saying to pull", async () => {
        const newer = { value: "v", providerInterface: providerInterface + 1 };
        const refusal = (error: unknown) => error instanceof NewerRecordError &&
            error.message.includes(`Thing t1 was last written by providers of interface version ${providerInterface + 1}`) &&
            /git pull/.test(error.message);
        await assert.rejects(provider.diff("t1", newer, {}), refusal);
        await assert.rejects(provider.update("t1", newer, {}), refusal);
        await assert.rejects(provider.read("t1", newer), refusal);
        await assert.rejects(provider.delete("t1", newer), refusal);
        assert.deepStrictEqual(calls, []);
    });

    it("serves records of this version, of earlier ones and from before stamps", async () => {
        for (const record of [{ value: "v", providerInterface }, { value: "v", providerInterface: providerInterface - 1 }, { value: "v" }]) {
            await provider.diff("t1", record, {});
            await provider.delete("t1", record);
        }
        assert.deepStrictEqual(calls, ["diff", "delete", "diff", "delete", "diff", "delete"]);
    });
});
