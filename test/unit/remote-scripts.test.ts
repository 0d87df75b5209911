// The host scripts as text: what they say, that sh can parse them, and that nothing unvalidated gets in.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fc from "fast-check";
import { renderDeployInfo } from "../../components/deploy-info";
import {
    AppLocation, DeploySpec, appDir, buildDeployScript, buildReadRecordsScript, buildRemoveScript, buildStageScript, splitRecords,
    shellQuote,
} from "../../components/remote/scripts";

const digest = "sha256:" + "e".repeat(64);
const location: AppLocation = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt" };
const spec: DeploySpec = {
    ...location, registry: "127.0.0.1:5000", repository: "rednaw/hello-world", digest, services: ["web"],
    contentHash: "0123456789abcdef", healthTimeoutSeconds: 120,
    deployInfoYaml: renderDeployInfo({
        app: "hello-world", workspace: "dev", image: "127.0.0.1:5000/rednaw/hello-world", tag: "eb53023", digest,
        description: "it's \"quoted\" $(not run)", deployed_by: "wander@casa",
    }),
};

const parses = (script: string) => spawnSync("sh", ["-n"], { input: script }).status === 0;

describe("host scripts (text)", () => {
    it("quotes any string so that sh reads back exactly that string", () => {
        fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")), (value) => {
            assert.strictEqual(execFileSync("sh", ["-c", `printf %s ${shellQuote(value)}`], { encoding: "utf8" }), value);
        }), { numRuns: 200 });
    });

    it("deploys the pinned ref under the app's lock, with the health timeout", () => {
        const script = buildDeployScript(spec);
        assert.ok(parses(script));
        assert.match(script, /^set -eu\napp_dir='\/opt\/rednaw\/hello-world'\n/);
        assert.ok(script.includes(`ref='127.0.0.1:5000/rednaw/hello-world@${digest}'`));
        assert.ok(script.includes("flock -w 600 9"));
        assert.ok(script.includes("docker compose -p 'hello-world' -f 'compose.yml' --env-file /dev/null pull --quiet"));
        assert.ok(script.includes("timeout 150 docker compose -p 'hello-world' -f 'compose.yml' --env-file /dev/null up -d --wait --wait-timeout 120 --remove-orphans"));
        assert.ok(script.includes("cp 'staged/compose.0123456789abcdef.yml' compose.yml"));
        assert.ok(!script.includes("docker login"), "no login without registry credentials");
        assert.ok(!script.includes("$(not run)"), "label text travels encoded, never as shell");
    });

    it("logs in with the password on stdin only", () => {
        const script = buildDeployScript({ ...spec, registryUsername: "deployer" });
        assert.ok(parses(script));
        assert.ok(script.includes("docker login --username 'deployer' --password-stdin '127.0.0.1:5000'"));
    });

    it("writes deploy-info.yml only after the running digest was verified, atomically, then appends the history", () => {
        const script = buildDeployScript(spec);
        const verify = script.indexOf("running_target || fail");
        const write = script.indexOf("> deploy-info.yml.tmp");
        const rename = script.indexOf("mv deploy-info.yml.tmp deploy-info.yml");
        const history = script.indexOf(">> deploy-history.yml");
        assert.ok(verify > 0 && verify < write && write < rename && rename < history, "verify → write tmp → rename → history");
    });

    it("rejects anything that is not a validated value before building a script", () => {
        const bad: Partial<DeploySpec>[] = [
            { app: "hello;world" }, { workspace: "dev$(id)" }, { org: "Rednaw" }, { deployRoot: "/opt/../etc" },
            { deployRoot: "opt" }, { deployRoot: "/opt; rm -rf /" }, { registry: "127.0.0.1:5000;id" },
            { repository: "rednaw/hello world" }, { digest: "sha256:abc" }, { services: ["web`id`"] },
            { contentHash: "../../etc" }, { deployInfoYaml: "app: x\n" },
        ];
        for (const change of bad) {
            assert.throws(() => buildDeployScript({ ...spec, ...change }), `should reject ${JSON.stringify(change)}`);
        }
    });

    it("stages compose content encoded and the env file from stdin", () => {
        const script = buildStageScript(location, "0123456789abcdef", "services:\n  web:\n    image: x@sha256:1 # '$(id)\n");
        assert.ok(parses(script));
        assert.ok(script.includes("umask 077"));
        assert.ok(script.includes("cat > 'staged/app.0123456789abcdef.env'.tmp"));
        assert.ok(!script.includes("$(id)"));
    });

    it("removes: compose down, then deploy-info.yml into the history with removed_at", () => {
        const script = buildRemoveScript(location);
        assert.ok(parses(script));
        assert.ok(script.indexOf("down --remove-orphans") < script.indexOf("removed_at"));
        assert.ok(script.includes("rm -f deploy-info.yml"));
        assert.ok(parses(buildReadRecordsScript(location)));
        assert.ok(buildReadRecordsScript(location).startsWith("d='/opt/rednaw/hello-world'\n"));
        assert.deepStrictEqual(splitRecords("app: a\n#--- deploy-history.yml ---\n---\napp: b\n"), { deployInfo: "app: a\n", history: "---\napp: b\n" });
        assert.deepStrictEqual(splitRecords("#--- deploy-history.yml ---\n"), { deployInfo: "", history: "" });
        assert.strictEqual(appDir({ ...location, deployRoot: "/tmp/x/opt/" }), "/tmp/x/opt/rednaw/hello-world");
    });
});
