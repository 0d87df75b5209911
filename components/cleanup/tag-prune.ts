// Pruning tags (not digests): which tags matching a pattern go, and removing them only when a plan made from
// references read again just before still says so. A tag a keep pattern keeps its digest by stays (removing it
// would make the next plan delete the digest), and so does the last tag of a kept digest.
import { DeleteNotSupportedError, ManifestNotFoundError, TagNotFoundError } from "../registry/errors";
import { RegistryClient } from "../registry/client";
import { Decision } from "./plan";
import { RetentionPolicy, keepPatterns, ruleFor } from "./policy";

export interface TagPrune {
    repository: string;
    tag: string;
    digest: string;
    action: "remove" | "keep";
    reason: string;
}

export function planTagPrune(plan: Decision[], pattern: RegExp, policy: RetentionPolicy): TagPrune[] {
    const prunes: TagPrune[] = [];
    for (const entry of plan) {
        const patterns = keepPatterns(ruleFor(policy, entry.repository));
        const keptBy = (tag: string) => patterns.find((keep) => keep.test(tag));
        const matching = entry.tags.filter((tag) => pattern.test(tag));
        const removable = matching.filter((tag) => !keptBy(tag));
        const staying = entry.tags.length - removable.length;
        // A kept digest that would be left without a tag keeps the last one it has.
        const spared = entry.decision === "keep" && staying === 0 ? removable[removable.length - 1] : undefined;
        for (const tag of matching) {
            const base = { repository: entry.repository, tag, digest: entry.digest };
            const keep = keptBy(tag);
            if (keep) {
                prunes.push({ ...base, action: "keep", reason: `the keep pattern ${keep.source} keeps its digest by this tag` });
            } else if (tag === spared) {
                prunes.push({ ...base, action: "keep", reason: `last tag of a kept digest (${entry.reasons.join(", ")})` });
            } else {
                prunes.push({ ...base, action: "remove", reason: entry.decision === "keep" ? "the digest keeps another tag" : "the digest is a deletion candidate" });
            }
        }
    }
    return prunes;
}

export class TagDeleteUnsupportedError extends Error {
    constructor(registry: string) {
        super(`registry ${registry} cannot delete tags: this registry version has no tag delete (Registry 2.8 answers ` +
            "400 DIGEST_INVALID to DELETE by tag; Registry v3 can). Nothing was removed. Upgrade to Registry v3, or delete " +
            "whole digests with registry:cleanup --apply");
        this.name = "TagDeleteUnsupportedError";
    }
}

/**
 * Asks the registry, harmlessly, whether it can delete tags: a DELETE of a tag and of a digest that do not exist.
 * A registry that deletes by digest but refuses by tag is one without tag delete (Registry 2.8), not one with
 * deletion disabled.
 */
export async function checkTagDelete(client: RegistryClient, repository: string): Promise<void> {
    const probe = `iac-probe-${Date.now().toString(36)}`;
    try {
        await client.deleteTag(repository, probe);
        return;
    } catch (error) {
        if (error instanceof TagNotFoundError) {
            return;
        }
        if (!(error instanceof DeleteNotSupportedError)) {
            throw error;
        }
    }
    try {
        await client.deleteManifest(repository, `sha256:${"0".repeat(64)}`);
    } catch (error) {
        if (error instanceof ManifestNotFoundError) {
            throw new TagDeleteUnsupportedError(client.registry);
        }
        throw error;
    }
}

export interface PruneResult {
    removed: TagPrune[];
    /** Removals of the plan shown that the plan made again just before no longer makes. */
    spared: TagPrune[];
}

/**
 * Removes the prunes marked remove that `replan` (fresh references and a fresh listing) still marks remove, on the
 * same digest.
 */
export async function applyTagPrune(client: RegistryClient, prunes: TagPrune[], replan: () => Promise<TagPrune[]>,
    onRemoved: (removed: TagPrune) => void = () => undefined): Promise<PruneResult> {
    const candidates = prunes.filter((p) => p.action === "remove");
    for (const repository of new Set(candidates.map((p) => p.repository))) {
        await checkTagDelete(client, repository);
    }
    const still = new Set((await replan()).filter((p) => p.action === "remove").map((p) => `${p.repository}:${p.tag}@${p.digest}`));
    const result: PruneResult = { removed: [], spared: [] };
    for (const prune of candidates) {
        if (!still.has(`${prune.repository}:${prune.tag}@${prune.digest}`)) {
            result.spared.push(prune);
            continue;
        }
        await client.deleteTag(prune.repository, prune.tag);
        result.removed.push(prune);
        onRemoved(prune);
    }
    return result;
}
