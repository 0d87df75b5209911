// The env file as docker compose v2 itself reads it: any one-line value reaches the container unchanged.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderCompose, renderEnvFile } from "../../components/model/compose";

describe("env files read by docker compose v2", function () {
    this.timeout(120_000);

    it("carries quotes, #, $, spaces and backslashes through unchanged", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-envfile-"));
        const template = "services:\n  web:\n    image: ${IMAGE}\n";
        fs.writeFileSync(path.join(dir, "compose.yml"), renderCompose("t.yml", template, `r/x@sha256:${"a".repeat(64)}`).content);
        const value = fc.string({ unit: "grapheme-ascii", maxLength: 24 }).filter((v) => !/[\r\n\0]/.test(v) && !v.endsWith("\\") && !v.includes("\\'"));
        try {
            fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
                const environment = Object.fromEntries(values.map((v, i) => [`V${i}`, v]));
                fs.writeFileSync(path.join(dir, "app.env"), renderEnvFile(environment));
                const config = JSON.parse(execFileSync("docker", ["compose", "-f", "compose.yml", "--env-file", "/dev/null", "config", "--format", "json"],
                    { cwd: dir, encoding: "utf8" })) as { services: { web: { environment: Record<string, string> } } };
                // `config` writes a model compose can read again, so a literal $ comes out as $$.
                const received = Object.fromEntries(Object.entries(config.services.web.environment)
                    .map(([key, v]) => [key, v.replace(/\$\$/g, "$")]));
                assert.deepStrictEqual(received, environment);
            }), { numRuns: 40 });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
