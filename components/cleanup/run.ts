// registry:cleanup from its options to what it prints. Every workspace is read and checked before any is used;
// then the references their hosts hold, the registry's inventory and the plan; then the plan shown (a dry run)
// or applied, by digest or, with a tag pattern, by tag. Each apply reads the references again just before it
// deletes, so a deploy made since the plan was shown is spared.
import * as path from "path";
import { applyPlan, inventory } from "./cleanup";
import { Decision, References, planCleanup } from "./plan";
import { RetentionPolicy, loadPolicy } from "./policy";
import { CleanupError, WorkspaceSource, gatherReferences } from "./references";
import { formatApplied, formatDeleted, formatPlanDryRun, formatPlanTable, formatPrune, formatPruneDryRun, formatPruned } from "./report";
import { applyTagPrune, planTagPrune } from "./tag-prune";
import { SshKeyUnreadableError, readSshKey } from "../model/ssh-key";
import { readDeployedOutput } from "../model/stack-outputs";
import { Workspace, listWorkspaces, readWorkspace } from "../model/workspace";
import { RegistryAccess, registryAccessForCommand } from "../access/registry-access";
import { registryClient } from "../access/registry-client";
import { DigestCache } from "../registry/cache";
import { RegistryClient } from "../registry/client";

export interface CleanupOptions {
    /** Where the workspaces' Pulumi.<stack>.yaml files and retention.yml are. */
    projectDir: string;
    /** Default: every workspace with a stack file in projectDir. */
    workspaces?: string[];
    /** The key file given for `workspace`, if any (else the commands' default, readSshKey). */
    identity: (workspace: string) => string | undefined;
    /** Also keep what each stack's `deployed` output names, read with the pulumi CLI. */
    stackOutputs: boolean;
    /** The registry to clean and whether over plain http; default: the first workspace's. */
    registry: { registry?: string; insecure?: boolean };
    /** Default: retention.yml in projectDir (absent: the default rule). */
    policyFile?: string;
    /** How many of each deploy history's last records keep their digests. */
    historyDepth: number;
    /** Remove the tags this expression matches (whole tags) instead of deleting digests. */
    pruneTags?: string;
    apply: boolean;
    json: boolean;
}

/** Where a run's words go: the plan and results (stdout), and progress (stderr). */
export interface CleanupOutput {
    print(text: string): void;
    progress(message: string): void;
}

const nothingDeleted = "Nothing was deleted";

/** Every workspace's model; all their problems in one error, before any host or registry is asked. */
function readWorkspaces(names: string[], projectDir: string): Workspace[] {
    const models: Workspace[] = [];
    const problems: string[] = [];
    for (const name of names) {
        try {
            models.push(readWorkspace(name, projectDir));
        } catch (error) {
            problems.push((error as Error).message);
        }
    }
    if (problems.length > 0) {
        throw new CleanupError(`${problems.join("\n")}\n${nothingDeleted}: a workspace whose config cannot be read might be running any digest`);
    }
    return models;
}

/** Per workspace: its key for the host and, when asked for, the stack's recorded `deployed` output. */
function workspaceSources(models: Workspace[], options: CleanupOptions): WorkspaceSource[] {
    return models.map((model) => {
        const deployed = options.stackOutputs ? readDeployedOutput(model.name, options.projectDir) : undefined;
        let privateKey: string;
        try {
            privateKey = readSshKey(options.identity(model.name));
        } catch (error) {
            if (!(error instanceof SshKeyUnreadableError)) {
                throw error;
            }
            throw new CleanupError(`${error.message} for workspace ${model.name}: pass --identity ${model.name}=FILE`);
        }
        return { workspace: model, privateKey, deployed };
    });
}

/** The registry being cleaned, which every workspace must use: another's hosts would not be read for it. */
function registryAccess(models: Workspace[], flags: CleanupOptions["registry"]): RegistryAccess {
    const access = registryAccessForCommand(models[0], flags);
    const others = models.filter((model) => model.registry.address !== access.registry);
    if (others.length > 0) {
        throw new CleanupError(`${others.map((model) => `workspace ${model.name} uses registry ${model.registry.address}`).join(", ")}, ` +
            `not ${access.registry} (the one being cleaned): pass --workspaces with the workspaces of one registry. ${nothingDeleted}`);
    }
    return access;
}

/** What a run decides from: the registry's client, the policy, and the references read again on demand. */
interface Planned {
    client: RegistryClient;
    policy: RetentionPolicy;
    plan: Decision[];
    now: Date;
    readReferences: () => Promise<References>;
}

async function applyDigests(planned: Planned, options: CleanupOptions, out: CleanupOutput): Promise<void> {
    const { client, plan, policy, now, readReferences } = planned;
    if (!options.apply) {
        out.print(options.json ? JSON.stringify(plan, null, 2) : formatPlanDryRun(plan));
        return;
    }
    if (!options.json) {
        out.print(`${formatPlanTable(plan)}\n`);
    }
    const result = await applyPlan(client, plan, policy, now, readReferences, (d) => options.json
        ? out.progress(`deleted ${d.repository}@${d.digest}`)
        : out.print(formatDeleted(d)));
    out.print(options.json ? JSON.stringify(result, null, 2) : formatApplied(result));
}

async function pruneTags(planned: Planned, expression: string, options: CleanupOptions, out: CleanupOutput): Promise<void> {
    const { client, plan, policy, readReferences } = planned;
    const pattern = new RegExp(`^(?:${expression})$`);
    const prunes = planTagPrune(plan, pattern, policy);
    if (!options.apply) {
        out.print(options.json ? JSON.stringify(prunes, null, 2) : formatPruneDryRun(prunes));
        return;
    }
    const result = await applyTagPrune(client, prunes, async () =>
        planTagPrune(planCleanup(await inventory(client), await readReferences(), policy, new Date()), pattern, policy),
    (p) => (options.json ? out.progress(formatPrune(p, "removed")) : out.print(formatPrune(p, "removed"))));
    if (options.json) {
        out.print(JSON.stringify(result, null, 2));
    } else {
        formatPruned(prunes, result).forEach((line) => out.print(line));
    }
}

/** The whole of registry:cleanup; a refusal is a CleanupError (or the model's, the registry's) naming what to fix. */
export async function runCleanup(options: CleanupOptions, out: CleanupOutput): Promise<void> {
    const { projectDir, historyDepth } = options;
    const names = options.workspaces ?? listWorkspaces(projectDir);
    if (names.length === 0) {
        throw new CleanupError(`no workspaces: no Pulumi.<stack>.yaml in ${projectDir} and no --workspaces`);
    }
    const models = readWorkspaces(names, projectDir);
    const sources = workspaceSources(models, options);
    const access = registryAccess(models, options.registry);
    const client = registryClient(access, new DigestCache());
    const policy = loadPolicy(options.policyFile ?? path.join(projectDir, "retention.yml"));
    const readReferences = () => {
        out.progress(`reading deploy records of ${names.join(", ")} (last ${historyDepth} history records each)`);
        return gatherReferences(sources, access.registry, historyDepth);
    };
    const references = await readReferences();
    out.progress(`listing ${access.registry}`);
    const now = new Date();
    const planned = { client, policy, now, readReferences, plan: planCleanup(await inventory(client, (message) => out.progress(message)), references, policy, now) };
    await (options.pruneTags ? pruneTags(planned, options.pruneTags, options, out) : applyDigests(planned, options, out));
}
