// What a deploy means for people, said before it happens: `hello-world@dev: eb53023 "initial deploy" →
// 6350192 "add healthcheck…"`, called a rollback when the target was built before what runs. Said by the
// deployment's provider when it sees the change, so a no-op run asks nothing of anyone.
import { RegistryClient } from "../registry/client";
import { printable } from "./printable";

export interface VersionFacts {
    tag: string | null;
    digest: string;
    description: string | null;
    created: string | null;
}

export function formatChange(app: string, workspace: string, from: VersionFacts | undefined, to: VersionFacts): string {
    const show = (v: VersionFacts) => `${v.tag ?? v.digest.slice(0, 19)} "${printable(v.description ?? "no description")}"`;
    const rollback = from?.created && to.created && Date.parse(to.created) < Date.parse(from.created) ? " (rollback)" : "";
    return from
        ? `${app}@${workspace}: ${show(from)} → ${show(to)}${rollback}`
        : `${app}@${workspace}: first deploy of ${show(to)}`;
}

export interface ChangeNoticeArgs {
    app: string;
    workspace: string;
    repository: string;
    /** What the config asks for; the tag is resolved only when `target` is not known yet (a preview). */
    requested: { tag?: string; digest?: string };
    target?: VersionFacts;
    platform: string;
    client: RegistryClient;
    /** What the host runs and records, from the stack's last observation of it. */
    deployed?: VersionFacts;
}

/**
 * The message for a pending change, or undefined when the target is what is deployed. Asks the registry only
 * for what is not known already: at a preview the tag's digest and labels; the deployed image's build time
 * when the stack never learnt it.
 */
export async function describePendingChange(args: ChangeNoticeArgs): Promise<string | undefined> {
    const { deployed, client } = args;
    let target = args.target;
    if (!target) {
        const digest = args.requested.digest ?? await client.resolveTag(args.repository, args.requested.tag!);
        if (deployed && digest === deployed.digest) {
            return undefined;
        }
        const { description, created } = await client.imageMetadata(args.repository, digest, args.platform, args.requested.tag);
        target = { tag: args.requested.tag ?? null, digest, description, created };
    }
    if (deployed && target.digest === deployed.digest) {
        return undefined;
    }
    let from = deployed;
    if (from && from.created === null) {
        // The deployed image may have been cleaned up since; then its build time is simply unknown.
        from = { ...from, created: await client.imageMetadata(args.repository, from.digest, args.platform).then((m) => m.created, () => null) };
    }
    return formatChange(args.app, args.workspace, from, target);
}
