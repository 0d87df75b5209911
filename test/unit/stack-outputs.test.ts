// A stack's `deployed` output read with the pulumi CLI, here a stand-in `pulumi` on PATH that records how it was
// called: the output's JSON as printed, nothing printed as no records, and a failure naming the stack with the
// CLI's own words.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackOutputError, readDeployedOutput } from "../../components/model/stack-outputs";

describe("a stack's deployed output, through the pulumi CLI", () => {
    let dir: string;
    let savedPath: string | undefined;
    /** A `pulumi` that writes its arguments and working dir to `called`, then prints `stdout`/`stderr` and exits `code`. */
    const standIn = (stdout: string, stderr = "", code = 0) => {
        fs.writeFileSync(path.join(dir, "stdout"), stdout);
        fs.writeFileSync(path.join(dir, "stderr"), stderr);
        fs.writeFileSync(path.join(dir, "bin", "pulumi"), [
            "#!/bin/sh",
            `printf '%s\\n' "$PWD" "$@" > '${dir}/called'`,
            `cat '${dir}/stdout'`,
            `cat '${dir}/stderr' >&2`,
            `exit ${code}`,
        ].join("\n"), { mode: 0o755 });
    };
    const called = () => fs.readFileSync(path.join(dir, "called"), "utf8").trim().split("\n");

    beforeEach(() => {
        dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "iac-stack-outputs-")));
        fs.mkdirSync(path.join(dir, "bin"));
        fs.mkdirSync(path.join(dir, "project"));
        savedPath = process.env.PATH;
        process.env.PATH = `${path.join(dir, "bin")}:${savedPath}`;
    });
    afterEach(() => {
        process.env.PATH = savedPath;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is the JSON `pulumi stack output deployed --json --stack NAME` prints in the project dir", () => {
        const deployed = { "hello-world": { app: "hello-world", workspace: "prod", digest: `sha256:${"a".repeat(64)}` } };
        standIn(JSON.stringify(deployed));
        assert.deepStrictEqual(readDeployedOutput("prod", path.join(dir, "project")), deployed);
        assert.deepStrictEqual(called(), [path.join(dir, "project"), "stack", "output", "deployed", "--json", "--stack", "prod"]);
    });

    it("is no records when the CLI prints nothing or null", () => {
        standIn("");
        assert.deepStrictEqual(readDeployedOutput("dev", dir), {});
        standIn("null\n");
        assert.deepStrictEqual(readDeployedOutput("dev", dir), {});
    });

    it("fails naming the stack with what the CLI said, or why its output is no JSON", () => {
        standIn("", "error: no stack named 'qa' found\n", 255);
        assert.throws(() => readDeployedOutput("qa", dir), (error: Error) => error instanceof StackOutputError &&
            error.message === "cannot read the deployed output of stack qa: error: no stack named 'qa' found");
        standIn("{not json");
        assert.throws(() => readDeployedOutput("qa", dir), (error: Error) => error instanceof StackOutputError &&
            error.message.startsWith("cannot read the deployed output of stack qa: ") && /JSON/.test(error.message));
    });
});
