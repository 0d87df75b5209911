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
            pushed.push(
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

        it("prints the seed's table, newest first", () => {
            const { status, stdout } = overview(["--registry", registry.address, "--insecure"]);
            assert.strictEqual(status, 0);
            assert.ok(stdout.includes([
                "IMAGE: rednaw/hello-world",
                "",
                "TAG        CREATED              DESCRIPTION",
                "---        -------              -----------",
                "  6350192  2026-01-25 01:10     add healthcheck + fix nginx proxy header",
                "  stable   2026-01-25 01:10     add healthcheck + fix nginx proxy header",
                "  eb53023  2026-01-25 01:01     initial deploy",
            ].join("\n")), stdout);
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
