// images:overview without a Pulumi run: one repository's tags from the registry, → on the digest the workspace's
// host records as deployed (the app's deploy-info.yml, read over SSH: the host, not the stack, says what runs).
import { DeployInfo, parseDeployInfo } from "./deploy-info";
import { OverviewRow, listOverview } from "./overview-listing";
import { Workspace, WorkspaceApp, WorkspaceConfigError, appLocation } from "./workspace";
import { registryAccessFields, registryAccessForCommand } from "../access/registry-access";
import { sshConnection } from "../access/ssh-access";
import { appDir } from "../remote/layout";
import { buildReadRecordsScript, splitRecords } from "../remote/scripts";
import { runRemote } from "../remote/ssh";

/** The app of `workspace` whose image is `repository`; none is a WorkspaceConfigError listing its apps. */
export function appDeploying(workspace: Workspace, repository: string): WorkspaceApp {
    const app = workspace.apps.find((candidate) => candidate.repository === repository);
    if (!app) {
        throw new WorkspaceConfigError(workspace.name, [`no app of workspace ${workspace.name} deploys ${repository} ` +
            `(its apps: ${workspace.apps.map((candidate) => `${candidate.name} → ${candidate.repository}`).join(", ") || "none"})`]);
    }
    return app;
}

export interface ImagesOverview {
    /** The app's deploy-info.yml as its host holds it; null before its first deploy. */
    record: DeployInfo | null;
    /** Every tag of its repository, newest first, labels printable, the deployed digest marked. */
    tags: OverviewRow[];
}

/** Reads `app`'s record from the workspace's host with `privateKey`, then lists its repository around it. */
export async function imagesOverview(workspace: Workspace, app: WorkspaceApp, privateKey: string,
    progress: (message: string) => void): Promise<ImagesOverview> {
    const { repository } = app;
    const location = appLocation(workspace, app.name);
    const connection = sshConnection(workspace.host, privateKey);
    progress(`reading deploy-info.yml of ${app.name} from ${connection.host}:${connection.port}`);
    const { deployInfo } = splitRecords((await runRemote(connection, buildReadRecordsScript(location))).stdout);
    const record = deployInfo.trim() ? parseDeployInfo(deployInfo, `${appDir(location)}/deploy-info.yml on ${connection.host}`) : null;

    const access = registryAccessForCommand(workspace);
    progress(`listing ${access.registry}/${repository}`);
    const tags = await listOverview({ ...registryAccessFields(access), repository }, record && { digest: record.digest, tag: record.tag });
    return { record, tags };
}
