// npm run images:overview -- WORKSPACE REPOSITORY [--json] [--identity FILE]
// The seed's images:overview without a Pulumi run: the repository's tags from the registry, the workspace's
// deploy-info.yml from its host over SSH, → on the deployed digest.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { parseDeployInfo } from "../components/model/deploy-info";
import { listOverview } from "../components/model/overview-listing";
import { formatDeployment, formatImageTable } from "../components/model/overview";
import { printableJson } from "../components/model/printable";
import { projectRoot } from "../components/model/project-root";
import { appDir } from "../components/remote/layout";
import { buildReadRecordsScript, splitRecords } from "../components/remote/scripts";
import { runRemote } from "../components/remote/ssh";
import { registryAccessFields, registryAccessForCommand } from "../components/access/registry-access";
import { sshConnection } from "../components/access/ssh-access";
import { WorkspaceConfigError, appLocation, readWorkspace } from "../components/model/workspace";

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
    const keyFile = values.identity ?? process.env.IAC_SSH_KEY_FILE ?? path.join(os.homedir(), ".ssh", "id_ed25519");
    let privateKey: string;
    try {
        privateKey = fs.readFileSync(keyFile, "utf8");
    } catch {
        throw new WorkspaceConfigError(workspace, [`cannot read the SSH key ${keyFile}: pass --identity FILE (the key for iac:sshUser on iac:sshHost)`]);
    }
    const location = appLocation(model, app);
    const connection = sshConnection(model.host, privateKey);
    process.stderr.write(`images:overview: reading deploy-info.yml of ${app} from ${connection.host}:${connection.port}\n`);
    const { deployInfo } = splitRecords((await runRemote(connection, buildReadRecordsScript(location))).stdout);
    const record = deployInfo.trim() ? parseDeployInfo(deployInfo, `${appDir(location)}/deploy-info.yml on ${connection.host}`) : null;

    const access = registryAccessForCommand(model);
    process.stderr.write(`images:overview: listing ${access.registry}/${repository}\n`);
    const listing = await listOverview({
        ...registryAccessFields(access), repository, deployedDigest: record?.digest ?? null, deployedTag: record?.tag ?? null,
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
