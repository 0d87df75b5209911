import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseChallenges } from "../../components/registry/auth/challenge";
import { credentialsFromDockerConfig } from "../../components/registry/auth/credentials";
import { closestTags, nextLink } from "../../components/registry/client";

describe("WWW-Authenticate parsing", () => {
    it("reads a bearer challenge as the distribution token spec sends it", () => {
        assert.deepStrictEqual(parseChallenges(
            'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:rednaw/hello-world:pull"'),
        [{ scheme: "bearer", params: {
            realm: "https://auth.example.com/token", service: "registry.example.com", scope: "repository:rednaw/hello-world:pull",
        } }]);
    });

    it("reads basic, unquoted values, escapes, commas inside quotes and several challenges", () => {
        assert.deepStrictEqual(parseChallenges('Basic realm="basic-realm"'), [{ scheme: "basic", params: { realm: "basic-realm" } }]);
        assert.deepStrictEqual(parseChallenges('Basic realm="a, \\"b\\"", Bearer realm=https://x/t , scope="s:a:pull,push"'), [
            { scheme: "basic", params: { realm: 'a, "b"' } },
            { scheme: "bearer", params: { realm: "https://x/t", scope: "s:a:pull,push" } },
        ]);
        assert.deepStrictEqual(parseChallenges(""), []);
    });
});

describe("Link pagination", () => {
    it("finds the next page and nothing else", () => {
        assert.strictEqual(nextLink('</v2/_catalog?last=b&n=100>; rel="next"'), "/v2/_catalog?last=b&n=100");
        assert.strictEqual(nextLink('<https://r/v2/x/tags/list?n=2&last=t>; rel=next'), "https://r/v2/x/tags/list?n=2&last=t");
        assert.strictEqual(nextLink('</a>; rel="prev", </b>; rel="next"'), "/b");
        assert.strictEqual(nextLink('</a>; rel="prev"'), undefined);
        assert.strictEqual(nextLink(null), undefined);
    });
});

describe("closest tags", () => {
    it("ranks by edit distance", () => {
        assert.deepStrictEqual(closestTags("eb53025", ["6350192", "eb53023", "zzzz", "eb53024"], 2).sort(), ["eb53023", "eb53024"]);
        assert.deepStrictEqual(closestTags("x", [], 3), []);
    });
});

describe("docker config.json credentials", () => {
    it("reads an auths entry by host, in either form", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-docker-config-"));
        const file = path.join(dir, "config.json");
        fs.writeFileSync(file, JSON.stringify({ auths: {
            "https://registry.rednaw.nl/v1/": { auth: Buffer.from("wander:pa:ss").toString("base64") },
            "127.0.0.1:5000": { username: "u", password: "p" },
        } }));
        try {
            assert.deepStrictEqual(credentialsFromDockerConfig("registry.rednaw.nl", file), { username: "wander", password: "pa:ss" });
            assert.deepStrictEqual(credentialsFromDockerConfig("127.0.0.1:5000", file), { username: "u", password: "p" });
            assert.strictEqual(credentialsFromDockerConfig("other:1", file), undefined);
            assert.strictEqual(credentialsFromDockerConfig("other:1", path.join(dir, "missing.json")), undefined);
        } finally {
            fs.rmSync(dir, { recursive: true });
        }
    });
});
