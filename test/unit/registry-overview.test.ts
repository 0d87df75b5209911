// registry:overview's --mark: the digest the marked tag names among the listed rows, or a refusal rather than a
// table that marks nothing.
import * as assert from "assert";
import { markedDigest } from "../../components/model/registry-overview";
import { TagRow } from "../../components/registry/listing";

const row = (tag: string, digest: string | null): TagRow =>
    ({ repository: "rednaw/hello-world", tag, digest, created: null, description: null, revision: null, source: null });
const digest = `sha256:${"e5".repeat(32)}`;

describe("registry:overview's marked tag", () => {
    it("is the digest its row names, or none when no tag is marked", () => {
        const rows = [row("d1", `sha256:${"d1".repeat(32)}`), row("eb53023", digest)];
        assert.strictEqual(markedDigest("rednaw/hello-world", rows, "eb53023"), digest);
        assert.strictEqual(markedDigest("rednaw/hello-world", rows, undefined), null);
    });

    it("refuses a tag that is not listed, or whose image could not be read", () => {
        const rows = [row("gone", null)];
        for (const tag of ["missing", "gone"]) {
            assert.throws(() => markedDigest("rednaw/hello-world", rows, tag),
                new RegExp(`^Error: rednaw/hello-world:${tag} is not among the repository's readable tags`));
        }
    });
});
