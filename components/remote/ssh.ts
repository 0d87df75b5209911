// Running a script on a host over SSH (ssh2, in-process: the private key never touches a disk or argv).
// The script is the remote command, stdin is separate, as with `ssh host 'script'`.
import { createHash } from "crypto";
import { StringDecoder } from "string_decoder";
import type { Client } from "ssh2";
import { defaultChannelLimit, withChannel } from "./connection-pool";

export interface SshConnection {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    /** The host's public key as ssh-keyscan prints it (`ssh-ed25519 AAAA…`); unset: any key is accepted. */
    hostKey?: string;
    /** Attempts to connect before giving up. */
    dialErrorLimit?: number;
    /** Seconds per attempt. */
    perDialTimeout?: number;
    /** Commands at once on the host's one connection; sshd's MaxSessions must allow as many. */
    channelLimit?: number;
}

export const hostKeyPattern = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/;

export interface RemoteResult {
    stdout: string;
    stderr: string;
}

function hostLabel(connection: SshConnection): string {
    return `${connection.user}@${connection.host}:${connection.port}`;
}

export class RemoteError extends Error {
    constructor(message: string) {
        super(message);
        this.name = this.constructor.name;
    }
}

/** The host answered but would not be trusted or would not trust us: retrying cannot help. */
export class HostAuthError extends RemoteError {
    constructor(connection: SshConnection, cause: string) {
        super(`${hostLabel(connection)} answered but ${cause}; check iac:sshUser, iac:sshPrivateKey and iac:sshHostKey. ` +
            "Nothing was changed on the host");
    }
}

export class HostUnreachableError extends RemoteError {
    constructor(connection: SshConnection, attempts: number, cause: string) {
        super(`cannot reach ${hostLabel(connection)} over SSH after ${attempts} attempt(s): ${cause}; ` +
            "check iac:sshHost, iac:sshPort, iac:sshUser and iac:sshPrivateKey, and that sshd runs there. Nothing was changed on the host");
    }
}

/** Enough for any deploy's own account of itself; a flood (a crash loop's logs) is cut at its start. */
const reportedLines = 400;

export class RemoteCommandError extends RemoteError {
    constructor(connection: SshConnection, readonly exitCode: number | null, readonly stderr: string) {
        const all = stderr.trim().split("\n");
        const said = (all.length > reportedLines ? [`… (${all.length - reportedLines} earlier lines)`] : [])
            .concat(all.slice(-reportedLines)).join("\n");
        super(`the script on ${hostLabel(connection)} exited with ${exitCode ?? "a signal"}${stderr.trim() ? `:\n${said}` : ""}`);
    }
}

const causes: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ENOTFOUND: "host name not found",
    ETIMEDOUT: "timed out",
};

function explain(error: Error & { code?: string; level?: string }): string {
    if (error.level === "client-authentication") {
        return "it refused the key (authentication failed)";
    }
    if (error.message.includes("verification failed")) {
        return "its host key is not iac:sshHostKey (another host, or a man in the middle; if the host was rebuilt, update iac:sshHostKey)";
    }
    if (error.message.includes("Timed out while waiting for handshake")) {
        return "no SSH handshake (timed out)";
    }
    return error.code && causes[error.code] ? `${causes[error.code]} (${error.code})` : error.message;
}

function connectOnce(connection: SshConnection): Promise<Client> {
    return new Promise((resolve, reject) => {
        // Required here, not at the top: the program and a provider that only diffs never connect, and ssh2 is a
        // tenth of their load.
        const client = new (require("ssh2") as typeof import("ssh2")).Client();
        // The handshake and then each command are a few small messages each way (open, exec, end of input; exit,
        // close). With Nagle's algorithm on, the second of two back-to-back writes waits for the peer's delayed ACK,
        // 40 ms a time: 88 ms a command on loopback, against 3 ms without (docs/performance.md).
        client.once("connect", () => client.setNoDelay(true));
        client.once("ready", () => resolve(client));
        client.once("error", (error) => {
            client.end();
            reject(error);
        });
        client.connect({
            host: connection.host,
            port: connection.port,
            username: connection.user,
            privateKey: connection.privateKey,
            readyTimeout: (connection.perDialTimeout ?? 15) * 1000,
            ...(connection.hostKey ? {
                hostVerifier: (key: Buffer) => key.equals(Buffer.from(connection.hostKey!.split(" ")[1], "base64")),
            } : {}),
            keepaliveInterval: 15_000,
        });
    });
}

async function connect(connection: SshConnection): Promise<Client> {
    const attempts = connection.dialErrorLimit ?? 3;
    let last: Error | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
            return await connectOnce(connection);
        } catch (error) {
            last = error as Error;
            // A refused key or a wrong host key will not change on a retry.
            if ((error as { level?: string }).level === "client-authentication" || last.message.includes("verification failed")) {
                throw new HostAuthError(connection, explain(last));
            }
            if (attempt < attempts) {
                await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
            }
        }
    }
    throw new HostUnreachableError(connection, attempts, explain(last!));
}

/** What makes two connections the same one: the same login to the same host, trusted the same way. */
export function poolKey(connection: SshConnection): string {
    const { user, host, port, privateKey, hostKey, channelLimit } = connection;
    return createHash("sha256").update(JSON.stringify([user, host, port, privateKey, hostKey ?? "", channelLimit ?? 0])).digest("hex");
}

/**
 * Runs `script` on the host; resolves with its output when it exits 0, rejects with its stderr otherwise.
 * `onStderrLine` hears each line of stderr as it arrives: the script's progress. Every command to a host shares one
 * connection (./connection-pool), each on a channel of its own.
 */
export function runRemote(connection: SshConnection, script: string, stdin = "",
    onStderrLine?: (line: string) => void): Promise<RemoteResult> {
    return withChannel(poolKey(connection), connection.channelLimit ?? defaultChannelLimit, () => connect(connection), script,
        (channel) => new Promise<RemoteResult>((resolve, reject) => {
            let stdout = "";
            let stderr = "";
            // Decoders keep a character whose bytes a packet boundary split: decoded chunk by chunk, it would become
            // U+FFFD (a description in deploy-info.yml that reads as changed on the host).
            const [out, err] = [new StringDecoder("utf8"), new StringDecoder("utf8")];
            channel.on("data", (chunk: Buffer) => (stdout += out.write(chunk)));
            let pending = "";
            channel.stderr.on("data", (chunk: Buffer) => {
                const text = err.write(chunk);
                stderr += text;
                if (onStderrLine) {
                    const parts = (pending + text).split("\n");
                    pending = parts.pop()!;
                    parts.forEach(onStderrLine);
                }
            });
            let exitCode: number | null = null;
            channel.on("exit", (code: number | null) => (exitCode = code));
            channel.on("close", () => {
                [stdout, stderr] = [stdout + out.end(), stderr + err.end()];
                return exitCode === 0 ? resolve({ stdout, stderr }) : reject(new RemoteCommandError(connection, exitCode, stderr));
            });
            channel.end(stdin);
        }));
}
