// npm run images:overview -- WORKSPACE REPOSITORY [--json] [--identity FILE]
// The seed's images:overview without a Pulumi run: the repository's tags from the registry, the workspace's
// deploy-info.yml from its host over SSH, → on the deployed digest.
import { parseArgs } from "util";
import { appDeploying, imagesOverview } from "../components/model/images-overview";
import { formatDeployment, formatImageTable } from "../components/model/overview";
import { printableJson } from "../components/model/printable";
import { projectRoot } from "../components/model/project-root";
import { SshKeyUnreadableError, readSshKey } from "../components/model/ssh-key";
import { WorkspaceConfigError, readWorkspace } from "../components/model/workspace";

const usage = `usage: npm run images:overview -- WORKSPACE REPOSITORY [--json] [--identity FILE] [--project-dir DIR]
  WORKSPACE    a stack with a Pulumi.<stack>.yaml, e.g. dev
  REPOSITORY   the app's image, e.g. rednaw/hello-world
  --json       print only a JSON array of {repository, tag, digest, created, description, revision, source, deployed},
               and unreadable (why) on a tag whose image cannot be read for the workspace's iac:platform
  --identity   SSH private key for the workspace's host (default: IAC_SSH_KEY_FILE, else ~/.ssh/id_ed25519)
  --project-dir  where Pulumi.<WORKSPACE>.yaml is (default: this project)
registry credentials as for registry:overview (IAC_REGISTRY_USERNAME/IAC_REGISTRY_PASSWORD or docker login).`;

async function main(): Promise<void> {
    const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: {
            json: { type: "boolean" }, identity: { type: "string" }, "project-dir": { type: "string" }, help: { type: "boolean" },
        },
    });
    if (values.help || positionals.length !== 2) {
        console.log(usage);
        process.exitCode = values.help ? 0 : 2;
        return;
    }
    const [workspace, repository] = positionals;
    const model = readWorkspace(workspace, values["project-dir"] ?? projectRoot());
    const app = appDeploying(model, repository);
    let privateKey: string;
    try {
        privateKey = readSshKey(values.identity);
    } catch (error) {
        if (!(error instanceof SshKeyUnreadableError)) {
            throw error;
        }
        throw new WorkspaceConfigError(workspace, [`${error.message}: pass --identity FILE (the key for iac:sshUser on iac:sshHost)`]);
    }
    const { record, tags } = await imagesOverview(model, app, privateKey, (message) => process.stderr.write(`images:overview: ${message}\n`));
    if (values.json) {
        console.log(printableJson(tags));
        return;
    }
    console.log(formatImageTable(repository, tags, record?.digest));
    console.log(`\n${record ? formatDeployment(record) : `(${app.name} has never been deployed to ${workspace})`}`);
}

main().catch((error: Error) => {
    console.error(`images:overview: ${error.message}`);
    process.exitCode = 1;
});
