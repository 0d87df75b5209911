// The registry client against real registry processes on loopback: Registry v3 and Debian's 2.8.
import * as assert from "assert";
import { RegistryClient } from "../../components/registry/client";
import {
    ManifestNotFoundError, RegistryAuthError, RegistryUnreachableError, RepositoryNotFoundError, TagNotFoundError,
    UnreadableImageError,
} from "../../components/registry/errors";
import { RegistryServer, registryFlavours, startRegistry } from "../../local/registry";
import { TestPusher } from "../helpers/push";

const labels = {
    "org.opencontainers.image.description": "add healthcheck + fix nginx proxy header",
    "org.opencontainers.image.created": "2026-01-25T01:10:00Z",
    "org.opencontainers.image.revision": "6350192f2d1c1d1e0c8f8a6f3b0a9e1d2c3b4a59",
    "org.opencontainers.image.source": "https://example.invalid/rednaw/hello-world",
};

for (const flavour of registryFlavours) {
    describe(`registry client against a real registry ${flavour}`, function () {
        this.timeout(120_000);
        let registry: RegistryServer;
        let pusher: TestPusher;
        let client: RegistryClient;

        before(async () => {
            registry = await startRegistry({ flavour });
            pusher = new TestPusher(registry.address);
            client = new RegistryClient({ registry: registry.address, insecure: true });
        });
        after(async () => registry?.stop());

        it("resolves a tag to the digest the registry serves, for OCI and Docker manifests", async () => {
            const oci = await pusher.pushImage("rednaw/hello-world", ["6350192"], { labels });
            const docker = await pusher.pushImage("rednaw/hello-docker", ["eb53023"], { docker: true });
            assert.strictEqual(await client.resolveTag("rednaw/hello-world", "6350192"), oci.digest);
            assert.strictEqual(await client.resolveTag("rednaw/hello-docker", "eb53023"), docker.digest);
            const served = await fetch(`http://${registry.address}/v2/rednaw/hello-world/manifests/6350192`,
                { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
            assert.strictEqual(served.headers.get("docker-content-digest"), oci.digest);
        });

        it("reads the OCI labels, null where one is missing", async () => {
            const image = await pusher.pushImage("labels/full", ["a1"], { labels });
            const bare = await pusher.pushImage("labels/bare", ["b1"], {
                labels: { "org.opencontainers.image.description": "only a description" },
            });
            const full = await client.imageMetadata("labels/full", image.digest);
            assert.deepStrictEqual(full, {
                digest: image.digest, imageDigest: image.digest, configDigest: image.configDigest,
                description: labels["org.opencontainers.image.description"],
                created: labels["org.opencontainers.image.created"],
                revision: labels["org.opencontainers.image.revision"],
                source: labels["org.opencontainers.image.source"],
            });
            const partial = await client.imageMetadata("labels/bare", bare.digest);
            assert.strictEqual(partial.description, "only a description");
            assert.strictEqual(partial.created, null);
            assert.strictEqual(partial.revision, null);
            assert.strictEqual(partial.source, null);
        });

        it("resolves two tags on one image to the same digest", async () => {
            const image = await pusher.pushImage("two/tags", ["eb53023", "stable"]);
            assert.strictEqual(await client.resolveTag("two/tags", "eb53023"), image.digest);
            assert.strictEqual(await client.resolveTag("two/tags", "stable"), image.digest);
            assert.deepStrictEqual((await client.listTags("two/tags")).sort(), ["eb53023", "stable"]);
        });

        it("keeps an index's digest and reads labels from the image of the wanted platform", async () => {
            const amd64 = await pusher.pushImage("multi/arch", [], { labels: { "org.opencontainers.image.description": "amd64 build" } });
            const arm64 = await pusher.pushImage("multi/arch", [], {
                platform: "linux/arm64/v8", labels: { "org.opencontainers.image.description": "arm64 build" },
            });
            const index = await pusher.pushIndex("multi/arch", ["v1"], [amd64, arm64]);
            assert.strictEqual(await client.resolveTag("multi/arch", "v1"), index);
            const forAmd64 = await client.imageMetadata("multi/arch", index);
            assert.strictEqual(forAmd64.digest, index);
            assert.strictEqual(forAmd64.imageDigest, amd64.digest);
            assert.strictEqual(forAmd64.description, "amd64 build");
            const forArm64 = await client.imageMetadata("multi/arch", index, "linux/arm64");
            assert.strictEqual(forArm64.imageDigest, arm64.digest);
            assert.strictEqual(forArm64.description, "arm64 build");
            await assert.rejects(client.imageMetadata("multi/arch", index, "linux/s390x", "v1"), (error: Error) => {
                assert.ok(error instanceof UnreadableImageError, `${error.name}: ${error.message}`);
                assert.match(error.message, new RegExp(`^${registry.address}/multi/arch:v1: no linux/s390x image in this index: ` +
                    "linux/amd64, linux/arm64/v8; deploy a tag built for linux/s390x .*set iac:platform"));
                return true;
            });
        });

        it("follows catalog pagination past the registry's page size to every repository", async () => {
            const names = Array.from({ length: 160 }, (_, i) => `many/repo-${String(i).padStart(3, "0")}`);
            for (const name of names) {
                await pusher.pushImage(name, ["t1"], { seed: "same" });
            }
            const firstPage = await fetch(`http://${registry.address}/v2/_catalog`);
            assert.ok(firstPage.headers.get("link"), "the registry should paginate the catalog (Link header)");
            const catalog = await client.catalog();
            for (const name of names) {
                assert.ok(catalog.includes(name), `${name} missing from the catalog`);
            }
            assert.strictEqual(new Set(catalog).size, catalog.length, "no repository listed twice");
        });

        it("names the closest existing tags when a tag is missing", async () => {
            await pusher.pushImage("rednaw/missing", ["eb53023", "eb53024", "6350192", "zzzzzzz"]);
            await assert.rejects(client.resolveTag("rednaw/missing", "eb53025"), (error: Error) => {
                assert.ok(error instanceof TagNotFoundError, String(error));
                assert.deepStrictEqual(error.closest.slice(0, 2).sort(), ["eb53023", "eb53024"]);
                assert.match(error.message, new RegExp(`${registry.address}/rednaw/missing`));
                assert.match(error.message, /eb53025/);
                return true;
            });
            await assert.rejects(client.resolveTag("rednaw/no-such-repo", "eb53023"), RepositoryNotFoundError);
        });

        it("deletes a manifest by digest, after which every tag on it is gone", async () => {
            const image = await pusher.pushImage("cleanup/me", ["old"]);
            await client.deleteManifest("cleanup/me", image.digest);
            await assert.rejects(client.resolve("cleanup/me", image.digest), ManifestNotFoundError);
            await assert.rejects(client.resolveTag("cleanup/me", "old"), TagNotFoundError);
        });

        it("fails with the registry's name when it is down, after bounded retries", async () => {
            const down = await startRegistry({ flavour });
            const address = down.address;
            await down.stop();
            const offline = new RegistryClient({ registry: address, insecure: true, retries: 2, retryDelayMs: 10 });
            await assert.rejects(offline.resolveTag("rednaw/hello-world", "eb53023"), (error: Error) => {
                assert.ok(error instanceof RegistryUnreachableError, String(error));
                assert.match(error.message, new RegExp(`registry ${address} could not be reached \\(ECONNREFUSED\\)`));
                return true;
            });
        });

        describe("with htpasswd auth", () => {
            const username = "deployer";
            const password = "s3cret-Pa55word";
            let secured: RegistryServer;

            before(async () => {
                secured = await startRegistry({ flavour, htpasswd: { username, password } });
                await new TestPusher(secured.address, { username, password }).pushImage("private/app", ["v1"], { labels });
            });
            after(async () => secured?.stop());

            it("resolves and reads labels with the right credentials", async () => {
                const authed = new RegistryClient({ registry: secured.address, insecure: true, credentials: { username, password } });
                const digest = await authed.resolveTag("private/app", "v1");
                assert.strictEqual((await authed.imageMetadata("private/app", digest)).description, labels["org.opencontainers.image.description"]);
                assert.deepStrictEqual(await authed.catalog(), ["private/app"]);
            });

            it("refuses a wrong password without ever showing it", async () => {
                const wrong = "not-the-Pa55word";
                const refused = new RegistryClient({ registry: secured.address, insecure: true, credentials: { username, password: wrong } });
                await assert.rejects(refused.resolveTag("private/app", "v1"), (error: Error) => {
                    assert.ok(error instanceof RegistryAuthError, String(error));
                    assert.match(error.message, /refused the configured credentials \(HTTP 401\)/);
                    assert.ok(!error.message.includes(wrong) && !(error.stack ?? "").includes(wrong));
                    return true;
                });
            });

            it("says credentials are needed when none are configured", async () => {
                const anonymous = new RegistryClient({ registry: secured.address, insecure: true });
                await assert.rejects(anonymous.resolveTag("private/app", "v1"), /requires credentials and none are configured/);
            });
        });
    });
}
