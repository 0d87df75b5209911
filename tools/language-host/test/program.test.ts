import * as assert from "assert";

import { parseOptions } from "../src/options";
import { constructConfig, programArguments, programEnvironment, ProgramRun } from "../src/program";

const run = (overrides: Partial<ProgramRun> = {}): ProgramRun => ({
    monitorAddress: "127.0.0.1:1",
    engineAddress: "127.0.0.1:2",
    organization: "",
    project: "iac",
    rootDirectory: "/prog",
    stack: "dev",
    programDirectory: "/prog",
    dryRun: false,
    parallel: 16,
    tracing: "",
    entryPoint: ".",
    args: [],
    config: [],
    secretKeys: [],
    options: parseOptions(undefined),
    ...overrides,
});

describe("language host: what a Run hands the program", () => {
    it("passes cmd/run the flags upstream passes, leaving out empty values", () => {
        assert.deepStrictEqual(programArguments("/nm/run", run({ dryRun: true, args: ["x"] })), [
            "/nm/run", "--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--project", "iac", "--root-directory", "/prog",
            "--stack", "dev", "--pwd", "/prog", "--dry-run", "--parallel", "16", ".", "x",
        ]);
        const traced = programArguments("/nm/run", run({ tracing: "file:/t", organization: "org" }));
        assert.deepStrictEqual(traced.slice(traced.indexOf("--tracing"), traced.indexOf("--tracing") + 2), ["--tracing", "file:/t"]);
        assert.ok(traced.includes("--organization"));
    });

    it("writes config keys in the namespace:config:name form every SDK reads, from either form", () => {
        assert.strictEqual(
            constructConfig([["iac:apps", '["hello-world"]'], ["hello-world:config:tag", "eb53023"]]),
            JSON.stringify({ "iac:config:apps": '["hello-world"]', "hello-world:config:tag": "eb53023" }),
        );
        assert.throws(() => constructConfig([["a:b:c", "v"]]), /could not parse a:b:c as a configuration key/);
    });

    it("puts config, secret keys and the TypeScript options in the environment, keeping the host's own", () => {
        const env = programEnvironment(
            { PATH: "/bin", PULUMI_CONFIG: "stale" },
            run({ config: [["iac:registry", "r:5000"]], secretKeys: ["iac:sshPrivateKey"], options: parseOptions({ tsconfig: "t.json" }) }),
        );
        assert.strictEqual(env.PATH, "/bin");
        assert.strictEqual(env.PULUMI_CONFIG, '{"iac:config:registry":"r:5000"}');
        assert.strictEqual(env.PULUMI_CONFIG_SECRET_KEYS, '["iac:sshPrivateKey"]');
        assert.strictEqual(env.PULUMI_NODEJS_TYPESCRIPT, "true");
        assert.strictEqual(env.PULUMI_NODEJS_TSCONFIG_PATH, "t.json");
    });

    it("sets no TypeScript variables for a JavaScript program, and names a bad config key", () => {
        const env = programEnvironment({}, run({ options: parseOptions({ typescript: false }) }));
        assert.strictEqual(env.PULUMI_NODEJS_TYPESCRIPT, undefined);
        assert.strictEqual(env.PULUMI_NODEJS_TSCONFIG_PATH, undefined);
        assert.throws(() => programEnvironment({}, run({ config: [["bad", "v"]] })), /failed to serialize configuration: could not parse bad/);
    });
});
