// The cleanup plan: per digest (the unit of deletion: all its tags go with it) keep or delete, each with
// its reasons. Pure: the references and the registry's contents come in, the decisions go out.
import { compareNewestFirst } from "../registry/listing";
import { RetentionPolicy, keepPatterns, ruleFor } from "./policy";

export interface DigestEntry {
    repository: string;
    digest: string;
    tags: string[];
    created: string | null;
    description: string | null;
}

/**
 * Why a digest must stay, keyed `repository@digest`: "deployed in prod", "in dev history". Keyed by
 * `referenceKey(anyRepository, digest)`, it stays in every repository: a host named it in a way that cannot be
 * told apart from the registry being cleaned (another spelling of its host, a mirror), and a digest names the
 * same bytes whichever repository holds it.
 */
export type References = Map<string, string[]>;

/** Never a repository name (the grammar has no '*'), so it cannot collide with one. */
export const anyRepository = "*";

export const referenceKey = (repository: string, digest: string) => `${repository}@${digest}`;

/** Every reason `references` keeps `digest` in `repository` by: its own and those that hold in every repository. */
export function referenceReasons(references: References, repository: string, digest: string): string[] {
    return [...(references.get(referenceKey(repository, digest)) ?? []), ...(references.get(referenceKey(anyRepository, digest)) ?? [])];
}

export interface Decision extends DigestEntry {
    decision: "keep" | "delete";
    reasons: string[];
}

const dayMs = 24 * 60 * 60 * 1000;

export function planCleanup(entries: DigestEntry[], references: References, policy: RetentionPolicy, now: Date): Decision[] {
    const byRepository = new Map<string, DigestEntry[]>();
    for (const entry of entries) {
        byRepository.set(entry.repository, [...(byRepository.get(entry.repository) ?? []), entry]);
    }
    const decisions: Decision[] = [];
    for (const [repository, digests] of [...byRepository].sort(([a], [b]) => a.localeCompare(b))) {
        const rule = ruleFor(policy, repository);
        const patterns = keepPatterns(rule);
        const overridden = Object.keys(policy.repositories[repository] ?? {});
        const overrides = overridden.length > 0 ? ` (${overridden.join(", ")} from repositories.${repository}, the rest from default)` : "";
        // Newest first; an image without a created label counts as the oldest (it cannot prove its age).
        const ordered = [...digests].sort((a, b) => compareNewestFirst(a.created, b.created) || a.digest.localeCompare(b.digest));
        ordered.forEach((entry, rank) => {
            const reasons = referenceReasons(references, repository, entry.digest);
            if (rank < rule.keepNewest) {
                reasons.push(`newest ${rule.keepNewest}`);
            }
            const created = entry.created ? Date.parse(entry.created) : NaN;
            if (!Number.isNaN(created) && now.getTime() - created < rule.keepYoungerThanDays * dayMs) {
                reasons.push(`younger than ${rule.keepYoungerThanDays}d`);
            }
            const matching = entry.tags.find((tag) => patterns.some((pattern) => pattern.test(tag)));
            if (matching) {
                reasons.push(`matches keep pattern (${matching})`);
            }
            const age = entry.created === null || Number.isNaN(created)
                ? "no created label (ranked oldest, age unknown)"
                : `older than ${rule.keepYoungerThanDays}d`;
            decisions.push(reasons.length > 0
                ? { ...entry, decision: "keep", reasons }
                : { ...entry, decision: "delete", reasons: [`delete: not referenced, ${age}, not among the newest ${rule.keepNewest}${overrides}`] });
        });
    }
    return decisions;
}
