// registry:cleanup's text: the plan's table (columns as wide as their widest cell, the reasons last and unpadded,
// labels made printable), the per-repository summary, and what each mode says at its end.
import * as assert from "assert";
import { Decision } from "../../components/cleanup/plan";
import {
    formatApplied, formatDeleted, formatPlanDryRun, formatPlanSummary, formatPlanTable, formatPrune, formatPruneDryRun, formatPruned,
} from "../../components/cleanup/report";
import { TagPrune } from "../../components/cleanup/tag-prune";

const digestA = `sha256:${"a1".repeat(32)}`;
const digestB = `sha256:${"b2".repeat(32)}`;
const digestC = `sha256:${"c3".repeat(32)}`;
const plan: Decision[] = [
    { repository: "rednaw/api", digest: digestA, tags: ["v2", "stable"], created: "2026-01-25T01:10:00Z",
        description: "fix\u001b[31m red", decision: "keep", reasons: ["deployed in prod", "newest 3"] },
    { repository: "rednaw/api", digest: digestB, tags: [], created: null, description: null, decision: "delete", reasons: ["older than 30d"] },
    { repository: "x/y", digest: digestC, tags: ["d1"], created: "2026-02-01T00:00:00Z", description: "d".repeat(50),
        decision: "delete", reasons: ["untagged"] },
];

describe("registry:cleanup's report", () => {
    it("tabulates the plan: padded columns, the reasons last, tags joined, labels printable and cut at 40", () => {
        const lines = formatPlanTable(plan).split("\n");
        assert.strictEqual(lines.length, 2 + plan.length);
        const cells = (line: string) => line.split(/ {2,}/);
        assert.deepStrictEqual(cells(lines[0]), ["REPOSITORY", "DIGEST", "TAGS", "CREATED", "DESCRIPTION", "DECISION", "REASON"]);
        assert.deepStrictEqual(cells(lines[1]), ["----------", "------", "----", "-------", "-----------", "--------", "------"]);
        assert.deepStrictEqual(cells(lines[2]), ["rednaw/api", "a1a1a1a1a1a1", "v2,stable", "2026-01-25 01:10", "fix red", "keep",
            "deployed in prod; newest 3"]);
        assert.deepStrictEqual(cells(lines[3]), ["rednaw/api", "b2b2b2b2b2b2", "-", "-", "delete", "older than 30d"],
            "an empty description leaves its column blank");
        assert.strictEqual(cells(lines[4])[4], "d".repeat(40));
        // Every cell starts where its header does (the blank description of the second row aside).
        for (const column of ["DIGEST", "TAGS", "CREATED", "DESCRIPTION", "DECISION", "REASON"]) {
            const at = lines[0].indexOf(column);
            const rows = lines.slice(2).filter((_, i) => !(column === "DESCRIPTION" && i === 1));
            assert.ok(rows.every((line) => line.slice(at - 2, at) === "  " && line[at] !== " "), column);
        }
        assert.ok(lines.every((line) => !line.endsWith(" ")), "no trailing padding");
    });

    it("sums up per repository, and says what a dry run did", () => {
        assert.strictEqual(formatPlanSummary(plan), "rednaw/api: keep 1, delete 1\nx/y: keep 0, delete 1");
        assert.strictEqual(formatPlanDryRun(plan), `${formatPlanTable(plan)}\n\n${formatPlanSummary(plan)}\n\n` +
            "dry run: nothing deleted; --apply deletes the digests marked delete");
    });

    it("says each deletion, what the plan made again spared, and the garbage collection left to do", () => {
        assert.strictEqual(formatDeleted(plan[2]), `deleted x/y@${digestC} (d1)`);
        const applied = formatApplied({ deleted: [plan[2]], spared: [{ ...plan[1], decision: "keep", reasons: ["deployed in dev"] }] }).split("\n");
        assert.strictEqual(applied[0], `spared rednaw/api@${digestB}: deployed in dev since the plan was made`);
        assert.strictEqual(applied[1], "");
        assert.match(applied[2], /^1 digest\(s\) deleted\. .*garbage collection/);
        assert.ok(applied.includes("  registry garbage-collect /etc/docker/registry/config.yml"));
        assert.match(applied[applied.length - 1], /never --delete-untagged/);
        assert.strictEqual(formatApplied({ deleted: [], spared: [] }).split("\n")[1], "0 digest(s) deleted. Their blobs are reclaimed " +
            "by the registry's garbage collection, with the registry stopped or read-only:");
    });

    it("says each tag prune with its action and reason, and nothing when nothing was kept or spared", () => {
        const prunes: TagPrune[] = [
            { repository: "rednaw/api", tag: "release-1", digest: digestA, action: "keep", reason: "the keep pattern ^(?:release-.*)$ keeps its digest by this tag" },
            { repository: "x/y", tag: "d1", digest: digestC, action: "remove", reason: "the digest is a deletion candidate" },
        ];
        assert.strictEqual(formatPrune(prunes[1], "removed"), "x/y:d1 (c3c3c3c3c3c3) removed: the digest is a deletion candidate");
        assert.strictEqual(formatPruneDryRun(prunes), `${formatPrune(prunes[0], "keep")}\n${formatPrune(prunes[1], "remove")}\n\ndry run: nothing removed`);
        assert.deepStrictEqual(formatPruned(prunes, { removed: [], spared: [prunes[1]] }), [
            formatPrune(prunes[0], "kept"),
            `${formatPrune(prunes[1], "spared")}; the plan made again just before no longer removes it`,
        ]);
        assert.deepStrictEqual(formatPruned([prunes[1]], { removed: [prunes[1]], spared: [] }), []);
    });
});
