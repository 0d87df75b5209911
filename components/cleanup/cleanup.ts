// Cleanup against a registry: what it holds, grouped by digest; deleting exactly the plan's candidates that
// are still candidates once the references are read again.
import { RegistryClient } from "../registry/client";
import { listRepositoryTags, mapWithLimit } from "../registry/listing";
import { DigestEntry, Decision, References, planCleanup } from "./plan";
import { RetentionPolicy } from "./policy";

/** Every digest of every repository, with its tags, created and description. */
export async function inventory(client: RegistryClient, progress: (message: string) => void = () => undefined): Promise<DigestEntry[]> {
    const repositories = (await client.catalog()).sort();
    const perRepository = await mapWithLimit(repositories, 4, async (repository) => {
        const rows = await listRepositoryTags(client, repository);
        progress(`${repository}: ${rows.length} tags`);
        const byDigest = new Map<string, DigestEntry>();
        for (const row of rows) {
            if (row.digest === null) {
                continue; // deleted while we listed: nothing left to decide
            }
            const entry = byDigest.get(row.digest) ??
                { repository, digest: row.digest, tags: [], created: row.created, description: row.description };
            entry.tags.push(row.tag);
            byDigest.set(row.digest, entry);
        }
        return [...byDigest.values()];
    });
    return perRepository.flat();
}

export interface ApplyResult {
    deleted: Decision[];
    /** Candidates of the plan shown that the references read again now keep (a deploy happened meanwhile). */
    spared: Decision[];
}

/**
 * Deletes the plan's candidates, after reading the references again: a digest deployed since the plan was
 * made is spared.
 */
export async function applyPlan(client: RegistryClient, plan: Decision[], policy: RetentionPolicy, now: Date,
    readReferences: () => Promise<References>, onDeleted: (deleted: Decision) => void = () => undefined): Promise<ApplyResult> {
    const fresh = planCleanup(plan, await readReferences(), policy, now);
    const stillDelete = new Set(fresh.filter((d) => d.decision === "delete").map((d) => `${d.repository}@${d.digest}`));
    const result: ApplyResult = { deleted: [], spared: [] };
    for (const candidate of plan.filter((d) => d.decision === "delete")) {
        if (!stillDelete.has(`${candidate.repository}@${candidate.digest}`)) {
            result.spared.push(fresh.find((d) => d.repository === candidate.repository && d.digest === candidate.digest)!);
            continue;
        }
        await client.deleteManifest(candidate.repository, candidate.digest);
        result.deleted.push(candidate);
        // Said at once: if a later delete fails, what is already gone has been reported.
        onDeleted(candidate);
    }
    return result;
}
