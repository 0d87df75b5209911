// The cleanup plan, property-based: whatever the registry, the deploy records and the policy, nothing
// referenced or retained is ever a deletion candidate, and every digest has a reason.
import * as assert from "assert";
import * as fc from "fast-check";
import { DigestEntry, References, planCleanup, referenceKey } from "../../components/cleanup/plan";
import { RetentionPolicy, RetentionPolicyError, keepPatterns, loadPolicy, ruleFor } from "../../components/cleanup/policy";
import { planTagPrune } from "../../components/cleanup/tag-prune";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const now = new Date("2026-03-01T00:00:00Z");
const dayMs = 86_400_000;
const hex = fc.stringMatching(/^[0-9a-f]{64}$/);

const entryArb = fc.record({
    repository: fc.constantFrom("rednaw/hello-world", "rednaw/api", "tools/x"),
    digest: hex.map((h) => `sha256:${h}`),
    tags: fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,8}$/), { maxLength: 3 }),
    created: fc.option(fc.integer({ min: 0, max: 400 }).map((days) => new Date(now.getTime() - days * dayMs).toISOString()), { nil: null }),
    description: fc.constant("d"),
});
const ruleArb = fc.record({
    keepNewest: fc.integer({ min: 0, max: 5 }),
    keepYoungerThanDays: fc.integer({ min: 0, max: 60 }),
    keepTags: fc.subarray(["v\\d+", "stable", "release-.*"]),
});
const policyArb: fc.Arbitrary<RetentionPolicy> = fc.record({
    default: ruleArb,
    repositories: fc.dictionary(fc.constantFrom("rednaw/api", "tools/x"), ruleArb.map((r) => ({ keepNewest: r.keepNewest }))),
});

describe("cleanup plan (property-based)", () => {
    it("never deletes a referenced or retained digest, and gives every digest a reason", () => {
        fc.assert(fc.property(
            fc.uniqueArray(entryArb, { selector: (e) => `${e.repository}@${e.digest}`, maxLength: 25 }),
            fc.array(fc.tuple(fc.nat(), fc.constantFrom("deployed in prod", "in dev history", "deployed in dev")), { maxLength: 8 }),
            policyArb,
            (entries: DigestEntry[], picks, policy) => {
                const references: References = new Map();
                for (const [index, reason] of picks) {
                    const entry = entries[index % Math.max(entries.length, 1)];
                    if (entry) {
                        const key = referenceKey(entry.repository, entry.digest);
                        references.set(key, [...(references.get(key) ?? []), reason]);
                    }
                }
                const plan = planCleanup(entries, references, policy, now);
                assert.strictEqual(plan.length, entries.length, "a decision for every digest");
                for (const decision of plan) {
                    assert.ok(decision.reasons.length > 0, "every decision has a reason");
                    if (decision.decision !== "delete") {
                        continue;
                    }
                    const rule = { ...policy.default, ...policy.repositories[decision.repository] };
                    assert.ok(!references.has(referenceKey(decision.repository, decision.digest)), "a referenced digest is kept");
                    if (decision.created) {
                        assert.ok(now.getTime() - Date.parse(decision.created) >= rule.keepYoungerThanDays * dayMs, "a young digest is kept");
                    }
                    assert.ok(!decision.tags.some((tag) => rule.keepTags.some((p) => new RegExp(`^(?:${p})$`).test(tag))), "a pattern-matched digest is kept");
                    // Newest by created; an unknown created is the oldest; equal ones in digest order.
                    const time = (c: string | null) => (c ? Date.parse(c) : -Infinity);
                    const newer = plan.filter((d) => d.repository === decision.repository &&
                        (time(d.created) > time(decision.created) || (time(d.created) === time(decision.created) && d.digest < decision.digest)));
                    assert.ok(newer.length >= rule.keepNewest, "one of the newest K is kept");
                }
            }), { numRuns: 500 });
    });

    it("never prunes the last tag of a kept digest, nor a tag a keep pattern keeps its digest by", () => {
        fc.assert(fc.property(fc.uniqueArray(entryArb, { selector: (e) => `${e.repository}@${e.digest}`, maxLength: 15 }), policyArb,
            fc.constantFrom(/.*/, /release-.*/, /v\d+/, /[a-m].*/),
            (entries, policy, pattern) => {
                const plan = planCleanup(entries, new Map(), policy, now);
                const prunes = planTagPrune(plan, pattern, policy);
                const removed = prunes.filter((p) => p.action === "remove");
                for (const decision of plan.filter((d) => d.decision === "keep" && d.tags.length > 0)) {
                    const gone = removed.filter((p) => p.digest === decision.digest && p.repository === decision.repository);
                    assert.ok(gone.length < decision.tags.length, `${decision.digest} keeps a tag`);
                }
                for (const prune of removed) {
                    assert.ok(!keepPatterns(ruleFor(policy, prune.repository)).some((keep) => keep.test(prune.tag)), `${prune.tag} is kept by a pattern`);
                }
                // What the pruned registry would hold plans no deletion the unpruned one did not.
                const after = entries.map((e) => ({ ...e, tags: e.tags.filter((tag) => !removed.some((p) => p.repository === e.repository && p.digest === e.digest && p.tag === tag)) }));
                const deletedBefore = new Set(plan.filter((d) => d.decision === "delete").map((d) => d.digest));
                for (const decision of planCleanup(after, new Map(), policy, now).filter((d) => d.decision === "delete")) {
                    assert.ok(deletedBefore.has(decision.digest), `pruning made ${decision.digest} a deletion candidate`);
                }
            }), { numRuns: 300 });
    });

    it("names the reasons the way operators read them", () => {
        const entry = (digest: string, days: number, tags: string[]): DigestEntry =>
            ({ repository: "r", digest, tags, created: new Date(now.getTime() - days * dayMs).toISOString(), description: null });
        const plan = planCleanup([entry("sha256:a", 1, ["a"]), entry("sha256:b", 100, ["b"]), entry("sha256:c", 200, ["v2"]), entry("sha256:d", 300, ["d"])],
            new Map([[referenceKey("r", "sha256:d"), ["deployed in prod"]]]),
            { default: { keepNewest: 1, keepYoungerThanDays: 30, keepTags: ["v\\d+"] }, repositories: {} }, now);
        assert.deepStrictEqual(plan.map((d) => [d.digest, d.decision, d.reasons]), [
            ["sha256:a", "keep", ["newest 1", "younger than 30d"]],
            ["sha256:b", "delete", ["delete: not referenced, older than 30d, not among the newest 1"]],
            ["sha256:c", "keep", ["matches keep pattern (v2)"]],
            ["sha256:d", "keep", ["deployed in prod"]],
        ]);
    });

    it("reads retention.yml with defaults and refuses what it does not understand", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-policy-"));
        const file = path.join(dir, "retention.yml");
        assert.deepStrictEqual(loadPolicy(file).default, { keepNewest: 10, keepYoungerThanDays: 30, keepTags: [] });
        fs.writeFileSync(file, "default:\n  keepNewest: 5\nrepositories:\n  rednaw/api:\n    keepTags: ['v\\d+']\n");
        const policy = loadPolicy(file);
        assert.deepStrictEqual(policy.default, { keepNewest: 5, keepYoungerThanDays: 30, keepTags: [] });
        assert.deepStrictEqual(policy.repositories["rednaw/api"], { keepTags: ["v\\d+"] });
        fs.writeFileSync(file, "default:\n  keepNewst: 5\n");
        assert.throws(() => loadPolicy(file), RetentionPolicyError);
        fs.writeFileSync(file, "default:\n  keepNewest: -1\n");
        assert.throws(() => loadPolicy(file), /whole number/);
        fs.rmSync(dir, { recursive: true });
    });
});
