// The one workspace model: the same checks and messages whether the config comes from the engine (the program)
// or from Pulumi.<stack>.yaml (the commands), defaults from Pulumi.yaml, values handed out parsed.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { registryAccessForCommand } from "../../components/access/registry-access";
import { registryClient } from "../../components/access/registry-client";
import { Workspace, WorkspaceConfigError, encrypted, parseWorkspace, readWorkspace } from "../../components/model/workspace";
import { runProgram, stackConfig } from "../helpers/mock-program";

const projectRoot = path.resolve(__dirname, "..", "..");
const declared = (YAML.parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as { config: Record<string, { default?: unknown }> }).config;

const valid = {
    "iac:apps": ["hello-world"], "iac:registry": "127.0.0.1:5000", "iac:sshHost": "127.0.0.1", "iac:sshUser": "deploy",
    "iac:org": "rednaw", "hello-world:image": "rednaw/hello-world", "hello-world:tag": "eb53023",
};

/** Reads the stack file `text` as the commands do. */
function readStackText(text: string): Workspace {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-workspace-"));
    try {
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), text);
        return readWorkspace("dev", dir);
    } finally {
        fs.rmSync(dir, { recursive: true });
    }
}

/** Writes a stack file and reads it back as the commands do. */
function fromStackFile(config: Record<string, unknown>): string {
    try {
        readStackText(YAML.stringify({ config }));
        return "accepted";
    } catch (error) {
        assert.ok(error instanceof WorkspaceConfigError, String(error));
        return error.message;
    }
}

/** The same config as the engine hands it to the program: text, objects as JSON. */
async function fromProgram(config: Record<string, unknown>): Promise<string> {
    const engine = Object.fromEntries(Object.entries(config).map(([key, value]) =>
        [key, typeof value === "string" ? value : JSON.stringify(value)]));
    try {
        await runProgram({ ...engine, "iac:sshPrivateKey": stackConfig("dev")["iac:sshPrivateKey"] });
        return "accepted";
    } catch (error) {
        return (error as Error).message;
    }
}

describe("the workspace model", () => {
    it("fills in the defaults Pulumi.yaml declares, and parses every value once", () => {
        const workspace = parseWorkspace("dev", valid);
        assert.strictEqual(workspace.host.deployRoot, declared.deployRoot.default);
        assert.strictEqual(workspace.host.port, declared.sshPort.default);
        assert.strictEqual(workspace.platform, declared.platform.default);
        assert.strictEqual(workspace.registry.insecure, declared.registryInsecure.default);
        assert.deepStrictEqual(workspace.apps.map((app) => [app.name, app.repository, app.tag, app.healthTimeoutSeconds]),
            [["hello-world", "rednaw/hello-world", "eb53023", 120]]);
        const fromEngine = parseWorkspace("dev", { ...valid, "iac:apps": "[\"hello-world\"]", "iac:sshPort": "2222", "iac:registryInsecure": "true" });
        assert.deepStrictEqual([fromEngine.host.port, fromEngine.registry.insecure], [2222, true]);
    });

    it("refuses a stack file without iac:org instead of reading /opt/undefined", () => {
        const { "iac:org": _org, ...withoutOrg } = valid;
        assert.match(fromStackFile(withoutOrg), /iac:org: not set: `pulumi config set iac:org rednaw`/);
    });

    it("says every bad value in one list, naming an env key and never its value", () => {
        const secretish = "s3cr3t-value";
        const message = fromStackFile({
            ...valid, "iac:sshPort": 70000, "iac:registry": "127.0.0.1:99999", "iac:sshUser": "-rf",
            "hello-world:environment": { "BAD-KEY": "x", NEWLINE: `${secretish}\nmore`, TRAILING: `${secretish}\\`, NUL: `${secretish}\0`, PORT: 8080 },
        });
        assert.match(message, /has 7 problem\(s\)/);
        assert.match(message, /iac:sshPort: expected a whole number from 1 to 65535, not "70000"/);
        assert.match(message, /iac:registry: invalid registry "127\.0\.0\.1:99999": port 99999 is out of range: expected 1-65535/);
        assert.match(message, /iac:sshUser: invalid user name "-rf"/);
        assert.match(message, /environment variable name "BAD-KEY"/);
        for (const key of ["NEWLINE", "TRAILING", "NUL"]) {
            assert.match(message, new RegExp(`hello-world:environment: the value of ${key} holds a line break or NUL, ends with a backslash`));
        }
        assert.ok(!message.includes(secretish), "no value is ever shown");
    });

    it("takes an environment file inside the project, and refuses one outside it or of another format", () => {
        const file = "apps/hello-world/secrets.prod.sops.yaml";
        assert.strictEqual(parseWorkspace("dev", { ...valid, "hello-world:environmentFile": file }).apps[0].environmentFile, file);
        for (const [bad, expected] of [
            ["/etc/secrets.yaml", /a path inside the project, relative to it/],
            ["apps/../../secrets.yaml", /a path inside the project, relative to it/],
            ["apps/hello-world/secrets.env", /a \.yaml, \.yml or \.json SOPS file/],
        ] as const) {
            assert.match(fromStackFile({ ...valid, "hello-world:environmentFile": bad }),
                new RegExp(`hello-world:environmentFile: invalid environment file .*${expected.source}`));
        }
    });

    it("accepts POSIX user names and encrypted values it cannot read", () => {
        for (const user of ["deploy_user", "ci.bot", "_svc", "Admin-1"]) {
            assert.strictEqual(parseWorkspace("dev", { ...valid, "iac:sshUser": user }).host.user, user);
        }
        const workspace = parseWorkspace("dev", {
            ...valid, "iac:registryUsername": "ci", "iac:registryPassword": encrypted, "iac:sshPrivateKey": encrypted,
            "hello-world:environment": { API_KEY: encrypted },
        });
        assert.deepStrictEqual([workspace.registry.username, workspace.registry.hasPassword], ["ci", true]);
    });

    it("reads `<<:` merge keys in a stack file as pulumi does: explicit keys over merged ones, the first merged map over the next", () => {
        // `pulumi config --json` on this file lists exactly the entries of `expanded`.
        const text = [
            "x-registry: &registry",
            "  iac:registry: 127.0.0.1:5000",
            "  iac:sshUser: deploy",
            "x-host: &host",
            "  iac:sshUser: ignored",
            "  iac:sshHost: 127.0.0.1",
            "  iac:sshPort: \"2222\"",
            "x-env: &env",
            "  PORT: \"8080\"",
            "  MODE: base",
            "config:",
            "  <<: [*registry, *host]",
            "  iac:apps: [hello-world]",
            "  iac:org: rednaw",
            "  hello-world:image: rednaw/hello-world",
            "  hello-world:tag: eb53023",
            "  hello-world:environment:",
            "    <<: *env",
            "    MODE: override",
            "",
        ].join("\n");
        const expanded = {
            ...valid, "iac:sshPort": "2222", "hello-world:environment": { PORT: "8080", MODE: "override" },
        };
        assert.deepStrictEqual(readStackText(text), parseWorkspace("dev", expanded));
    });

    it("gives the program and the commands the same message for the same config", async function () {
        this.timeout(30_000);
        const bad = { ...valid, "iac:sshPort": 0, "iac:sshUser": "deploy_user", "hello-world:environment": { "1X": "y" }, "hello-world:tga": "v2" };
        const program = await fromProgram(bad);
        assert.strictEqual(program.replace(/^[\s\S]*?(the configuration of workspace)/, "$1"), fromStackFile(bad));
        assert.match(program, /has 3 problem/);
        assert.strictEqual(await fromProgram({ ...valid, "iac:sshUser": "deploy_user" }), "accepted");
    });

    it("makes one registry-access object, the command line's flags over the workspace", () => {
        const workspace = parseWorkspace("dev", { ...valid, "iac:registryInsecure": true });
        const access = registryAccessForCommand(workspace);
        assert.deepStrictEqual([access.registry, access.insecure, registryClient(access).registry], ["127.0.0.1:5000", true, "127.0.0.1:5000"]);
        const other = registryAccessForCommand(workspace, { registry: "registry.example.com" });
        assert.deepStrictEqual([other.registry, other.insecure], ["registry.example.com", false], "the stack's plain http is not another registry's");
    });
});
