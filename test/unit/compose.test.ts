import * as assert from "assert";
import * as YAML from "yaml";
import { renderCompose, renderEnvFile } from "../../components/compose";

const ref = "127.0.0.1:5000/rednaw/hello-world@sha256:" + "f".repeat(64);
const template = "services:\n  web:\n    image: ${IMAGE}\n    network_mode: host\n  cache:\n    image: redis@sha256:" + "1".repeat(64) + "\n";

describe("compose rendering", () => {
    it("pins every ${IMAGE} service to the digest ref and gives it the env file, leaving others alone", () => {
        const rendered = renderCompose("t.yml", template, ref);
        const parsed = YAML.parse(rendered.content);
        assert.deepStrictEqual(rendered.services, ["web"]);
        assert.strictEqual(parsed.services.web.image, ref);
        assert.deepStrictEqual(parsed.services.web.env_file, ["app.env"]);
        assert.strictEqual(parsed.services.cache.env_file, undefined);
    });

    it("refuses a tag reference and a template without ${IMAGE}", () => {
        assert.throws(() => renderCompose("t.yml", template, "127.0.0.1:5000/rednaw/hello-world:eb53023"), /not pinned by digest/);
        assert.throws(() => renderCompose("t.yml", "services:\n  web:\n    image: nginx\n", ref), /compose template t.yml: no service has image/);
        assert.throws(() => renderCompose("t.yml", "services: [", ref), /compose template t.yml/);
    });

    it("writes env files from validated names", () => {
        assert.strictEqual(renderEnvFile({ PORT: "8080", A_B: "x y #1" }), "A_B='x y #1'\nPORT='8080'\n");
        assert.strictEqual(renderEnvFile({ PW: "it's" }), "PW='it\\'s'\n");
        assert.strictEqual(renderEnvFile({ PORT: 8080, DEBUG: true }), "DEBUG='true'\nPORT='8080'\n");
        assert.throws(() => renderEnvFile({ PW: "ends\\" }), /ends with a backslash/);
        assert.throws(() => renderEnvFile({ "BAD-NAME": "x" }), /environment variable name/);
        assert.throws(() => renderEnvFile({ OK: "line\nbreak" }), /line break/);
        assert.throws(() => renderEnvFile({ OK: "a\\'b" }), /backslash right before a quote/);
    });
});
