// npm run images:overview -- WORKSPACE REPOSITORY [--json] [--identity FILE]
// The seed's images:overview without a Pulumi run: the repository's tags from the registry, the workspace's
// deploy-info.yml from its host over SSH, → on the deployed digest.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { parseDeployInfo } from "../components/deploy-info";
import { listOverview } from "../components/image-overview";
import { formatImageTable } from "../components/overview";
import { printableJson } from "../components/printable";
import { appDir, buildReadRecordsScript, splitRecords } from "../components/remote/scripts";
import { runRemote } from "../components/remote/ssh";
import {
    StackFileError, appLocation, readStackConfig, registrySettings, sshConnection, stackApps,
} from "../components/stack-file";

const usage = `usage: npm run images:overview -- WORKSPACE REPOSITORY [--json] [--identity FILE] [--project-dir DIR]
  WORKSPACE    a stack with a Pulumi.<stack>.yaml, e.g. dev
  REPOSITORY   the app's image, e.g. rednaw/hello-world
  --json       print only a JSON array of {repository, tag, digest, created, description, revision, source, deployed}
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
    const config = readStackConfig(workspace, values["project-dir"] ?? path.resolve(__dirname, ".."));
    const apps = stackApps(config);
    const app = apps.find((name) => config[`${name}:image`] === repository);
    if (!app) {
        throw new StackFileError(`no app of workspace ${workspace} deploys ${repository} ` +
            `(its apps: ${apps.map((name) => `${name} → ${String(config[`${name}:image`])}`).join(", ") || "none"})`);
    }
    const keyFile = values.identity ?? process.env.IAC_SSH_KEY_FILE ?? path.join(os.homedir(), ".ssh", "id_ed25519");
    let privateKey: string;
    try {
        privateKey = fs.readFileSync(keyFile, "utf8");
    } catch {
        throw new StackFileError(`cannot read the SSH key ${keyFile}: pass --identity FILE (the key for iac:sshUser on iac:sshHost)`);
    }
    const location = appLocation(workspace, config, app);
    const connection = sshConnection(config, privateKey);
    process.stderr.write(`images:overview: reading deploy-info.yml of ${app} from ${connection.host}:${connection.port}\n`);
    const { deployInfo } = splitRecords((await runRemote(connection, buildReadRecordsScript(location))).stdout);
    const record = deployInfo.trim() ? parseDeployInfo(deployInfo, `${appDir(location)}/deploy-info.yml on ${connection.host}`) : null;

    const { registry, insecure, credentials } = registrySettings(workspace, config, {});
    process.stderr.write(`images:overview: listing ${registry}/${repository}\n`);
    const listing = await listOverview({
        registry, repository, insecure, deployedDigest: record?.digest ?? null,
        username: credentials?.username, password: credentials?.password,
    });
    if (values.json) {
        console.log(printableJson(listing.tags));
        return;
    }
    console.log(formatImageTable(repository, listing.tags, record?.digest));
    if (!record) {
        console.log(`\n(${app} has never been deployed to ${workspace})`);
    }
}

main().catch((error: Error) => {
    console.error(`images:overview: ${error.message}`);
    process.exitCode = 1;
});
