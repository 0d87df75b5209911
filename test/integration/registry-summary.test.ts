// scripts/registry-summary, the build workflow's job-summary step, run as the workflow runs it against a real
// registry that asks for credentials.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RegistryServer, startRegistry } from "../../local/registry";
import { TestPusher } from "../helpers/push";
import { buildOperatorCommands } from "../helpers/operator-command";

const script = path.resolve(__dirname, "..", "..", "scripts", "registry-summary");
const credentials = { username: "ci", password: "summary-password-3d1f" };

describe("scripts/registry-summary (the build workflow's job summary)", function () {
    this.timeout(120_000);
    let registry: RegistryServer;
    let dir: string;
    let summary: string;

    before(async () => {
        buildOperatorCommands();
        registry = await startRegistry({ flavour: "v3", htpasswd: credentials });
        const pusher = new TestPusher(registry.address, credentials);
        await pusher.pushImage("rednaw/hello-world", ["eb53023"], { labels: {
            "org.opencontainers.image.description": "initial deploy", "org.opencontainers.image.created": "2026-01-25T01:01:33Z",
        } });
        await pusher.pushImage("rednaw/hello-world", ["6350192"], { labels: {
            "org.opencontainers.image.description": "fix | the <b>proxy</b> header", "org.opencontainers.image.created": "2026-01-25T01:10:00Z",
        } });
        await pusher.pushImage("tools/other", ["x"], { labels: { "org.opencontainers.image.description": "another repository" } });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-summary-"));
    });
    after(async () => {
        await registry?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
        summary = path.join(dir, `summary-${Date.now()}.md`);
        fs.writeFileSync(summary, "earlier step\n");
    });

    const run = (tag: string) => spawnSync(script, [], { encoding: "utf8", env: {
        ...process.env, REGISTRY: registry.address, REGISTRY_INSECURE: "1", IMAGE_NAME: "rednaw/hello-world", TAG: tag,
        GITHUB_STEP_SUMMARY: summary, IAC_REGISTRY_USERNAME: credentials.username, IAC_REGISTRY_PASSWORD: credentials.password,
    } });

    it("appends the repository's table, newest first, the pushed image marked, labels escaped", () => {
        const result = run("6350192");
        assert.strictEqual(result.status, 0, result.stderr);
        const text = fs.readFileSync(summary, "utf8");
        assert.ok(text.startsWith("earlier step\n"), text);
        const rows = text.split("\n").filter((line) => /^\| .* \| (6350192|eb53023) \|/.test(line));
        assert.deepStrictEqual(rows.map((row) => row.split(" | ")[1]), ["6350192", "eb53023"], text);
        assert.match(rows[0], /^\| → \| 6350192 \| 2026-01-25 01:10 \| /);
        assert.match(rows[1], /^\|  \| eb53023 \| 2026-01-25 01:01 \| initial deploy \|$/);
        // The label's pipe and HTML would end the cell and open markup: they arrive as character references.
        assert.ok(rows[0].includes("fix &#124; the &#60;b&#62;proxy&#60;/b&#62; header"), rows[0]);
        assert.ok(!text.includes("another repository"), "only the repository pushed to");
        assert.ok(!text.includes(credentials.password));
    });

    it("fails and leaves the summary as it was when the pushed tag is not in the registry", () => {
        const result = run("0000000");
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, /rednaw\/hello-world:0000000 is not among the repository's readable tags/);
        assert.strictEqual(fs.readFileSync(summary, "utf8"), "earlier step\n");
        assert.ok(!result.stderr.includes(credentials.password));
    });
});
