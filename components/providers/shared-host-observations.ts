// The observations this provider process shares between the apps of one host. In a refresh the engine reads
// HostDeployments a few at a time (its --parallel), each read starting as another ends, so reads of one host
// reach the process spread over the whole pass. The reads that arrive within a few milliseconds of each other go
// out together, as one script on one channel (./observe-batch), each answered by its own app's part. The host-wide
// listing (`docker ps`, `inspect`, …) a script read serves the scripts that follow it for a few seconds, side by
// side on the connection's channels, so a pass lists a host about once: each app at most once (an app read again
// is read afresh), and never across a change (a deploy or removal by this process on the host, begun or under way,
// ends its use); a script that needs a listing while one is being read waits for it. Each app's own files are read
// by every script.
import { randomUUID } from "crypto";
import { AppLocation, DeployTarget, appDir } from "../remote/layout";
import { HostListing, ObservedApp, buildObserveBatchScript, listingOf, listingVariables, splitObserveBatch } from "../remote/observe-batch";
import { RemoteCommandError, RemoteResult, SshConnection, poolKey, runRemote } from "../remote/ssh";
import { targetNamed } from "../remote/targets/registry";

/**
 * How long the first read of an idle host waits for others: the engine starts its first reads of a pass together;
 * a read alone (a deploy's, an `up --refresh` of one app) hardly notices.
 */
const gatherMs = 10;

/** Apps per script: the rest go in another. */
const batchLimit = 25;

/**
 * How long a host's listing serves later scripts: a refresh's pass of a few dozen apps, not the next command. The
 * containers a read reports are then at most this old; the app's files, never.
 */
const defaultListingMaxAgeMs = 5_000;

interface Waiting {
    app: ObservedApp;
    resolve: (stdout: string) => void;
    reject: (error: Error) => void;
}

/** Per host as its docker sees it (user, host, port): what this process changes there, and its last listing. */
interface HostChanges {
    /** Counts every start and end of a change, so a listing read across one is never kept. */
    generation: number;
    underway: number;
    listing?: { values: HostListing; generation: number; takenAt: number; answered: Set<string> };
    /** While a script lists the host: settled once its listing is kept (or it failed). */
    listingRead?: Promise<void>;
}

const appKey = (app: ObservedApp) => JSON.stringify([appDir(app.location), app.target]);

/** How a script reaches the host: over SSH (runRemote), or in the tests a local sh. */
export type ScriptRunner = (connection: SshConnection, script: string, stdin: string) => Promise<RemoteResult>;

export class SharedHostObservations {
    /** Per connection (poolKey): the reads gathering for its next script, sent gatherMs after the first of them. */
    private readonly gathering = new Map<string, Waiting[]>();
    private readonly changes = new Map<string, HostChanges>();

    constructor(private readonly run: ScriptRunner, private readonly listingMaxAgeMs = defaultListingMaxAgeMs) {}

    /** The app's observation (what buildObserveScript prints for it), read together with the other apps of its host asked for at the same time. */
    observe(connection: SshConnection, location: AppLocation, target: DeployTarget): Promise<string> {
        // What would make the script unbuildable (a name from a state edited by hand) fails this read alone.
        try {
            appDir(location);
            targetNamed(target);
        } catch (error) {
            return Promise.reject(error);
        }
        const key = poolKey(connection);
        let reads = this.gathering.get(key);
        if (reads === undefined) {
            const gathered: Waiting[] = [];
            this.gathering.set(key, gathered);
            setTimeout(() => {
                this.gathering.delete(key);
                for (let start = 0; start < gathered.length; start += batchLimit) {
                    void this.send(connection, gathered.slice(start, start + batchLimit));
                }
            }, gatherMs);
            reads = gathered;
        }
        const joining = reads;
        return new Promise((resolve, reject) => joining.push({ app: { location, target }, resolve, reject }));
    }

    /** Runs `change` (a deploy, a removal) on the host: no listing read before it ends serves a read after it began. */
    async changing<T>(connection: SshConnection, change: () => Promise<T>): Promise<T> {
        const host = this.changesOf(connection);
        host.generation += 1;
        host.underway += 1;
        try {
            return await change();
        } finally {
            host.underway -= 1;
            host.generation += 1;
        }
    }

    private changesOf(connection: SshConnection): HostChanges {
        const key = JSON.stringify([connection.user, connection.host, connection.port]);
        let host = this.changes.get(key);
        if (host === undefined) {
            host = { generation: 0, underway: 0 };
            this.changes.set(key, host);
        }
        return host;
    }

    /**
     * The host's listing, if one was read since its last change began and recently enough, it holds what `apps`
     * read, and it answered none of them yet; marked as answering them.
     */
    private reusableListing(host: HostChanges, apps: ObservedApp[]): HostListing | undefined {
        const { listing, generation, underway } = host;
        const fresh = listing !== undefined && underway === 0 && listing.generation === generation && performance.now() - listing.takenAt < this.listingMaxAgeMs;
        if (!fresh || !listingVariables(apps).every((name) => Object.hasOwn(listing.values, name)) || apps.some((app) => listing.answered.has(appKey(app)))) {
            return undefined;
        }
        apps.forEach((app) => listing.answered.add(appKey(app)));
        return listing.values;
    }

    private async send(connection: SshConnection, reads: Waiting[]): Promise<void> {
        const apps = reads.map((read) => read.app);
        const host = this.changesOf(connection);
        let listed: (() => void) | undefined;
        try {
            let listing = this.reusableListing(host, apps);
            while (listing === undefined && host.listingRead !== undefined) {
                await host.listingRead;
                listing = this.reusableListing(host, apps);
            }
            if (listing === undefined) {
                host.listingRead = new Promise((resolve) => (listed = resolve));
            }
            const delimiter = `#=== ${randomUUID()}`;
            // A monotonic clock: a system clock set back must not stretch a listing's age.
            const [generation, takenAt] = [host.generation, performance.now()];
            const batch = buildObserveBatchScript(apps, delimiter, listing);
            const { stdout } = await this.run(connection, batch.script, batch.stdin);
            const answers = splitObserveBatch(stdout, delimiter, reads.length);
            if (listing === undefined) {
                host.listing = { values: listingOf(stdout, delimiter, listingVariables(apps)), generation, takenAt, answered: new Set(apps.map(appKey)) };
            }
            answers.forEach((answer, index) => "stdout" in answer ? reads[index].resolve(answer.stdout)
                : reads[index].reject(new RemoteCommandError(connection, answer.exitCode, answer.stderr)));
        } catch (error) {
            reads.forEach((read) => read.reject(error as Error));
        } finally {
            if (listed !== undefined) {
                host.listingRead = undefined;
                listed();
            }
        }
    }
}

/** This provider process's, over SSH. */
const shared = new SharedHostObservations((connection, script, stdin) => runRemote(connection, script, stdin));

export const observeOnHost = (connection: SshConnection, location: AppLocation, target: DeployTarget) => shared.observe(connection, location, target);

export const changingHost = <T>(connection: SshConnection, change: () => Promise<T>) => shared.changing(connection, change);
