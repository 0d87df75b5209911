// What registry:cleanup prints as text: the plan as a table with a per-repository summary, each tag prune and
// deletion as one line, and what an apply leaves to do. Pure; --json prints the plan and results as they are.
import { ApplyResult } from "./cleanup";
import { Decision } from "./plan";
import { PruneResult, TagPrune } from "./tag-prune";
import { formatCreated } from "../model/overview";
import { printable } from "../model/printable";
import { shortDigest } from "../registry/reference";

/** One row per digest; every column padded but the last (the reasons, as long as they are). */
export function formatPlanTable(plan: Decision[]): string {
    const rows = plan.map((d) => [d.repository, shortDigest(d.digest), d.tags.join(",") || "-", formatCreated(d.created),
        printable(d.description ?? "").slice(0, 40), d.decision, d.reasons.join("; ")]);
    const header = ["REPOSITORY", "DIGEST", "TAGS", "CREATED", "DESCRIPTION", "DECISION", "REASON"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
    const line = (cells: string[]) => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ");
    return [line(header), line(header.map((h) => "-".repeat(h.length))), ...rows.map(line)].join("\n");
}

/** `repository: keep N, delete M`, one line per repository in the plan's order. */
export function formatPlanSummary(plan: Decision[]): string {
    const repositories = [...new Set(plan.map((d) => d.repository))];
    return repositories.map((repository) => {
        const mine = plan.filter((d) => d.repository === repository);
        const deleted = mine.filter((d) => d.decision === "delete").length;
        return `${repository}: keep ${mine.length - deleted}, delete ${deleted}`;
    }).join("\n");
}

export function formatPlanDryRun(plan: Decision[]): string {
    return `${formatPlanTable(plan)}\n\n${formatPlanSummary(plan)}\n\ndry run: nothing deleted; --apply deletes the digests marked delete`;
}

export function formatDeleted(deleted: Decision): string {
    return `deleted ${deleted.repository}@${deleted.digest} (${deleted.tags.join(", ")})`;
}

/** The digests the plan made again spared, then what deleting leaves to the registry's garbage collection. */
export function formatApplied(result: ApplyResult): string {
    return [
        ...result.spared.map((d) => `spared ${d.repository}@${d.digest}: ${d.reasons.join("; ")} since the plan was made`),
        `\n${result.deleted.length} digest(s) deleted. Their blobs are reclaimed by the registry's garbage collection, ` +
            "with the registry stopped or read-only:\n  registry garbage-collect /etc/docker/registry/config.yml\n" +
            "(never --delete-untagged: it also deletes deployed digests whose tag moved; see docs/operator-guide.md)",
    ].join("\n");
}

/** `repository:tag (digest) ACTION: reason`. */
export function formatPrune(prune: TagPrune, action: string): string {
    return `${prune.repository}:${prune.tag} (${shortDigest(prune.digest)}) ${action}: ${prune.reason}`;
}

export function formatPruneDryRun(prunes: TagPrune[]): string {
    return `${prunes.map((p) => formatPrune(p, p.action)).join("\n")}\n\ndry run: nothing removed`;
}

/** The prunes kept by the plan, then those the plan made again spared; one line each, none when there are none. */
export function formatPruned(prunes: TagPrune[], result: PruneResult): string[] {
    return [
        ...prunes.filter((candidate) => candidate.action === "keep").map((p) => formatPrune(p, "kept")),
        ...result.spared.map((p) => formatPrune(p, "spared") + "; the plan made again just before no longer removes it"),
    ];
}
