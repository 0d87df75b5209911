// Which digests must survive a cleanup: for every workspace, on its host, the deploy-info.yml of every app dir
// under <deployRoot>/<org>/ (configured or not: an app dropped from iac:apps may still run), the last N records of
// each deploy history (so a rollback stays possible), every deploy staged there (one waiting on the app's lock
// pulls its digest later) and the image of every container, running or stopped; where given, the stack's
// recorded `deployed` output. Anything unreadable or unusable stops everything.
import { DeployInfo, DeployRecordAt, parseDeployHistory, parseDeployInfoAt } from "../model/deploy-info";
import { ImageName, parseImageName } from "../model/image-name";
import { printable } from "../model/printable";
import { validateDigest } from "../registry/reference";
import { runRemote } from "../remote/ssh";
import { sshConnection } from "../access/ssh-access";
import { Workspace } from "../model/workspace";
import { AppDirRecords, buildContainerImagesScript, buildListAppRecordsScript, parseAppRecords, parseContainerImages, parseStagedImages } from "./host-references";
import { References, anyRepository, referenceKey } from "./plan";

export interface WorkspaceSource {
    workspace: Workspace;
    privateKey: string;
    /** The stack's `deployed` output, when it could be read. */
    deployed?: Record<string, DeployInfo>;
}

/**
 * What one workspace's host holds that may name a digest (its app dirs and containers, read over SSH), with the
 * stack's recorded `deployed` output: not the deploy's HostObservation of one app (remote/observation.ts).
 */
export interface HostHoldings {
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

/** Reads one workspace's host: its app dirs (records, staged deploys, lock) and its containers. */
export async function readHostHoldings(source: WorkspaceSource): Promise<HostHoldings> {
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

const parsedOrNull = (name: string): ImageName | null => {
    try {
        return parseImageName(name);
    } catch {
        return null;
    }
};

/**
 * The references the hosts hold in `registry`. Pure. A record that cannot be read or lacks a field is a
 * CleanupError naming the file and line: a digest it might protect is unknown.
 *
 * A digest is matched whatever name it came under. One named in `registry` as written is kept in its repository;
 * one named otherwise (`localhost:5000` for `127.0.0.1:5000`, a DNS alias, a mirror, a registry a workspace used
 * before, a short name) is kept in every repository of `registry`: another spelling of it cannot be told from
 * another registry, and a digest is the same bytes wherever it is, so keeping it costs at most an unneeded manifest.
 */
export function collectReferences(holdings: HostHoldings[], registry: string, historyDepth: number): References {
    const references: References = new Map();
    /** `name`, as `image` where it parses; the reason is `subject (detail, …)`, shown printable: details come from the host. */
    const keep = (name: string, image: ImageName | null, digest: string, subject: string, details: string[]) => {
        const ours = image?.registry === registry;
        const shown = [...details, ...(ours ? [] : [`as ${name}`])].map(printable);
        const reason = shown.length > 0 ? `${subject} (${shown.join(", ")})` : subject;
        const key = referenceKey(ours ? image.repository : anyRepository, digest);
        const reasons = references.get(key) ?? [];
        if (!reasons.includes(reason)) {
            references.set(key, [...reasons, reason]);
        }
    };
    const refuse = (detail: string) => new CleanupError(`${detail}. ${nothingDeleted}: fix or move the record, then run cleanup again`);
    /** A reference as hosts and images carry it, `name@digest`; one without a checkable digest names nothing a registry holds. */
    const keepReference = (reference: string, subject: string, details: string[]) => {
        const at = reference.lastIndexOf("@");
        try {
            validateDigest(reference.slice(at + 1));
        } catch {
            return;
        }
        const imageName = reference.slice(0, at);
        keep(imageName, parsedOrNull(imageName), reference.slice(at + 1), subject, details);
    };
    for (const held of holdings) {
        const name = held.workspace.name;
        const configured = new Set(held.workspace.apps.map((app) => app.name));
        for (const dir of held.appDirs) {
            const where = (file: string) => `${held.workspace.host.deployRoot.replace(/\/+$/, "")}/${held.workspace.host.org}/${dir.app}/${file} ` +
                `on ${held.host} (workspace ${name})`;
            const unlisted = configured.has(dir.app) ? [] : [`${dir.app}, not in iac:apps`];
            const keepRecord = (at: DeployRecordAt, subject: string) => keep(at.record.image, at.image, at.record.digest, subject, unlisted);
            try {
                if (dir.deployInfo !== null) {
                    keepRecord(parseDeployInfoAt(dir.deployInfo, where("deploy-info.yml")), `deployed in ${name}`);
                }
                if (dir.history !== null && historyDepth > 0) {
                    for (const at of parseDeployHistory(dir.history, where("deploy-history.yml")).slice(-historyDepth)) {
                        keepRecord(at, `in ${name} history`);
                    }
                }
            } catch (error) {
                throw refuse((error as Error).message);
            }
            for (const staged of dir.staged) {
                const details = [dir.app, staged.job, ...(dir.lockHeld ? ["app lock held"] : [])];
                parseStagedImages(staged.compose).forEach((reference) => keepReference(reference, `deploy staged on ${name}'s host`, details));
            }
        }
        for (const reference of held.containerImages) {
            keepReference(reference, `container on ${name}'s host`, []);
        }
        for (const [app, record] of Object.entries(held.deployed ?? {})) {
            let image: ImageName;
            try {
                validateDigest(record.digest);
                image = parseImageName(record.image);
            } catch (error) {
                throw refuse(`the deployed output of stack ${name} (app ${app}): ${(error as Error).message}`);
            }
            keep(record.image, image, record.digest, `deployed in ${name}`, []);
        }
    }
    return references;
}

/** Reads every workspace's host, then the references they hold in `registry`. */
export async function gatherReferences(sources: WorkspaceSource[], registry: string, historyDepth: number): Promise<References> {
    const holdings: HostHoldings[] = [];
    for (const source of sources) {
        holdings.push(await readHostHoldings(source));
    }
    return collectReferences(holdings, registry, historyDepth);
}
