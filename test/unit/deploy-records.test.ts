// Deploy records are read strictly: a record cleanup cannot use is refused with its file and line, never
// skipped (a skipped record is a digest nobody protects).
import * as assert from "assert";
import { DeployInfoError, parseDeployHistory, parseDeployInfo, parseDeployInfoAt, renderDeployInfo } from "../../components/model/deploy-info";

const digest = `sha256:${"ab".repeat(32)}`;
const record = (fields: Record<string, string> = {}) => Object.entries({
    app: "hello-world", workspace: "dev", image: "127.0.0.1:5000/rednaw/hello-world", tag: "eb53023", digest,
    description: "\"initial deploy\"", deployed_at: "\"2026-01-25T01:10:00Z\"", deployed_by: "\"wander@casa\"", ...fields,
}).map(([key, value]) => `${key}: ${value}\n`).join("");

describe("deploy records, strictly", () => {
    it("reads what renderDeployInfo writes, with the image split at its registry", () => {
        const text = renderDeployInfo({ app: "hello-world", workspace: "dev", image: "registry.rednaw.nl/rednaw/hello-world",
            tag: "6350192", digest, description: "x: \"y\"", deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa" });
        const at = parseDeployInfoAt(text, "deploy-info.yml");
        assert.deepStrictEqual(at.image, { registry: "registry.rednaw.nl", repository: "rednaw/hello-world" });
        assert.deepStrictEqual([at.record.tag, at.record.description], ["6350192", "x: \"y\""]);
        assert.strictEqual(parseDeployInfo(record({ tag: "null", description: "null" }), "f").tag, null);
    });

    it("refuses a null, short or foreign-algorithm digest, an image without its registry, a missing field, naming file and line", () => {
        const cases: [string, RegExp][] = [
            [record({ digest: "null" }), /^host:\/opt\/x\/deploy-info\.yml, line 5: digest must be text, not null$/],
            [record({ digest: "sha256:abc123abc123" }), /line 5: invalid digest "sha256:abc123abc123"/],
            [record({ digest: `md5:${"a".repeat(32)}` }), /line 5: invalid digest/],
            [record({ image: "acme/web" }), /line 3: invalid image "acme\/web": expected registry\/repository with the registry's host/],
            [record({ image: "127.0.0.1:5000/Bad_Repo" }), /line 3: invalid repository/],
            [record().replace(/^deployed_by.*\n/m, ""), /line 1: the record lacks deployed_by/],
            [record({ tag: "[a, b]" }), /line 4: tag must be text or null/],
            [record({ description: "\"unterminated" }), /not valid YAML/],
            ["", /line 1: holds no deploy record/],
        ];
        for (const [text, expected] of cases) {
            assert.throws(() => parseDeployInfo(text, "host:/opt/x/deploy-info.yml"), (error: Error) =>
                error instanceof DeployInfoError && expected.test(error.message), text);
        }
    });

    it("reads every history record, and refuses the history at the first one with a YAML error", () => {
        const history = `---\n${record({ tag: "a" })}---\n${record({ tag: "b" })}removed_at: "2026-01-26T00:00:00Z"\n`;
        assert.deepStrictEqual(parseDeployHistory(history, "h").map((at) => at.record.tag), ["a", "b"]);
        assert.deepStrictEqual(parseDeployHistory("", "h"), []);
        const broken = `${history}---\n${record({ tag: "c" })}description: [unclosed\n`;
        assert.throws(() => parseDeployHistory(broken, "deploy-history.yml on h"), /^DeployInfoError: deploy-history\.yml on h, line 2[0-9]: not valid YAML/);
        assert.throws(() => parseDeployHistory(`${history}---\n${record({ digest: "null" })}`, "h"), /h, line 25: digest must be text, not null/);
    });
});
