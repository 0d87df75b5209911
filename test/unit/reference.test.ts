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

    describe("by property, over valid values, near misses and noise", () => {
        const metacharacters = ";&|$`'\"\\<>(){}*?!#~ \n\t";
        const component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
        const valid = {
            digest: fc.oneof(fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`),
                fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `sha512:${h}`)),
            tag: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
            repository: fc.stringMatching(new RegExp(`^${component}(?:/${component}){0,3}$`)).filter((r) => r.length <= 255),
            registry: fc.tuple(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}$/), fc.option(fc.integer({ min: 1, max: 65535 })))
                .map(([host, port]) => port === null ? host : `${host}:${port}`),
        };
        const validators = { digest: validateDigest, tag: validateTag, repository: validateRepository, registry: validateRegistry };
        /** A valid value with one shell metacharacter put in somewhere. */
        const nearMiss = (arbitrary: fc.Arbitrary<string>) => fc.tuple(arbitrary, fc.nat(), fc.constantFrom(...metacharacters))
            .map(([value, at, c]) => value.slice(0, at % (value.length + 1)) + c + value.slice(at % (value.length + 1)));

        for (const kind of Object.keys(valid) as (keyof typeof valid)[]) {
            it(`accepts every valid ${kind} and rejects it with a shell metacharacter in it`, () => {
                fc.assert(fc.property(valid[kind], (value) => assert.strictEqual(validators[kind](value), value)), { numRuns: 500 });
                fc.assert(fc.property(nearMiss(valid[kind]), (value) => {
                    assert.throws(() => validators[kind](value), InvalidReferenceError);
                }), { numRuns: 500 });
            });
        }

        it("never lets a shell metacharacter through any validator, whatever it is given", () => {
            const anything = fc.oneof(fc.string({ maxLength: 80 }), ...Object.values(valid), ...Object.values(valid).map(nearMiss));
            fc.assert(fc.property(anything, (value) => {
                for (const validate of Object.values(validators)) {
                    try {
                        validate(value);
                    } catch {
                        continue;
                    }
                    assert.doesNotMatch(value, /[\s;&|$`'"\\<>(){}*?!#~]/);
                }
            }), { numRuns: 5000 });
        });
    });

    it("builds the pinned reference and parses platforms", () => {
        const digest = "sha256:" + "c".repeat(64);
        assert.strictEqual(pinnedRef("127.0.0.1:5000", "rednaw/hello-world", digest), `127.0.0.1:5000/rednaw/hello-world@${digest}`);
        assert.deepStrictEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
        assert.deepStrictEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64", variant: undefined });
        assert.throws(() => parsePlatform("linux"), InvalidReferenceError);
    });
});
