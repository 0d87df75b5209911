// `npm run registry:overview` as an operator runs it, against real registries.
import * as assert from "assert";
import { RegistryServer, registryFlavours, startRegistry } from "../../local/registry";
import { TestPusher } from "../helpers/push";
import { runOperatorCommand } from "../helpers/operator-command";

function overview(args: string[], env: NodeJS.ProcessEnv = {}) {
    const result = runOperatorCommand("registry:overview", args, { env: { ...process.env, ...env } });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

for (const flavour of registryFlavours) {
    describe(`npm run registry:overview against a real registry ${flavour}`, function () {
        this.timeout(120_000);
        let registry: RegistryServer;
        const pushed: { repository: string; tag: string; digest: string; created: string | null; description: string | null }[] = [];
        let arm64Index: string;

        before(async () => {
            registry = await startRegistry({ flavour });
            const pusher = new TestPusher(registry.address);
            const initial = await pusher.pushImage("rednaw/hello-world", ["eb53023"], { labels: {
                "org.opencontainers.image.description": "initial deploy", "org.opencontainers.image.created": "2026-01-25T01:01:33Z",
            } });
            const next = await pusher.pushImage("rednaw/hello-world", ["6350192", "stable"], { labels: {
                "org.opencontainers.image.description": "add healthcheck + fix nginx proxy header", "org.opencontainers.image.created": "2026-01-25T01:10:00Z",
            } });
            const bare = await pusher.pushImage("tools/bare", ["x"], { docker: true });
            // Beside the good tags, one whose image cannot be read for linux/amd64: it must hide none of them.
            const arm64 = await pusher.pushImage("rednaw/hello-world", [], { platform: "linux/arm64", labels: {
                "org.opencontainers.image.description": "arm64 build", "org.opencontainers.image.created": "2026-01-25T01:20:00Z",
            } });
            arm64Index = await pusher.pushIndex("rednaw/hello-world", ["arm64only"], [arm64]);
            pushed.push(
                { repository: "rednaw/hello-world", tag: "arm64only", digest: arm64Index, created: null, description: null },
                { repository: "rednaw/hello-world", tag: "eb53023", digest: initial.digest, created: "2026-01-25T01:01:33Z", description: "initial deploy" },
                { repository: "rednaw/hello-world", tag: "6350192", digest: next.digest, created: "2026-01-25T01:10:00Z", description: "add healthcheck + fix nginx proxy header" },
                { repository: "rednaw/hello-world", tag: "stable", digest: next.digest, created: "2026-01-25T01:10:00Z", description: "add healthcheck + fix nginx proxy header" },
                { repository: "tools/bare", tag: "x", digest: bare.digest, created: null, description: null },
            );
        });
        after(async () => registry?.stop());

        it("prints every tag as JSON, and only JSON, on stdout", () => {
            const { status, stdout } = overview(["--registry", registry.address, "--insecure", "--json"]);
            assert.strictEqual(status, 0);
            const rows = JSON.parse(stdout) as typeof pushed;
            const key = (r: { repository: string; tag: string }) => `${r.repository}:${r.tag}`;
            assert.deepStrictEqual(
                rows.map((r) => ({ repository: r.repository, tag: r.tag, digest: r.digest, created: r.created, description: r.description }))
                    .sort((a, b) => key(a).localeCompare(key(b))),
                [...pushed].sort((a, b) => key(a).localeCompare(key(b))));
        });

        it("prints the seed's table, newest first, and says why a tag's image cannot be read", () => {
            const { status, stdout } = overview(["--registry", registry.address, "--insecure"]);
            assert.strictEqual(status, 0);
            assert.ok(stdout.includes([
                "IMAGE: rednaw/hello-world",
                "",
                "TAG          CREATED              DESCRIPTION",
                "---          -------              -----------",
                "  6350192    2026-01-25 01:10     add healthcheck + fix nginx proxy header",
                "  stable     2026-01-25 01:10     add healthcheck + fix nginx proxy header",
                "  eb53023    2026-01-25 01:01     initial deploy",
                "  arm64only                       (no linux/amd64 image in this index: linux/arm64)",
                "",
            ].join("\n")), stdout);
        });

        it("gives that tag's row in JSON its digest and why, its labels null", () => {
            const { status, stdout } = overview(["--registry", registry.address, "--insecure", "--json"]);
            assert.strictEqual(status, 0);
            const rows = (JSON.parse(stdout) as { tag: string; unreadable?: string }[]).filter((row) => row.unreadable !== undefined);
            assert.deepStrictEqual(rows, [{
                repository: "rednaw/hello-world", tag: "arm64only", digest: arm64Index, created: null, description: null,
                revision: null, source: null, unreadable: "no linux/amd64 image in this index: linux/arm64",
            }]);
        });

        it("exits non-zero naming a registry that cannot be reached", async () => {
            const down = await startRegistry({ flavour });
            await down.stop();
            const { status, stderr, stdout } = overview(["--registry", down.address, "--insecure", "--json"]);
            assert.strictEqual(status, 1);
            assert.strictEqual(stdout, "");
            assert.match(stderr, new RegExp(`registry ${down.address} could not be reached`));
        });

        it("exits non-zero when the registry refuses the credentials, without printing the password", async () => {
            const secured = await startRegistry({ flavour, htpasswd: { username: "ci", password: "right-password" } });
            try {
                const { status, stderr } = overview(["--registry", secured.address, "--insecure"],
                    { IAC_REGISTRY_USERNAME: "ci", IAC_REGISTRY_PASSWORD: "wrong-password" });
                assert.strictEqual(status, 1);
                assert.match(stderr, /refused the configured credentials/);
                assert.ok(!stderr.includes("wrong-password"));
            } finally {
                await secured.stop();
            }
        });
    });
}
