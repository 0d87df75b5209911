import * as assert from "assert";
import * as fc from "fast-check";
import {
    parsePlatform, pinnedRef, validateDigest, validateRegistry, validateRepository, validateTag,
} from "../../components/registry/reference";
import { InvalidReferenceError } from "../../components/registry/errors";

describe("reference grammar", () => {
    it("accepts what the distribution grammar accepts", () => {
        for (const repository of ["rednaw/hello-world", "a", "a/b/c", "foo__bar", "foo.bar", "a-----b", "x1/y_2"]) {
            assert.strictEqual(validateRepository(repository), repository);
        }
        for (const tag of ["eb53023", "v1.2.3", "latest", "A_b-c.d", "_x", "a".repeat(128)]) {
            assert.strictEqual(validateTag(tag), tag);
        }
        for (const registry of ["127.0.0.1:5000", "registry.rednaw.nl", "localhost", "[::1]:5000", "reg-1.example.com:443", "r:1", "r:65535"]) {
            assert.strictEqual(validateRegistry(registry), registry);
        }
        validateDigest("sha256:" + "a".repeat(64));
        validateDigest("sha512:" + "0".repeat(128));
    });

    it("rejects everything else with the kind and value named", () => {
        const rejected: [(v: string) => unknown, string][] = [
            [validateRepository, "Rednaw/hello"], [validateRepository, "a//b"], [validateRepository, "-a"],
            [validateRepository, "a_"], [validateRepository, "a/" + "b".repeat(255)], [validateRepository, "a;b"],
            [validateTag, ".hidden"], [validateTag, "-x"], [validateTag, "a".repeat(129)], [validateTag, "eb53023;rm -rf /"],
            [validateTag, "$(id)"], [validateTag, ""], [validateTag, "a b"],
            [validateRegistry, "http://127.0.0.1:5000"], [validateRegistry, "host:port"], [validateRegistry, "a b"],
            [validateRegistry, "127.0.0.1:99999"], [validateRegistry, "127.0.0.1:0"], [validateRegistry, "[::1]:65536"],
            [validateDigest, "sha256:" + "A".repeat(64)], [validateDigest, "sha256:abc"], [validateDigest, "md5:" + "a".repeat(32)],
            [validateDigest, "sha256:" + "a".repeat(64) + "\n"],
        ];
        for (const [validate, value] of rejected) {
            assert.throws(() => validate(value), (error: Error) =>
                error instanceof InvalidReferenceError && error.message.includes(JSON.stringify(value)), `should reject ${JSON.stringify(value)}`);
        }
    });

    it("says a registry port is out of range before any URL is built from it", () => {
        assert.throws(() => validateRegistry("127.0.0.1:99999"), /port 99999 is out of range: expected 1-65535/);
    });

    it("never lets a shell metacharacter through any validator", () => {
        const validators = [validateRepository, validateTag, validateRegistry, validateDigest];
        fc.assert(fc.property(fc.string({ maxLength: 80 }), (value) => {
            for (const validate of validators) {
                try {
                    validate(value);
                } catch {
                    continue;
                }
                assert.doesNotMatch(value, /[\s;&|$`'"\\<>(){}*?!#~]/);
            }
        }), { numRuns: 5000 });
    });

    it("builds the pinned reference and parses platforms", () => {
        const digest = "sha256:" + "c".repeat(64);
        assert.strictEqual(pinnedRef("127.0.0.1:5000", "rednaw/hello-world", digest), `127.0.0.1:5000/rednaw/hello-world@${digest}`);
        assert.deepStrictEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
        assert.deepStrictEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64", variant: undefined });
        assert.throws(() => parsePlatform("linux"), InvalidReferenceError);
    });
});
