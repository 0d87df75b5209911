// npm run registry:overview -- [--registry HOST[:PORT]] [--insecure] [--repository NAME] [--json | --markdown [--mark TAG]] [--stack NAME]
// Every repository and tag of a registry with created and description: no deploy state, no server access.
import { parseArgs } from "util";
import { DigestCache } from "../components/registry/cache";
import { formatImageMarkdown, formatImageTable } from "../components/model/overview";
import { printableJson } from "../components/model/printable";
import { projectRoot } from "../components/model/project-root";
import { listRepositoriesInOrder, markedDigest } from "../components/model/registry-overview";
import { readWorkspace } from "../components/model/workspace";
import { registryAccessForCommand } from "../components/access/registry-access";
import { registryClient } from "../components/access/registry-client";

const usage = `usage: npm run registry:overview -- [--registry HOST[:PORT]] [--insecure] [--repository NAME]
                                     [--json | --markdown [--mark TAG]] [--stack NAME]
  --registry   the registry (default: iac:registry of the stack)
  --insecure   plain http (default: iac:registryInsecure of the stack)
  --repository only this repository (default: every repository of the registry's catalog)
  --json       print only a JSON array of {repository, tag, digest, created, description, revision, source}, and
               unreadable (why) on a tag whose image cannot be read for linux/amd64
  --markdown   print Markdown tables (a CI job summary), → on the image TAG names with --mark
  --stack      whose Pulumi.<stack>.yaml to read (default: dev)
credentials: IAC_REGISTRY_USERNAME and IAC_REGISTRY_PASSWORD, else the stack's iac:registryUsername with
IAC_REGISTRY_PASSWORD, else docker's config.json (docker login), else anonymous.`;

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            registry: { type: "string" }, insecure: { type: "boolean" }, json: { type: "boolean" },
            repository: { type: "string" }, markdown: { type: "boolean" }, mark: { type: "string" },
            stack: { type: "string", default: "dev" }, help: { type: "boolean" },
        },
    });
    if (values.help) {
        console.log(usage);
        return;
    }
    if (values.json && values.markdown) {
        throw new Error("--json and --markdown are two forms of the same listing: pass one");
    }
    if (values.mark !== undefined && (!values.markdown || values.repository === undefined)) {
        throw new Error("--mark marks a tag of one repository in the Markdown form: pass it with --markdown and --repository");
    }
    const workspace = values.registry === undefined || values.insecure === undefined
        ? readWorkspace(values.stack!, projectRoot())
        : undefined;
    const access = registryAccessForCommand(workspace, values);
    const registry = access.registry;
    const client = registryClient(access, new DigestCache());
    const repositories = values.repository !== undefined ? [values.repository] : (await client.catalog()).sort();
    // Printed only when every repository is listed (a failure prints nothing partial), as formatted text: far
    // smaller than the rows it comes from, which are held for one window of repositories at a time.
    const output: string[] = [];
    await listRepositoriesInOrder(client, repositories, (repository, rows, i) => {
        process.stderr.write(`registry:overview: ${registry}: ${repository} (${i + 1}/${repositories.length})\n`);
        output.push(values.json ? rows.map((row) => printableJson(row).replace(/^/gm, "  ")).join(",\n")
            : values.markdown ? formatImageMarkdown(repository, rows, markedDigest(repository, rows, values.mark))
            : formatImageTable(repository, rows));
    });
    if (values.json) {
        const elements = output.filter((chunk) => chunk !== "");
        console.log(elements.length > 0 ? `[\n${elements.join(",\n")}\n]` : "[]");
        return;
    }
    console.log(output.length > 0 ? output.join("\n\n") : `registry ${registry} has no repositories`);
}

main().catch((error: Error) => {
    console.error(`registry:overview: ${error.message}`);
    process.exitCode = 1;
});
