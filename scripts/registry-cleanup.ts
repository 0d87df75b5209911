// npm run registry:cleanup -- [--apply] [--prune-tags PATTERN] [--workspaces dev,prod] [--identity [WS=]FILE]...
//   [--policy retention.yml] [--history 3] [--stack-outputs] [--json] [--project-dir DIR] [--registry H --insecure]
// A dry run by default: the plan, per digest, with its reasons. --apply deletes the candidates by digest.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { applyPlan, inventory, planTagPrune } from "../components/cleanup/cleanup";
import { Decision, planCleanup } from "../components/cleanup/plan";
import { loadPolicy } from "../components/cleanup/policy";
import { CleanupError, WorkspaceSource, gatherReferences } from "../components/cleanup/references";
import { DeployInfo } from "../components/deploy-info";
import { formatCreated } from "../components/overview";
import { printable } from "../components/printable";
import { DigestCache } from "../components/registry/cache";
import { RegistryClient } from "../components/registry/client";
import { shortDigest } from "../components/registry/reference";
import { readStackConfig, registrySettings } from "../components/stack-file";

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
    const projectDir = values["project-dir"] ?? path.resolve(__dirname, "..");
    const workspaces = values.workspaces?.split(",") ?? fs.readdirSync(projectDir)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1]).filter((name): name is string => !!name).sort();
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
    const sources: WorkspaceSource[] = workspaces.map((workspace) => {
        const config = readStackConfig(workspace, projectDir);
        let deployed: Record<string, DeployInfo> | undefined;
        if (values["stack-outputs"]) {
            try {
                deployed = JSON.parse(execFileSync("pulumi", ["stack", "output", "deployed", "--json", "--stack", workspace],
                    { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) || "{}") ?? {};
            } catch (error) {
                throw new CleanupError(`cannot read the deployed output of stack ${workspace}: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
            }
        }
        return { workspace, config, privateKey: keyFor(workspace), deployed };
    });
    const registries = new Set(sources.map((s) => String(s.config["iac:registry"])));
    if (!values.registry && registries.size > 1) {
        throw new CleanupError(`the workspaces use different registries (${[...registries].join(", ")}): pass --registry and --workspaces`);
    }
    const { registry, insecure, credentials } = registrySettings(workspaces[0], sources[0].config, values);
    const client = new RegistryClient({ registry, insecure, credentials, cache: new DigestCache() });
    const policy = loadPolicy(values.policy ?? path.join(projectDir, "retention.yml"));
    const historyDepth = Number(values.history);
    const readReferences = () => {
        say(`reading deploy records of ${workspaces.join(", ")} (last ${historyDepth} history records each)`);
        return gatherReferences(sources, historyDepth);
    };

    const references = await readReferences();
    say(`listing ${registry}`);
    const now = new Date();
    const plan = planCleanup(await inventory(client, say), references, policy, now);

    if (values["prune-tags"]) {
        const prunes = planTagPrune(plan, new RegExp(`^(?:${values["prune-tags"]})$`));
        for (const prune of prunes) {
            if (values.apply && prune.action === "remove") {
                await client.deleteTag(prune.repository, prune.tag);
            }
        }
        console.log(values.json ? JSON.stringify(prunes, null, 2) : prunes.map((p) =>
            `${p.repository}:${p.tag} (${shortDigest(p.digest)}) ${values.apply && p.action === "remove" ? "removed" : p.action}: ${p.reason}`).join("\n"));
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
            "with the registry stopped or read-only:\n  registry garbage-collect --delete-untagged /etc/docker/registry/config.yml");
    }
}

main().catch((error: Error) => {
    console.error(`registry:cleanup: ${error.message}`);
    process.exitCode = 1;
});
