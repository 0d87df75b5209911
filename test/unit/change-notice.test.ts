import * as assert from "assert";
import { ChangeNoticeArgs, describePendingChange, formatChange } from "../../components/model/change-notice";
import { RegistryClient } from "../../components/registry/client";

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

describe("change notice: what it asks the registry, branch by branch", () => {
    /** A registry of a and b that counts what it is asked; the real client is tested against real registries. */
    function countingRegistry() {
        const calls: string[] = [];
        const byTag: Record<string, typeof a> = { [a.tag]: a, [b.tag]: b };
        const byDigest = Object.fromEntries([a, b].map((v) => [v.digest, v]));
        const client = {
            resolveTag: async (_repository: string, tag: string) => {
                calls.push(`resolveTag ${tag}`);
                if (!byTag[tag]) {
                    throw new Error(`tag ${tag} not found`);
                }
                return byTag[tag].digest;
            },
            imageMetadata: async (_repository: string, digest: string) => {
                calls.push(`imageMetadata ${digest.slice(7, 8)}`);
                const { description, created } = byDigest[digest];
                return { description, created, revision: null, source: null };
            },
        } as unknown as RegistryClient;
        return { calls, client };
    }
    const notice = (registry: ReturnType<typeof countingRegistry>, args: Partial<ChangeNoticeArgs>) => describePendingChange({
        app: "hello-world", workspace: "dev", repository: "rednaw/hello-world", platform: "linux/amd64", requested: {},
        client: registry.client, ...args,
    });

    it("asks nothing when the pinned target is what is deployed", async () => {
        const registry = countingRegistry();
        assert.strictEqual(await notice(registry, { target: a, deployed: a }), undefined);
        assert.deepStrictEqual(registry.calls, []);
    });

    it("asks nothing when both the target and the deployed version are known", async () => {
        const registry = countingRegistry();
        assert.match((await notice(registry, { target: a, deployed: b }))!, /\(rollback\)$/);
        assert.strictEqual(await notice(registry, { target: a }), 'hello-world@dev: first deploy of eb53023 "initial deploy"');
        assert.deepStrictEqual(registry.calls, []);
    });

    it("asks for the deployed image's build time only when the stack never learnt it", async () => {
        const registry = countingRegistry();
        assert.match((await notice(registry, { target: a, deployed: { ...b, created: null } }))!, /\(rollback\)$/);
        assert.deepStrictEqual(registry.calls, ["imageMetadata b"]);
    });

    it("at a preview, resolves the tag once and stops there when it is what is deployed", async () => {
        const registry = countingRegistry();
        assert.strictEqual(await notice(registry, { requested: { tag: a.tag }, deployed: a }), undefined);
        assert.deepStrictEqual(registry.calls, [`resolveTag ${a.tag}`]);
    });

    it("at a preview, resolves the tag and reads the target's labels", async () => {
        const registry = countingRegistry();
        assert.strictEqual(await notice(registry, { requested: { tag: b.tag }, deployed: a }),
            'hello-world@dev: eb53023 "initial deploy" → 6350192 "add healthcheck + fix nginx proxy header"');
        assert.deepStrictEqual(registry.calls, [`resolveTag ${b.tag}`, "imageMetadata b"]);
    });

    it("at a preview by digest, reads the labels without resolving any tag", async () => {
        const registry = countingRegistry();
        assert.match((await notice(registry, { requested: { digest: b.digest }, deployed: a }))!, /→ sha256:bbbbbbbbbbbb "add healthcheck/);
        assert.deepStrictEqual(registry.calls, ["imageMetadata b"]);
    });

    it("passes the registry's refusal on, so the preview fails with it", async () => {
        const registry = countingRegistry();
        await assert.rejects(notice(registry, { requested: { tag: "nope" }, deployed: a }), /tag nope not found/);
    });
});
