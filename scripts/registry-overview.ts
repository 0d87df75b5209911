// npm run registry:overview -- [--registry HOST[:PORT]] [--insecure] [--json] [--stack NAME]
// Every repository and tag of a registry with created and description: no deploy state, no server access.
import { parseArgs } from "util";
import { DigestCache } from "../components/registry/cache";
import { listRepositoryTags, newestFirst, TagRow } from "../components/registry/listing";
import { formatImageTable } from "../components/overview";
import { printableJson } from "../components/printable";
import { projectRoot } from "../components/project-root";
import { RegistryAccess, readWorkspace } from "../components/workspace";

const usage = `usage: npm run registry:overview -- [--registry HOST[:PORT]] [--insecure] [--json] [--stack NAME]
  --registry   the registry (default: iac:registry of the stack)
  --insecure   plain http (default: iac:registryInsecure of the stack)
  --json       print only a JSON array of {repository, tag, digest, created, description, revision, source}
  --stack      whose Pulumi.<stack>.yaml to read (default: dev)
credentials: IAC_REGISTRY_USERNAME and IAC_REGISTRY_PASSWORD, else the stack's iac:registryUsername with
IAC_REGISTRY_PASSWORD, else docker's config.json (docker login), else anonymous.`;

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            registry: { type: "string" }, insecure: { type: "boolean" }, json: { type: "boolean" },
            stack: { type: "string", default: "dev" }, help: { type: "boolean" },
        },
    });
    if (values.help) {
        console.log(usage);
        return;
    }
    const workspace = values.registry === undefined || values.insecure === undefined
        ? readWorkspace(values.stack!, projectRoot())
        : undefined;
    const access = RegistryAccess.forCommand(workspace, values);
    const registry = access.address;
    const client = access.client(new DigestCache());
    const repositories = (await client.catalog()).sort();
    const all: TagRow[] = [];
    for (const [i, repository] of repositories.entries()) {
        process.stderr.write(`registry:overview: ${registry}: ${repository} (${i + 1}/${repositories.length})\n`);
        all.push(...newestFirst(await listRepositoryTags(client, repository)));
    }
    if (values.json) {
        console.log(printableJson(all));
        return;
    }
    const blocks = repositories.map((repository) =>
        formatImageTable(repository, all.filter((row) => row.repository === repository)));
    console.log(blocks.length > 0 ? blocks.join("\n\n") : `registry ${registry} has no repositories`);
}

main().catch((error: Error) => {
    console.error(`registry:overview: ${error.message}`);
    process.exitCode = 1;
});
