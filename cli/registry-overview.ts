// npm run registry:overview -- [--registry HOST[:PORT]] [--insecure] [--repository NAME] [--json | --markdown [--mark TAG]] [--stack NAME]
// Every repository and tag of a registry with created and description: no deploy state, no server access.
import { parseArgs } from "util";
import { DigestCache } from "../components/registry/cache";
import { RegistryClient } from "../components/registry/client";
import { ConcurrencyLimit, defaultConcurrency, listRepositoryTags, newestFirst, TagRow } from "../components/registry/listing";
import { formatImageMarkdown, formatImageTable } from "../components/model/overview";
import { printableJson } from "../components/model/printable";
import { projectRoot } from "../components/model/project-root";
import { registryAccessForCommand } from "../components/access/registry-access";
import { registryClient } from "../components/access/registry-client";
import { readWorkspace } from "../components/model/workspace";

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
    // smaller than the rows it comes from, which are held for at most `listingWindow` repositories at a time.
    const output: string[] = [];
    await listInOrder(client, repositories, (repository, rows, i) => {
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

/** The digest `tag` names in `rows`; a tag that is not there fails the command rather than mark nothing. */
function markedDigest(repository: string, rows: TagRow[], tag: string | undefined): string | null {
    if (tag === undefined) {
        return null;
    }
    const row = rows.find((candidate) => candidate.tag === tag);
    if (row?.digest == null) {
        throw new Error(`${repository}:${tag} is not among the repository's readable tags: was it pushed to this registry?`);
    }
    return row.digest;
}

/** Repositories listed at once: enough to keep the request bound busy when each has only a few tags. */
const listingWindow = 16;

/**
 * Lists `listingWindow` repositories at a time, all their requests within one bound (defaultConcurrency in
 * flight), and hands each one's rows, newest first, to `emit` in catalog order.
 */
async function listInOrder(client: RegistryClient, repositories: string[],
    emit: (repository: string, rows: TagRow[], index: number) => void): Promise<void> {
    const limit = new ConcurrencyLimit(defaultConcurrency);
    const listings: Promise<TagRow[]>[] = [];
    const start = (i: number) => {
        if (i < repositories.length) {
            listings[i] = listRepositoryTags(client, repositories[i], { limit, unreadableAsRows: true });
            // Awaited in turn below; until then a failure must not count as unhandled.
            listings[i].catch(() => undefined);
        }
    };
    for (let i = 0; i < listingWindow; i++) {
        start(i);
    }
    for (let i = 0; i < repositories.length; i++) {
        const rows = newestFirst(await listings[i]);
        delete listings[i];
        start(i + listingWindow);
        emit(repositories[i], rows, i);
    }
}

main().catch((error: Error) => {
    console.error(`registry:overview: ${error.message}`);
    process.exitCode = 1;
});
