// npm run images:overview -- WORKSPACE REPOSITORY [--json] [--identity FILE]
// The seed's images:overview without a Pulumi run: the repository's tags from the registry, the workspace's
// deploy-info.yml from its host over SSH, → on the deployed digest.
import { parseArgs } from "util";
import { parseDeployInfo } from "../components/model/deploy-info";
import { listOverview } from "../components/model/overview-listing";
import { formatDeployment, formatImageTable } from "../components/model/overview";
import { printableJson } from "../components/model/printable";
import { projectRoot } from "../components/model/project-root";
import { SshKeyUnreadableError, readSshKey } from "../components/model/ssh-key";
import { appDir } from "../components/remote/layout";
import { buildReadRecordsScript, splitRecords } from "../components/remote/scripts";
import { runRemote } from "../components/remote/ssh";
import { RegistryAccess, WorkspaceConfigError, appLocation, readWorkspace, sshConnection } from "../components/model/workspace";

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
    const app = model.apps.find((candidate) => candidate.repository === repository)?.name;
    if (!app) {
        throw new WorkspaceConfigError(workspace, [`no app of workspace ${workspace} deploys ${repository} ` +
            `(its apps: ${model.apps.map((candidate) => `${candidate.name} → ${candidate.repository}`).join(", ") || "none"})`]);
    }
    let privateKey: string;
    try {
        privateKey = readSshKey(values.identity);
    } catch (error) {
        if (!(error instanceof SshKeyUnreadableError)) {
            throw error;
        }
        throw new WorkspaceConfigError(workspace, [`${error.message}: pass --identity FILE (the key for iac:sshUser on iac:sshHost)`]);
    }
    const location = appLocation(model, app);
    const connection = sshConnection(model.host, privateKey);
    process.stderr.write(`images:overview: reading deploy-info.yml of ${app} from ${connection.host}:${connection.port}\n`);
    const { deployInfo } = splitRecords((await runRemote(connection, buildReadRecordsScript(location))).stdout);
    const record = deployInfo.trim() ? parseDeployInfo(deployInfo, `${appDir(location)}/deploy-info.yml on ${connection.host}`) : null;

    const access = RegistryAccess.forCommand(model);
    process.stderr.write(`images:overview: listing ${access.address}/${repository}\n`);
    const listing = await listOverview({
        registry: access.address, repository, insecure: access.insecure, platform: model.platform,
        deployedDigest: record?.digest ?? null, deployedTag: record?.tag ?? null,
        username: access.credentials?.username, password: access.credentials?.password,
    });
    if (values.json) {
        console.log(printableJson(listing.tags));
        return;
    }
    console.log(formatImageTable(repository, listing.tags, record?.digest));
    console.log(`\n${record ? formatDeployment(record) : `(${app} has never been deployed to ${workspace})`}`);
}

main().catch((error: Error) => {
    console.error(`images:overview: ${error.message}`);
    process.exitCode = 1;
});
