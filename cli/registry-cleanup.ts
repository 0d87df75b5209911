// npm run registry:cleanup -- [--apply] [--prune-tags PATTERN] [--workspaces dev,prod] [--identity [WS=]FILE]...
//   [--policy retention.yml] [--history 3] [--stack-outputs] [--json] [--project-dir DIR] [--registry H --insecure]
// A dry run by default: the plan, per digest, with its reasons. --apply deletes the candidates by digest.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { applyPlan, inventory } from "../components/cleanup/cleanup";
import { Decision, planCleanup } from "../components/cleanup/plan";
import { loadPolicy } from "../components/cleanup/policy";
import { CleanupError, WorkspaceSource, gatherReferences } from "../components/cleanup/references";
import { applyTagPrune, planTagPrune } from "../components/cleanup/tag-prune";
import { DeployInfo } from "../components/model/deploy-info";
import { formatCreated } from "../components/model/overview";
import { printable } from "../components/model/printable";
import { projectRoot } from "../components/model/project-root";
import { DigestCache } from "../components/registry/cache";
import { shortDigest } from "../components/registry/reference";
import { registryAccessForCommand } from "../components/access/registry-access";
import { registryClient } from "../components/access/registry-client";
import { Workspace, listWorkspaces, readWorkspace } from "../components/model/workspace";

const say = (message: string) => process.stderr.write(`registry:cleanup: ${message}\n`);

function table(plan: Decision[]): string {
    const rows = plan.map((d) => [d.repository, shortDigest(d.digest), d.tags.join(",") || "-", formatCreated(d.created),
        printable(d.description ?? "").slice(0, 40), d.decision, d.reasons.join("; ")]);
    const header = ["REPOSITORY", "DIGEST", "TAGS", "CREATED", "DESCRIPTION", "DECISION", "REASON"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
    const line = (cells: string[]) => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ");
    return [line(header), line(header.map((h) => "-".repeat(h.length))), ...rows.map(line)].join("\n");
}

function summary(plan: Decision[]): string {
    const repositories = [...new Set(plan.map((d) => d.repository))];
    return repositories.map((repository) => {
        const mine = plan.filter((d) => d.repository === repository);
        const deleted = mine.filter((d) => d.decision === "delete").length;
        return `${repository}: keep ${mine.length - deleted}, delete ${deleted}`;
    }).join("\n");
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        apply: { type: "boolean" }, "prune-tags": { type: "string" }, workspaces: { type: "string" },
        identity: { type: "string", multiple: true }, policy: { type: "string" }, history: { type: "string", default: "3" },
        "stack-outputs": { type: "boolean" }, json: { type: "boolean" }, "project-dir": { type: "string" },
        registry: { type: "string" }, insecure: { type: "boolean" },
    } });
    const projectDir = values["project-dir"] ?? projectRoot();
    const workspaces = values.workspaces?.split(",") ?? listWorkspaces(projectDir);
    if (workspaces.length === 0) {
        throw new CleanupError(`no workspaces: no Pulumi.<stack>.yaml in ${projectDir} and no --workspaces`);
    }
    const keyFor = (workspace: string) => {
        const given = values.identity ?? [];
        const file = given.find((v) => v.startsWith(`${workspace}=`))?.slice(workspace.length + 1) ??
            given.find((v) => !v.includes("=")) ?? process.env.IAC_SSH_KEY_FILE ?? path.join(os.homedir(), ".ssh", "id_ed25519");
        try {
            return fs.readFileSync(file, "utf8");
        } catch {
            throw new CleanupError(`cannot read the SSH key ${file} for workspace ${workspace}: pass --identity ${workspace}=FILE`);
        }
    };
    // Every workspace is checked before any is used, and all their problems are said at once.
    const models: Workspace[] = [];
    const problems: string[] = [];
    for (const workspace of workspaces) {
        try {
            models.push(readWorkspace(workspace, projectDir));
        } catch (error) {
            problems.push((error as Error).message);
        }
    }
    if (problems.length > 0) {
        throw new CleanupError(`${problems.join("\n")}\nNothing was deleted: a workspace whose config cannot be read might be running any digest`);
    }
    const sources: WorkspaceSource[] = models.map((model) => {
        const workspace = model.name;
        let deployed: Record<string, DeployInfo> | undefined;
        if (values["stack-outputs"]) {
            try {
                deployed = JSON.parse(execFileSync("pulumi", ["stack", "output", "deployed", "--json", "--stack", workspace],
                    { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) || "{}") ?? {};
            } catch (error) {
                throw new CleanupError(`cannot read the deployed output of stack ${workspace}: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
            }
        }
        return { workspace: model, privateKey: keyFor(workspace), deployed };
    });
    const access = registryAccessForCommand(models[0], values);
    const registry = access.registry;
    const others = models.filter((model) => model.registry.address !== registry);
    if (others.length > 0) {
        throw new CleanupError(`${others.map((model) => `workspace ${model.name} uses registry ${model.registry.address}`).join(", ")}, ` +
            `not ${registry} (the one being cleaned): pass --workspaces with the workspaces of one registry. Nothing was deleted`);
    }
    const client = registryClient(access, new DigestCache());
    const policy = loadPolicy(values.policy ?? path.join(projectDir, "retention.yml"));
    const historyDepth = Number(values.history);
    const readReferences = () => {
        say(`reading deploy records of ${workspaces.join(", ")} (last ${historyDepth} history records each)`);
        return gatherReferences(sources, registry, historyDepth);
    };

    const references = await readReferences();
    say(`listing ${registry}`);
    const now = new Date();
    const plan = planCleanup(await inventory(client, say), references, policy, now);

    if (values["prune-tags"]) {
        const pattern = new RegExp(`^(?:${values["prune-tags"]})$`);
        const prunes = planTagPrune(plan, pattern, policy);
        const line = (p: { repository: string; tag: string; digest: string; reason: string }, action: string) =>
            `${p.repository}:${p.tag} (${shortDigest(p.digest)}) ${action}: ${p.reason}`;
        if (!values.apply) {
            console.log(values.json ? JSON.stringify(prunes, null, 2) : `${prunes.map((p) => line(p, p.action)).join("\n")}\n\ndry run: nothing removed`);
            return;
        }
        const result = await applyTagPrune(client, prunes, async () =>
            planTagPrune(planCleanup(await inventory(client), await readReferences(), policy, new Date()), pattern, policy),
        (p) => (values.json ? say(line(p, "removed")) : console.log(line(p, "removed"))));
        if (values.json) {
            console.log(JSON.stringify(result, null, 2));
        } else {
            for (const p of prunes.filter((candidate) => candidate.action === "keep")) {
                console.log(line(p, "kept"));
            }
            for (const p of result.spared) {
                console.log(line(p, "spared") + "; the plan made again just before no longer removes it");
            }
        }
        return;
    }
    if (!values.apply) {
        console.log(values.json ? JSON.stringify(plan, null, 2) : `${table(plan)}\n\n${summary(plan)}\n\ndry run: nothing deleted; --apply deletes the digests marked delete`);
        return;
    }
    if (!values.json) {
        console.log(`${table(plan)}\n`);
    }
    const result = await applyPlan(client, plan, policy, now, readReferences, (d) => values.json
        ? say(`deleted ${d.repository}@${d.digest}`)
        : console.log(`deleted ${d.repository}@${d.digest} (${d.tags.join(", ")})`));
    if (values.json) {
        console.log(JSON.stringify(result, null, 2));
    } else {
        for (const d of result.spared) {
            console.log(`spared ${d.repository}@${d.digest}: ${d.reasons.join("; ")} since the plan was made`);
        }
        console.log(`\n${result.deleted.length} digest(s) deleted. Their blobs are reclaimed by the registry's garbage collection, ` +
            "with the registry stopped or read-only:\n  registry garbage-collect /etc/docker/registry/config.yml\n" +
            "(never --delete-untagged: it also deletes deployed digests whose tag moved; see docs/operator-guide.md)");
    }
}

main().catch((error: Error) => {
    console.error(`registry:cleanup: ${error.message}`);
    process.exitCode = 1;
});
