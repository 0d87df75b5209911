// registry:cleanup's run refuses before it asks any host or registry, deleting nothing and printing nothing but the
// reason: no workspace, workspaces whose config has problems (all said at once), a key it cannot read (naming the
// workspace and the flag), workspaces of another registry than the one being cleaned.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { CleanupOptions, runCleanup } from "../../components/cleanup/run";
import { CleanupError } from "../../components/cleanup/references";

describe("registry:cleanup's run, before any host or registry is asked", () => {
    let dir: string;
    let printed: string[];
    const writeStack = (workspace: string, config: Record<string, unknown>) =>
        fs.writeFileSync(path.join(dir, `Pulumi.${workspace}.yaml`), YAML.stringify({ config: {
            "iac:apps": ["hello-world"], "iac:registry": "127.0.0.1:5000", "iac:registryInsecure": true,
            // Nothing listens there: a run that got as far as a host would fail another way.
            "iac:sshHost": "127.0.0.1", "iac:sshPort": 1, "iac:sshUser": "deploy", "iac:org": "rednaw", "iac:deployRoot": "/srv",
            "hello-world:image": "rednaw/hello-world", "hello-world:tag": "d1", ...config,
        } }));
    const run = (options: Partial<CleanupOptions> = {}) => runCleanup({
        projectDir: dir, identity: () => path.join(dir, "key"), stackOutputs: false, registry: {}, historyDepth: 3,
        apply: true, json: false, ...options,
    }, { print: (text) => printed.push(text), progress: (message) => printed.push(message) });
    const refuses = async (options: Partial<CleanupOptions>, message: string) => {
        await assert.rejects(run(options), (error: Error) => {
            assert.ok(error instanceof CleanupError, `${error.name}: ${error.message}`);
            assert.strictEqual(error.message, message);
            return true;
        });
        assert.deepStrictEqual(printed, [], "nothing said but the refusal");
    };

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-cleanup-run-"));
        fs.writeFileSync(path.join(dir, "key"), "not read before the checks pass\n");
        printed = [];
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("refuses a project without workspaces", async () => {
        await refuses({}, `no workspaces: no Pulumi.<stack>.yaml in ${dir} and no --workspaces`);
    });

    it("says every workspace's config problems at once", async () => {
        writeStack("dev", { "iac:org": "Not An Org" });
        writeStack("prod", {});
        writeStack("qa", { "hello-world:tag": "bad tag!" });
        await assert.rejects(run(), (error: Error) => {
            assert.ok(error instanceof CleanupError);
            const [devProblem, qaProblem] = [/workspace dev has 1 problem\(s\):\n {2}- iac:org: /, /workspace qa has 1 problem\(s\):\n {2}- hello-world:tag: /];
            assert.match(error.message, devProblem);
            assert.match(error.message, qaProblem);
            assert.doesNotMatch(error.message, /workspace prod/);
            assert.match(error.message, /\nNothing was deleted: a workspace whose config cannot be read might be running any digest$/);
            return true;
        });
        assert.deepStrictEqual(printed, []);
    });

    it("names the workspace whose key it cannot read, and the flag that gives it", async () => {
        writeStack("dev", {});
        writeStack("prod", {});
        const missing = path.join(dir, "missing");
        await refuses({ identity: (workspace) => workspace === "prod" ? missing : path.join(dir, "key") },
            `cannot read the SSH key ${missing} for workspace prod: pass --identity prod=FILE`);
    });

    it("refuses workspaces of another registry than the one being cleaned", async () => {
        writeStack("dev", {});
        writeStack("prod", { "iac:registry": "registry.example.com" });
        await refuses({ workspaces: ["dev", "prod"] }, "workspace prod uses registry registry.example.com, not 127.0.0.1:5000 " +
            "(the one being cleaned): pass --workspaces with the workspaces of one registry. Nothing was deleted");
        await refuses({ workspaces: ["dev", "prod"], registry: { registry: "registry.example.com" } },
            "workspace dev uses registry 127.0.0.1:5000, not registry.example.com (the one being cleaned): " +
            "pass --workspaces with the workspaces of one registry. Nothing was deleted");
    });
});
