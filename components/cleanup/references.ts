// Which digests must survive a cleanup: for every workspace, on its host, the deploy-info.yml of every app dir
// under <deployRoot>/<org>/ (configured or not: an app dropped from iac:apps may still run), the last N records of
// each deploy history (so a rollback stays possible) and the image of every container, running or stopped;
// where given, the stack's recorded `deployed` output. Anything unreadable or unusable stops everything.
import { DeployInfo, DeployRecordAt, parseDeployHistory, parseDeployInfoAt } from "../deploy-info";
import { parseImageName } from "../image-name";
import { validateDigest } from "../registry/reference";
import { runRemote } from "../remote/ssh";
import { Workspace, sshConnection } from "../workspace";
import { AppDirRecords, buildContainerImagesScript, buildListAppRecordsScript, parseAppRecords, parseContainerImages } from "./host-references";
import { References, referenceKey } from "./plan";

export interface WorkspaceSource {
    workspace: Workspace;
    privateKey: string;
    /** The stack's `deployed` output, when it could be read. */
    deployed?: Record<string, DeployInfo>;
}

/** What one workspace's host holds, as read over SSH. */
export interface HostObservation {
    workspace: Workspace;
    /** user@host:port, for messages. */
    host: string;
    appDirs: AppDirRecords[];
    /** `name@digest` references of its containers and their images. */
    containerImages: string[];
    deployed?: Record<string, DeployInfo>;
}

export class CleanupError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "CleanupError";
    }
}

const nothingDeleted = "Nothing was deleted";

/** Reads one workspace's host: its app dirs and its containers. */
export async function observeHost(source: WorkspaceSource): Promise<HostObservation> {
    const { workspace } = source;
    const connection = sshConnection(workspace.host, source.privateKey);
    const host = `${connection.user}@${connection.host}:${connection.port}`;
    const run = async (what: string, script: string) => {
        try {
            return (await runRemote(connection, script)).stdout;
        } catch (error) {
            throw new CleanupError(`cannot read ${what} of workspace ${workspace.name}: ${(error as Error).message}. ` +
                `${nothingDeleted}: a workspace that cannot be read might be running any digest`);
        }
    };
    return {
        workspace, host, deployed: source.deployed,
        appDirs: parseAppRecords(await run("the deploy records", buildListAppRecordsScript(workspace.host.deployRoot, workspace.host.org))),
        containerImages: parseContainerImages(await run("the containers", buildContainerImagesScript())),
    };
}

/**
 * The references the observed hosts hold in `registry`. Pure. A record that cannot be read, lacks a field, or
 * names another registry is a CleanupError naming the file and line: a digest it might protect is unknown.
 */
export function collectReferences(observations: HostObservation[], registry: string, historyDepth: number): References {
    const references: References = new Map();
    const add = (repository: string, digest: string, reason: string) => {
        const key = referenceKey(repository, digest);
        const reasons = references.get(key) ?? [];
        if (!reasons.includes(reason)) {
            references.set(key, [...reasons, reason]);
        }
    };
    const refuse = (detail: string) => new CleanupError(`${detail}. ${nothingDeleted}: fix or move the record, then run cleanup again`);
    const addRecord = (at: DeployRecordAt, where: string, reason: string) => {
        if (at.image.registry !== registry) {
            throw refuse(`${where}, line ${at.line}: the record names registry ${at.image.registry}, not ${registry} (the one being cleaned); ` +
                "a digest it deployed cannot be told apart");
        }
        add(at.image.repository, at.record.digest, reason);
    };
    for (const observation of observations) {
        const name = observation.workspace.name;
        const configured = new Set(observation.workspace.apps.map((app) => app.name));
        for (const dir of observation.appDirs) {
            const where = (file: string) => `${observation.workspace.host.deployRoot.replace(/\/+$/, "")}/${observation.workspace.host.org}/${dir.app}/${file} ` +
                `on ${observation.host} (workspace ${name})`;
            const unlisted = configured.has(dir.app) ? "" : ` (${dir.app}, not in iac:apps)`;
            try {
                if (dir.deployInfo !== null) {
                    addRecord(parseDeployInfoAt(dir.deployInfo, where("deploy-info.yml")), where("deploy-info.yml"), `deployed in ${name}${unlisted}`);
                }
                if (dir.history !== null && historyDepth > 0) {
                    for (const at of parseDeployHistory(dir.history, where("deploy-history.yml")).slice(-historyDepth)) {
                        addRecord(at, where("deploy-history.yml"), `in ${name} history${unlisted}`);
                    }
                }
            } catch (error) {
                throw error instanceof CleanupError ? error : refuse((error as Error).message);
            }
        }
        for (const reference of observation.containerImages) {
            const at = reference.lastIndexOf("@");
            try {
                const image = parseImageName(reference.slice(0, at));
                if (image.registry === registry) {
                    add(image.repository, validateDigest(reference.slice(at + 1)), `container on ${name}'s host`);
                }
            } catch {
                // Not a registry/repository@digest of any registry (e.g. a Docker Hub short name): not ours to keep.
            }
        }
        for (const [app, record] of Object.entries(observation.deployed ?? {})) {
            const where = `the deployed output of stack ${name} (app ${app})`;
            try {
                validateDigest(record.digest);
                addRecord({ record, image: parseImageName(record.image), line: 1 }, where, `deployed in ${name}`);
            } catch (error) {
                throw error instanceof CleanupError ? error : refuse(`${where}: ${(error as Error).message}`);
            }
        }
    }
    return references;
}

/** Reads every workspace's host, then the references they hold in `registry`. */
export async function gatherReferences(sources: WorkspaceSource[], registry: string, historyDepth: number): Promise<References> {
    const observations: HostObservation[] = [];
    for (const source of sources) {
        observations.push(await observeHost(source));
    }
    return collectReferences(observations, registry, historyDepth);
}
