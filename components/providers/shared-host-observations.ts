// The observations this provider process shares between the apps of one host. In a refresh the engine reads
// HostDeployments a few at a time (its --parallel), each read starting as another ends, so reads of one host
// reach the process spread over the whole pass: one script runs on a host at a time, and the reads that arrive
// meanwhile go out together, as one script on one channel (./observe-batch), when it ends, each read then answered
// by its own app's part. Only reads not yet sent join a script: a later read never gets an older answer.
import { randomUUID } from "crypto";
import { AppLocation, DeployTarget, appDir } from "../remote/layout";
import { ObservedApp, buildObserveBatchScript, splitObserveBatch } from "../remote/observe-batch";
import { RemoteCommandError, SshConnection, poolKey, runRemote } from "../remote/ssh";
import { targetNamed } from "../remote/targets/registry";

/**
 * How long the first read of an idle host waits for others: the engine starts its first reads of a pass together;
 * a read alone (a deploy's, an `up --refresh` of one app) hardly notices.
 */
const gatherMs = 10;

/** Apps per script: the rest wait for the next. */
const batchLimit = 25;

interface Waiting {
    app: ObservedApp;
    resolve: (stdout: string) => void;
    reject: (error: Error) => void;
}

interface HostReads {
    connection: SshConnection;
    waiting: Waiting[];
}

/** Per connection (poolKey), while its first reads gather or a script of it runs: the reads waiting for its next script. */
const hosts = new Map<string, HostReads>();

async function send(key: string, host: HostReads): Promise<void> {
    const reads = host.waiting.splice(0, batchLimit);
    const delimiter = `#=== ${randomUUID()}`;
    try {
        const { stdout } = await runRemote(host.connection, buildObserveBatchScript(reads.map((read) => read.app), delimiter));
        splitObserveBatch(stdout, delimiter, reads.length).forEach((answer, index) => "stdout" in answer ? reads[index].resolve(answer.stdout)
            : reads[index].reject(new RemoteCommandError(host.connection, answer.exitCode, answer.stderr)));
    } catch (error) {
        reads.forEach((read) => read.reject(error as Error));
    }
    if (host.waiting.length > 0) {
        return send(key, host);
    }
    hosts.delete(key);
}

/** The app's observation (what buildObserveScript prints for it), read together with the other apps of its host asked for meanwhile. */
export function observeOnHost(connection: SshConnection, location: AppLocation, target: DeployTarget): Promise<string> {
    // What would make the script unbuildable (a name from a state edited by hand) fails this read alone.
    try {
        appDir(location);
        targetNamed(target);
    } catch (error) {
        return Promise.reject(error);
    }
    const key = poolKey(connection);
    let host = hosts.get(key);
    if (host === undefined) {
        const idle: HostReads = { connection, waiting: [] };
        hosts.set(key, idle);
        setTimeout(() => void send(key, idle), gatherMs);
        host = idle;
    }
    const joining = host;
    return new Promise((resolve, reject) => joining.waiting.push({ app: { location, target }, resolve, reject }));
}
