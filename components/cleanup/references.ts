// Which digests must survive a cleanup: for every workspace, each app's deploy-info.yml read from its host
// over SSH (the truth), the last N records of its deploy history (so a rollback stays possible), and,
// where given, the stack's recorded `deployed` output. A workspace that cannot be read stops everything.
import * as YAML from "yaml";
import { DeployInfo, parseDeployInfo } from "../deploy-info";
import { appDir, buildReadRecordsScript, splitRecords } from "../remote/scripts";
import { runRemote } from "../remote/ssh";
import { appLocation, sshConnection, stackApps } from "../stack-file";
import { References, referenceKey } from "./plan";

export interface WorkspaceSource {
    workspace: string;
    /** The plain values of Pulumi.<workspace>.yaml. */
    config: Record<string, unknown>;
    privateKey: string;
    /** The stack's `deployed` output, when it could be read. */
    deployed?: Record<string, DeployInfo>;
}

export class CleanupError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "CleanupError";
    }
}

/** `registry/repository` → `repository`, the way the registry names it. */
function repositoryOf(image: string): string {
    return image.split("/").slice(1).join("/");
}

export async function gatherReferences(workspaces: WorkspaceSource[], historyDepth: number): Promise<References> {
    const references: References = new Map();
    const add = (image: string, digest: string, reason: string) => {
        const key = referenceKey(repositoryOf(image), digest);
        const reasons = references.get(key) ?? [];
        if (!reasons.includes(reason)) {
            references.set(key, [...reasons, reason]);
        }
    };
    for (const source of workspaces) {
        const { workspace, config } = source;
        const connection = sshConnection(config, source.privateKey);
        for (const app of stackApps(config)) {
            const location = appLocation(workspace, config, app);
            let output: string;
            try {
                output = (await runRemote(connection, buildReadRecordsScript(location))).stdout;
            } catch (error) {
                throw new CleanupError(`cannot read the deploy records of ${app} in workspace ${workspace}: ${(error as Error).message}. ` +
                    "Nothing was deleted: a workspace that cannot be read might be running any digest");
            }
            const where = `${appDir(location)} on ${connection.host}:${connection.port} (workspace ${workspace})`;
            const { deployInfo, history } = splitRecords(output);
            if (deployInfo.trim()) {
                const record = parseDeployInfo(deployInfo, `deploy-info.yml in ${where}`);
                add(record.image, record.digest, `deployed in ${workspace}`);
            }
            const records = YAML.parseAllDocuments(history).map((doc) => doc.toJS() as Partial<DeployInfo> | null)
                .filter((record): record is Partial<DeployInfo> => !!record && !!record.digest && !!record.image);
            for (const record of records.slice(-historyDepth)) {
                add(record.image!, record.digest!, `in ${workspace} history`);
            }
        }
        for (const record of Object.values(source.deployed ?? {})) {
            add(record.image, record.digest, `deployed in ${workspace}`);
        }
    }
    return references;
}
