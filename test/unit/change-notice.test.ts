import * as assert from "assert";
import { formatChange, pendingChange } from "../../components/model/change-notice";

const a = { tag: "eb53023", digest: "sha256:" + "a".repeat(64), description: "initial deploy", created: "2026-01-25T01:01:00Z" };
const b = { tag: "6350192", digest: "sha256:" + "b".repeat(64), description: "add healthcheck + fix nginx proxy header", created: "2026-01-25T01:10:00Z" };

describe("change notice", () => {
    it("says what a deploy changes, and calls an older target a rollback", () => {
        assert.strictEqual(formatChange("hello-world", "dev", a, b),
            'hello-world@dev: eb53023 "initial deploy" → 6350192 "add healthcheck + fix nginx proxy header"');
        assert.strictEqual(formatChange("hello-world", "dev", b, a),
            'hello-world@dev: 6350192 "add healthcheck + fix nginx proxy header" → eb53023 "initial deploy" (rollback)');
        assert.strictEqual(formatChange("hello-world", "prod", undefined, a), 'hello-world@prod: first deploy of eb53023 "initial deploy"');
    });

    it("names a digest-only target by its digest and survives missing labels", () => {
        const byDigest = { ...b, tag: null, description: null, created: null };
        assert.strictEqual(formatChange("hello-world", "dev", a, byDigest),
            `hello-world@dev: eb53023 "initial deploy" → sha256:bbbbbbbbbbbb "no description"`);
    });
});

describe("change notice of a pin that moves", () => {
    it("says nothing when the new pin names the image already pinned", () => {
        assert.strictEqual(pendingChange("hello-world", "dev", a, { ...a, tag: "other-tag" }), undefined);
    });

    it("says the move otherwise, and a first pin as a first deploy", () => {
        assert.strictEqual(pendingChange("hello-world", "dev", a, b), formatChange("hello-world", "dev", a, b));
        assert.strictEqual(pendingChange("hello-world", "dev", undefined, a), 'hello-world@dev: first deploy of eb53023 "initial deploy"');
    });
});
