// The observations this provider process shares between the apps of one host: in a refresh the engine reads every
// HostDeployment at once, and the reads of one host that arrive within a few milliseconds of each other go out as
// one script on one channel (./observe-batch), each read then answered by its own app's part. Only reads not yet
// sent join: one asked for after a script went out waits for the next, so a later read never gets an older answer.
import { randomUUID } from "crypto";
import { AppLocation, DeployTarget } from "../remote/layout";
import { ObservedApp, buildObserveBatchScript, splitObserveBatch } from "../remote/observe-batch";
import { RemoteCommandError, SshConnection, poolKey, runRemote } from "../remote/ssh";

/**
 * How long the first read of a batch waits for others: the engine's reads of a refresh reach the process within
 * a few milliseconds of each other; a read alone (a deploy's, an `up --refresh` of one app) hardly notices.
 */
const gatherMs = 10;

/** Apps per script: past this, a second script goes out on a channel of its own, beside the first. */
const batchLimit = 25;

interface Waiting {
    app: ObservedApp;
    resolve: (stdout: string) => void;
    reject: (error: Error) => void;
}

interface Batch {
    connection: SshConnection;
    waiting: Waiting[];
    timer: NodeJS.Timeout;
}

/** Per connection (poolKey), the batch still gathering reads. */
const gathering = new Map<string, Batch>();

async function send(key: string, batch: Batch): Promise<void> {
    clearTimeout(batch.timer);
    if (gathering.get(key) === batch) {
        gathering.delete(key);
    }
    const delimiter = `#=== ${randomUUID()}`;
    let answers;
    try {
        const { stdout } = await runRemote(batch.connection, buildObserveBatchScript(batch.waiting.map((read) => read.app), delimiter));
        answers = splitObserveBatch(stdout, delimiter, batch.waiting.length);
    } catch (error) {
        batch.waiting.forEach((read) => read.reject(error as Error));
        return;
    }
    answers.forEach((answer, index) => "stdout" in answer ? batch.waiting[index].resolve(answer.stdout)
        : batch.waiting[index].reject(new RemoteCommandError(batch.connection, answer.exitCode, answer.stderr)));
}

/** The app's observation (what buildObserveScript prints for it), read together with the other apps of its host asked for now. */
export function observeOnHost(connection: SshConnection, location: AppLocation, target: DeployTarget): Promise<string> {
    const key = poolKey(connection);
    return new Promise((resolve, reject) => {
        let batch = gathering.get(key);
        if (batch === undefined) {
            const started: Batch = { connection, waiting: [], timer: setTimeout(() => void send(key, started), gatherMs) };
            gathering.set(key, started);
            batch = started;
        }
        batch.waiting.push({ app: { location, target }, resolve, reject });
        if (batch.waiting.length >= batchLimit) {
            void send(key, batch);
        }
    });
}
