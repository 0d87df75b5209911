import * as assert from "assert";
import { formatCreated, formatDeployment, formatImageTable } from "../../components/model/overview";
import { printable } from "../../components/model/printable";
import { deployedLabels, markDeployed, unknownLabels } from "../../components/model/overview-listing";
import { TagRow } from "../../components/registry/listing";

const row = (tag: string, digest: string | null, created: string | null, description: string | null): TagRow =>
    ({ repository: "rednaw/hello-world", tag, digest, created, description, revision: null, source: null });

describe("overview table", () => {
    it("marks every tag on the deployed digest and keeps columns aligned for long tags", () => {
        const table = formatImageTable("rednaw/hello-world", [
            row("6350192", "sha256:b", "2026-01-25T01:10:00Z", "add healthcheck"),
            row("release-2026.01.25", "sha256:b", "2026-01-25T01:10:00Z", "add healthcheck"),
            row("eb53023", "sha256:a", "2026-01-25T01:01:33Z", "initial deploy"),
        ], "sha256:b");
        assert.strictEqual(table, [
            "IMAGE: rednaw/hello-world",
            "",
            "TAG                   CREATED              DESCRIPTION",
            "---                   -------              -----------",
            "→ 6350192             2026-01-25 01:10     add healthcheck",
            "→ release-2026.01.25  2026-01-25 01:10     add healthcheck",
            "  eb53023             2026-01-25 01:01     initial deploy",
        ].join("\n"));
    });

    it("cuts long descriptions, neutralises control characters and shows a vanished tag as gone", () => {
        const table = formatImageTable("r", [
            row("t1", "sha256:a", null, "x".repeat(100)),
            row("t2", "sha256:a", "2026-01-25T01:01:33Z", "\x1b[2J\x1b]0;pwned\x07evil\rline"),
            row("t3", null, null, null),
        ]);
        const lines = table.split("\n");
        assert.ok(lines[4].endsWith("x".repeat(59) + "…"));
        assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(table), JSON.stringify(table));
        assert.match(lines[6], /^ {2}t3 +\(gone\) +tag deleted while listing$/);
    });

    it("keeps the arrow on what runs when no tag names it, and says which tag moved", () => {
        const deployed = `sha256:${"d".repeat(64)}`;
        const table = formatImageTable("rednaw/hello-world", [
            { ...row("eb53023", "sha256:b", "2026-01-25T01:20:00Z", "someone else's image"), moved: true },
            { ...row("", deployed, "2026-01-25T01:10:00Z", "add healthcheck"), untagged: true },
        ], deployed);
        assert.deepStrictEqual(table.split("\n").slice(4), [
            "  eb53023              2026-01-25 01:20     (tag moved off the deployed image) someone else's image",
            "→ sha256:dddddddddddd  2026-01-25 01:10     (untagged) add healthcheck",
        ]);
    });

    it("shows an image it cannot read as a row saying why, created empty, the arrow kept where the digest is known", () => {
        const deployed = `sha256:${"d".repeat(64)}`;
        const table = formatImageTable("rednaw/hello-world", [
            row("6350192", "sha256:b", "2026-01-25T01:10:00Z", "add healthcheck"),
            { ...row("arm64only", "sha256:c", null, null), unreadable: "no linux/amd64 image in this index: linux/arm64" },
            { ...row("eb53023", deployed, null, null), unreadable: "config blob missing: sha256:e" },
            { ...row("broken", null, null, null), unreadable: "manifest unreadable: \x1b[2Jthe manifest\u202e is not JSON" },
        ], deployed);
        assert.deepStrictEqual(table.split("\n").slice(4), [
            "  6350192    2026-01-25 01:10     add healthcheck",
            "  arm64only                       (no linux/amd64 image in this index: linux/arm64)",
            "→ eb53023                         (config blob missing: sha256:e)",
            "  broken                          (manifest unreadable: the manifest\\u202e is not JSON)",
        ]);
    });

    it("says who deployed what runs and when, by tag or else by short digest, printable", () => {
        const record = {
            app: "hello-world", workspace: "dev", image: "127.0.0.1:5000/rednaw/hello-world", tag: "6350192" as string | null,
            digest: `sha256:${"d".repeat(64)}`, description: "add healthcheck", deployed_at: "2026-01-25T01:10:07Z", deployed_by: "wander@casa",
        };
        assert.strictEqual(formatDeployment(record), "DEPLOYED: 6350192 at 2026-01-25 01:10 by wander@casa");
        assert.strictEqual(formatDeployment({ ...record, tag: null, deployed_by: "eve\x1b[2J\u202e" }),
            "DEPLOYED: sha256:dddddddddddd at 2026-01-25 01:10 by eve\\u202e");
    });

    it("formats created times in UTC and keeps odd values printable", () => {
        assert.strictEqual(formatCreated("2026-01-25T02:10:00+01:00"), "2026-01-25 01:10");
        assert.strictEqual(formatCreated(null), "-");
        assert.strictEqual(formatCreated("yesterday\x1b[31m"), "yesterday");
        assert.strictEqual(printable("a\u202eb"), "a\\u202eb");
    });
});

describe("the listing marked with what the host runs (markDeployed, deployedLabels)", () => {
    const rows = [row("eb53023", "sha256:a", "2026-01-25T01:01:00Z", "initial deploy"), row("6350192", "sha256:b", "2026-01-25T01:10:00Z", "add healthcheck")];
    const pin = { digest: "sha256:b", description: "add healthcheck", created: "2026-01-25T01:10:00Z", revision: "r", source: "s" };

    it("marks the rows on the deployed digest, newest first, and the recorded tag that moved off it", () => {
        assert.deepStrictEqual(markDeployed("rednaw/hello-world", rows, { digest: "sha256:b", tag: "6350192" }, unknownLabels)
            .map((r) => [r.tag, r.deployed, r.moved ?? false]), [["6350192", true, false], ["eb53023", false, false]]);
        assert.deepStrictEqual(markDeployed("rednaw/hello-world", rows, { digest: "sha256:a", tag: "6350192" }, unknownLabels)
            .map((r) => [r.tag, r.deployed, r.moved ?? false]), [["6350192", false, true], ["eb53023", true, false]]);
        assert.deepStrictEqual(markDeployed("rednaw/hello-world", rows, null, unknownLabels).map((r) => r.deployed), [false, false]);
    });

    it("adds a row for a deployed digest no tag names, with the labels given", () => {
        const marked = markDeployed("rednaw/hello-world", rows, { digest: "sha256:c", tag: null }, { ...unknownLabels, description: "hotfix" });
        const untagged = marked.filter((r) => r.untagged);
        assert.deepStrictEqual(untagged, [{ repository: "rednaw/hello-world", tag: "", digest: "sha256:c", ...unknownLabels,
            description: "hotfix", deployed: true, untagged: true }]);
        assert.strictEqual(markDeployed("rednaw/hello-world", [], { digest: "sha256:c", tag: null }, unknownLabels).length, 1);
    });

    it("labels an untagged deployed digest from the pin when it is the pin, else from its record, printable", () => {
        assert.deepStrictEqual(deployedLabels({ digest: "sha256:b", description: "whatever the record says" }, pin),
            { description: "add healthcheck", created: "2026-01-25T01:10:00Z", revision: "r", source: "s" });
        assert.deepStrictEqual(deployedLabels({ digest: "sha256:z", description: "by hand \x1b[31m" }, pin),
            { ...unknownLabels, description: printable("by hand \x1b[31m") });
        assert.deepStrictEqual(deployedLabels({ digest: "sha256:z", description: null }, pin), unknownLabels);
        assert.deepStrictEqual(deployedLabels(null, pin), unknownLabels);
    });
});
