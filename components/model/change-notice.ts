// What a deploy means for people, said before it happens: `hello-world@dev: eb53023 "initial deploy" →
// 6350192 "add healthcheck…"`, called a rollback when the target was built before what runs. Said by ImageDigest,
// the one place a tag is resolved, when its pin moves, so a no-op run asks nothing of anyone.
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

/** The notice for a pin that moves from `from` (none: a first pin) to `to`; undefined when both name the same image. */
export function pendingChange(app: string, workspace: string, from: VersionFacts | undefined, to: VersionFacts): string | undefined {
    return from?.digest === to.digest ? undefined : formatChange(app, workspace, from, to);
}
