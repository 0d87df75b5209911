// One SSH connection per host for the whole process, every command a channel of its own. All dynamic resources of a
// run are served by one provider process, so this makes one login per host per run: twenty apps on a host are one
// handshake, not twenty, which keeps a run inside sshd's MaxStartups (10 unauthenticated at once by default).
import type { Client, ClientChannel } from "ssh2";

/**
 * Channels open at once on one connection unless a connection asks for fewer. Each exec is a session, and sshd's
 * MaxSessions (10 by default) refuses the eleventh; 8 leaves room for an operator's own multiplexed ssh on the
 * host's limit, and more would only crowd a host's docker anyway. The rest wait their turn, in order.
 */
export const defaultChannelLimit = 8;

/**
 * How long a connection nobody uses stays open: long enough to carry a run's back-to-back commands (the engine's
 * next step, a loop over a host's records), short enough that a command line tool exits without a noticeable wait:
 * the connection, and so the process, ends this long after the last command.
 */
const idleMs = 200;

interface Host {
    limit: number;
    active: number;
    waiting: (() => void)[];
    /** The connection commands use now; unset until the first command dials, and again once it drops. */
    client?: Promise<Client>;
    idle?: NodeJS.Timeout;
}

const hosts = new Map<string, Host>();

/** Connections that closed or failed: none of them opens another channel. */
const dropped = new WeakSet<Client>();

/** Dials for `host` unless a live connection is there; a connection that drops or fails is forgotten at once. */
function connection(host: Host, dial: () => Promise<Client>): Promise<Client> {
    if (!host.client) {
        const dialed = dial();
        host.client = dialed;
        const forget = () => {
            if (host.client === dialed) {
                host.client = undefined;
            }
        };
        dialed.then((client) => {
            const drop = () => {
                dropped.add(client);
                forget();
            };
            client.once("close", drop);
            client.once("end", drop);
            client.on("error", drop);
        }, forget);
    }
    return host.client;
}

function execOn(client: Client, command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => client.exec(command, (error: Error | undefined, channel: ClientChannel) =>
        error ? reject(error) : resolve(channel)));
}

async function acquire(host: Host): Promise<void> {
    clearTimeout(host.idle);
    if (host.active < host.limit) {
        host.active++;
        return;
    }
    // The slot is handed over by release(), so active stays counted and nobody overtakes the queue.
    await new Promise<void>((resolve) => host.waiting.push(resolve));
}

function release(key: string, host: Host): void {
    const next = host.waiting.shift();
    if (next) {
        return next();
    }
    host.active--;
    if (host.active === 0 && !host.client) {
        // Nothing to keep: the dial failed or the connection dropped.
        hosts.delete(key);
    } else if (host.active === 0) {
        host.idle = setTimeout(() => {
            hosts.delete(key);
            host.client?.then((client) => client.end(), () => undefined);
        }, idleMs);
    }
}

/**
 * Runs `command` on a channel of the pooled connection for `key` and hands the open channel to `use`, which
 * resolves once the command is done. A channel that cannot open (the connection died under us) is tried once
 * more on a fresh connection: nothing ran yet, so nothing can run twice.
 */
export async function withChannel<T>(key: string, limit: number, dial: () => Promise<Client>, command: string,
    use: (channel: ClientChannel) => Promise<T>): Promise<T> {
    let host = hosts.get(key);
    if (!host) {
        host = { limit, active: 0, waiting: [] };
        hosts.set(key, host);
    }
    await acquire(host);
    try {
        const dialed = connection(host, dial);
        const client = await dialed;
        let channel: ClientChannel;
        try {
            channel = await execOn(client, command);
        } catch (error) {
            // ssh2 says "Not connected" before the socket's close reaches us.
            if (dropped.has(client) || (error as Error).message === "Not connected") {
                dropped.add(client);
                if (host.client === dialed) {
                    host.client = undefined;
                }
            }
            channel = await execOn(await connection(host, dial), command);
        }
        return await use(channel);
    } finally {
        release(key, host);
    }
}
