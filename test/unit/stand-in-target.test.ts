// A third deploy target, registered from this file alone: the program's graph takes it from iac:target, renders
// the template and env file its way, and the very deploy phase HostDeployment would send runs it to a recorded
// deploy (in a scratch deploy root, by a real sh), which observation reads back and removal takes down.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { renderRecordParts } from "../../components/model/deploy-info";
import { buildDeployPhase } from "../../components/remote/deploy-phase";
import { AppLocation, appDir } from "../../components/remote/layout";
import { driftOf, parseObservation } from "../../components/remote/observation";
import { DeploySpec, buildObserveScript, buildRemoveScript } from "../../components/remote/scripts";
import { registerTarget, targetNames } from "../../components/remote/targets/registry";
import { TargetController } from "../../components/remote/targets/target";
import { directStackConfig, outputValue, runProgram, stackConfig } from "../helpers/mock-program";

/** Runs "whatever the compose file names" by writing the reference to a file of the app dir. */
const standIn: TargetController = {
    name: "standin",
    preflight: (engineCheck) => engineCheck,
    translateTemplate(doc) {
        doc.set("x-run-by", "standin");
        return undefined;
    },
    envLine: (key, value) => `${key}: ${JSON.stringify(value)}\n`,
    functions: () => [
        "standin_up() { printf '%s\\n' \"$1\" > \"$app_dir/standin.running\"; }",
        "standin_running() { [ \"$(cat \"$app_dir/standin.running\" 2>/dev/null)\" = \"$1\" ]; }",
        "standin_down() { rm -f \"$app_dir/standin.running\"; }",
    ],
    prepare: () => ["say 'preparing the stand-in'"],
    takeOver: () => [],
    waiting: (seconds) => `waiting up to ${seconds} s for the stand-in`,
    upFailure: () => "the stand-in did not start",
    remove: (location) => [`rm -f '${appDir(location)}/standin.running'`],
    removeLeftovers: () => [],
    observeHost: () => [],
    hostVariables: [],
    observe: (location, markers) => [
        `running=$(cat '${appDir(location)}/standin.running' 2>/dev/null || true)`,
        "[ -z \"$running\" ] || echo \"web running stand-in\"",
        `echo '${markers.images}'`,
        "[ -z \"$running\" ] || echo \"stand-in $running\"",
    ],
    keptReferences: () => [],
};

describe("a stand-in third target", () => {
    let unregister: () => void;
    let root: string;
    before(() => {
        unregister = registerTarget(standIn);
    });
    after(() => unregister());
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-stand-in-"));
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    /** Runs a host script here; docker answers with nothing (the default target's leftovers are looked for by any removal). */
    const sh = (text: string, args: string[] = []) => {
        fs.writeFileSync(path.join(root, "docker"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        const result = spawnSync("sh", ["-c", text, "phase", ...args], { encoding: "utf8", env: { ...process.env, PATH: `${root}:${process.env.PATH}` } });
        assert.strictEqual(result.status, 0, result.stderr);
        return result;
    };

    it("is offered by the config and deployed by the program's graph, then the host's phase records it, observes and removes it", async () => {
        const environment = { PORT: 8080, GREETING: "it's \"here\"" };
        const config = { ...directStackConfig("dev"), "iac:target": "standin", "hello-world:environment": JSON.stringify(environment) };
        const program = await runProgram(config);
        await Promise.all(Object.values(program.exports.deployed as Record<string, pulumi.Output<unknown>>).map((d) => outputValue(d)));
        const deployment = program.resources.find((r) => r.type === "pulumi-nodejs:dynamic/iac:HostDeployment")!;
        assert.strictEqual(deployment.inputs.target, "standin");
        const compose = String(deployment.inputs.compose);
        assert.strictEqual(YAML.parse(compose)["x-run-by"], "standin", "the template in the stand-in's form");
        // A secret input reaches the mocks wrapped, its value beside the secret's signature.
        const env = String((deployment.inputs.env as { value: string }).value);
        for (const [key, value] of Object.entries(environment)) {
            assert.ok(env.includes(standIn.envLine(key, String(value))), env);
        }

        // The phase HostDeployment sends, for these inputs, in a scratch deploy root.
        const inputs = deployment.inputs as {
            location: AppLocation; registry: string; repository: string; image: { digest: string; tag: string }; services: string[];
        };
        const location = { ...inputs.location, deployRoot: root };
        const spec: DeploySpec = {
            ...location, owner: "stand-in-stack-id", target: "standin", registry: inputs.registry, repository: inputs.repository,
            digest: inputs.image.digest, services: inputs.services, healthTimeoutSeconds: 5,
        };
        const image = `${inputs.registry}/${inputs.repository}`;
        const record = renderRecordParts({
            app: location.app, workspace: location.workspace, image, tag: inputs.image.tag, digest: spec.digest, description: "d", deployed_by: "a@b",
        });
        const deploy = () => {
            const job = path.join(appDir(location), "staged", `job.${Math.random().toString(36).slice(2, 10)}`);
            fs.mkdirSync(job, { recursive: true });
            Object.entries({ compose, env, recordHead: record.head, recordTail: record.tail })
                .forEach(([part, text]) => fs.writeFileSync(path.join(job, part), text));
            return sh(buildDeployPhase(spec), [path.relative(appDir(location), job)]);
        };
        const first = deploy();
        assert.match(first.stderr, /preparing the stand-in[\s\S]*waiting up to 5 s for the stand-in[\s\S]*deployed /);
        const dir = appDir(location);
        assert.strictEqual(fs.readFileSync(path.join(dir, "deploy-target"), "utf8"), "standin\n");
        assert.strictEqual(fs.readFileSync(path.join(dir, "standin.running"), "utf8"), `${image}@${spec.digest}\n`);
        assert.match(deploy().stderr, /is already running and recorded; nothing to do/);

        const observed = parseObservation(sh(buildObserveScript(location, "standin")).stdout, image, spec.digest, dir);
        assert.strictEqual(observed.record?.digest, spec.digest);
        assert.deepStrictEqual(driftOf(observed, { record: observed.record!, services: spec.services, owner: spec.owner }), []);

        sh(buildRemoveScript(location, spec.owner));
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), [".deploy.lock", "deploy-history.yml"]);
    });

    it("is named among the targets a workspace may choose", async () => {
        const config = { ...stackConfig("dev"), "iac:target": "elsewhere" };
        assert.ok(targetNames().includes(standIn.name));
        await assert.rejects(runProgram(config), (error: Error) =>
            error.message.includes(`iac:target: expected ${targetNames().join(" or ")}, not "elsewhere"`));
    });
});
