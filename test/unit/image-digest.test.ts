// The provider's offline parts: input checks and diff semantics.
import * as assert from "assert";
import { ImageDigestOutputs, checkImageInputs, imageDigestProvider } from "../../components/providers/image-digest";

const digest = "sha256:" + "d".repeat(64);
const state: ImageDigestOutputs = {
    registry: "127.0.0.1:5000", repository: "rednaw/hello-world", tag: "eb53023", requestedDigest: null,
    platform: "linux/amd64", insecure: true, username: null, password: null, digest,
    ref: `127.0.0.1:5000/rednaw/hello-world@${digest}`, description: null, descriptionBase64: null, created: null, revision: null, source: null, drift: null,
};
const sameInputs = { registry: "127.0.0.1:5000", repository: "rednaw/hello-world", tag: "eb53023", insecure: true };

describe("ImageDigest diff", () => {
    const diff = (news: object) => imageDigestProvider.diff!(state.ref, state, { ...sameInputs, ...news });

    it("sees no change when config matches the state, even though the state holds a resolved digest", async () => {
        assert.deepStrictEqual(await diff({}), { changes: false, replaces: [], deleteBeforeReplace: false });
    });

    it("replaces on a new registry or repository, and pins again in place on a new tag, digest or platform", async () => {
        assert.deepStrictEqual(await diff({ registry: "127.0.0.1:5001" }), { changes: true, replaces: ["registry"], deleteBeforeReplace: false });
        assert.deepStrictEqual((await diff({ repository: "rednaw/other" })).replaces, ["repository"]);
        for (const news of [{ tag: "6350192" }, { digest }, { platform: "linux/arm64" }, { tag: undefined, digest }]) {
            assert.deepStrictEqual(await diff(news), { changes: true, replaces: [], deleteBeforeReplace: false }, JSON.stringify(news));
        }
    });

    it("updates in place, without a new pin, when only the way to the registry changes", async () => {
        const result = await diff({ username: "u", password: "p" });
        assert.deepStrictEqual(result, { changes: true, replaces: [], deleteBeforeReplace: false });
        const updated = await imageDigestProvider.update!(state.ref, state, { ...sameInputs, username: "u", password: "p" });
        assert.strictEqual(updated.outs?.digest, digest);
        assert.strictEqual(updated.outs?.username, "u");
    });
});

describe("ImageDigest input checks", () => {
    it("names each bad property and asks for a tag or digest", () => {
        assert.deepStrictEqual(checkImageInputs({ registry: "127.0.0.1:5000", repository: "rednaw/hello-world", tag: "eb53023" }), []);
        const failures = checkImageInputs({ registry: "bad host", repository: "Rednaw", tag: "a;b", digest: "sha256:1", platform: "x" });
        assert.deepStrictEqual(failures.map((f) => f.property), ["registry", "repository", "tag", "digest", "platform"]);
        assert.deepStrictEqual(checkImageInputs({ registry: "r", repository: "a" }).map((f) => f.property), ["tag"]);
    });
});
