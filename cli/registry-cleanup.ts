// npm run registry:cleanup -- [--apply] [--prune-tags PATTERN] [--workspaces dev,prod] [--identity [WS=]FILE]...
//   [--policy retention.yml] [--history 3] [--stack-outputs] [--json] [--project-dir DIR] [--registry H --insecure]
// A dry run by default: the plan, per digest, with its reasons. --apply deletes the candidates by digest.
import { parseArgs } from "util";
import { runCleanup } from "../components/cleanup/run";
import { projectRoot } from "../components/model/project-root";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: {
        apply: { type: "boolean" }, "prune-tags": { type: "string" }, workspaces: { type: "string" },
        identity: { type: "string", multiple: true }, policy: { type: "string" }, history: { type: "string", default: "3" },
        "stack-outputs": { type: "boolean" }, json: { type: "boolean" }, "project-dir": { type: "string" },
        registry: { type: "string" }, insecure: { type: "boolean" },
    } });
    const identities = values.identity ?? [];
    await runCleanup({
        projectDir: values["project-dir"] ?? projectRoot(),
        workspaces: values.workspaces?.split(","),
        // `WS=FILE` for that workspace, else a FILE given for every workspace.
        identity: (workspace) => identities.find((v) => v.startsWith(`${workspace}=`))?.slice(workspace.length + 1) ??
            identities.find((v) => !v.includes("=")),
        stackOutputs: values["stack-outputs"] ?? false,
        registry: { registry: values.registry, insecure: values.insecure },
        policyFile: values.policy,
        historyDepth: Number(values.history),
        pruneTags: values["prune-tags"],
        apply: values.apply ?? false,
        json: values.json ?? false,
    }, {
        print: (text) => console.log(text),
        progress: (message) => process.stderr.write(`registry:cleanup: ${message}\n`),
    });
}

main().catch((error: Error) => {
    console.error(`registry:cleanup: ${error.message}`);
    process.exitCode = 1;
});
