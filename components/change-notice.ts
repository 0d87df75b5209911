// What a deploy means for people, said before it happens: `hello-world@dev: eb53023 "initial deploy" →
// 6350192 "add healthcheck…"`, called a rollback when the target was built before what runs. It reads
// the registry only when the configured version differs from the deployed one, so a no-op run asks nothing.
import * as pulumi from "@pulumi/pulumi";
import { DeployInfo } from "./deploy-info";
import { RegistryClient } from "./registry/client";
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
    tag?: string;
    digest?: string;
    platform: string;
    client: RegistryClient;
    /** The record of the last successful deploy, from this stack's own outputs. */
    deployed: DeployInfo | undefined;
}

/** The message for a pending change, or undefined when the config names what is deployed. */
export async function describePendingChange(args: ChangeNoticeArgs): Promise<string | undefined> {
    const { deployed } = args;
    const unchanged = deployed && (args.digest ? args.digest === deployed.digest : args.tag === deployed.tag);
    if (unchanged) {
        return undefined;
    }
    const targetDigest = args.digest ?? await args.client.resolveTag(args.repository, args.tag!);
    if (deployed && targetDigest === deployed.digest) {
        return undefined;
    }
    const target = await args.client.imageMetadata(args.repository, targetDigest, args.platform);
    let from: VersionFacts | undefined;
    if (deployed) {
        // The deployed image may have been cleaned up since; then its build time is simply unknown.
        const created = await args.client.imageMetadata(args.repository, deployed.digest, args.platform)
            .then((m) => m.created, () => null);
        from = { tag: deployed.tag, digest: deployed.digest, description: deployed.description, created };
    }
    return formatChange(args.app, args.workspace, from, { tag: args.tag ?? null, ...target });
}

/** This stack's `deployed` output from its last update, read through a reference to itself. */
export function lastDeployed(): pulumi.Output<Record<string, DeployInfo> | undefined> {
    const self = new pulumi.StackReference("self", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    return self.getOutput("deployed") as pulumi.Output<Record<string, DeployInfo> | undefined>;
}
