// One SSH connection per host, against a real sshd held to small limits: with MaxSessions 3 a fourth session on
// a connection is refused and with MaxStartups 2:30:3 concurrent handshakes are dropped, so a pool that opened
// more than one connection, or more channels than it may, fails here rather than on an operator's host.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { RemoteCommandError, SshConnection, runRemote } from "../../components/remote/ssh";
import { defaultChannelLimit } from "../../components/remote/connection-pool";
import { SshHost, startSshHost } from "../../local/sshd";

/** The most commands that ran at once, from the "start"/"end" lines each wrote with a clock reading. */
function mostAtOnce(logFile: string): number {
    const events = fs.readFileSync(logFile, "utf8").trim().split("\n").map((line) => line.split(" "))
        .map(([at, what]) => ({ at: BigInt(at), delta: what === "start" ? 1 : -1 }))
        .sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1));
    let running = 0;
    let most = 0;
    for (const { delta } of events) {
        running += delta;
        most = Math.max(most, running);
    }
    return most;
}

function timedScript(logFile: string, index: number): string {
    return `echo "$(date +%s%N) start" >> '${logFile}'; sleep 0.3; echo "$(date +%s%N) end" >> '${logFile}'; echo ${index}`;
}

function connectionTo(ssh: SshHost, extra: Partial<SshConnection> = {}): SshConnection {
    return { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey, hostKey: ssh.hostKey, ...extra };
}

describe("one SSH connection per host", function () {
    this.timeout(120_000);
    let strict: SshHost;
    let stock: SshHost;

    before(async () => {
        [strict, stock] = await Promise.all([
            startSshHost({ maxSessions: 3, maxStartups: "2:30:3" }),
            startSshHost({ maxSessions: 10, maxStartups: "10:30:100" }),
        ]);
    });
    after(async () => Promise.all([strict?.stop(), stock?.stop()]));

    it("runs many commands at once over one login, never more channels than allowed", async () => {
        const connection = connectionTo(strict, { channelLimit: 3 });
        const logFile = path.join(strict.dir, "channels.log");
        const loginsBefore = strict.sessionCount();
        const outputs = await Promise.all(Array.from({ length: 12 }, (_, i) => runRemote(connection, timedScript(logFile, i))));
        assert.deepStrictEqual(outputs.map((output) => output.stdout), Array.from({ length: 12 }, (_, i) => `${i}\n`));
        assert.strictEqual(strict.sessionCount() - loginsBefore, 1);
        const most = mostAtOnce(logFile);
        assert.ok(most > 1 && most <= 3, `${most} commands ran at once`);
    });

    it("stays within sshd's default MaxSessions and MaxStartups with its own channel limit", async () => {
        const connection = connectionTo(stock);
        const logFile = path.join(stock.dir, "channels.log");
        const loginsBefore = stock.sessionCount();
        const outputs = await Promise.all(Array.from({ length: 30 }, (_, i) => runRemote(connection, timedScript(logFile, i))));
        assert.deepStrictEqual(outputs.map((output) => output.stdout), Array.from({ length: 30 }, (_, i) => `${i}\n`));
        assert.strictEqual(stock.sessionCount() - loginsBefore, 1);
        const most = mostAtOnce(logFile);
        assert.ok(most > 1 && most <= defaultChannelLimit, `${most} commands ran at once`);
    });

    it("reconnects for the next command after the connection dropped between commands", async () => {
        const connection = connectionTo(strict, { channelLimit: 3 });
        const loginsBefore = strict.sessionCount();
        assert.strictEqual((await runRemote(connection, "echo before")).stdout, "before\n");
        strict.dropConnections();
        // Asked before the drop reaches the client: its channel cannot open on the dead connection, and nothing
        // ran, so it is tried once more on a fresh one.
        assert.strictEqual((await runRemote(connection, "echo after")).stdout, "after\n");
        assert.strictEqual(strict.sessionCount() - loginsBefore, 2);
    });

    it("fails the commands running when the connection drops, and reconnects for the next", async () => {
        const connection = connectionTo(strict, { channelLimit: 3 });
        const marker = path.join(strict.dir, "running");
        const running = runRemote(connection, `touch '${marker}'; sleep 30`);
        const settled = running.then(() => undefined, (error: Error) => error);
        while (!fs.existsSync(marker)) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const loginsBefore = strict.sessionCount();
        strict.dropConnections();
        const error = await settled;
        assert.ok(error instanceof RemoteCommandError && /exited with a signal/.test(error.message), String(error));
        assert.strictEqual((await runRemote(connection, "echo again")).stdout, "again\n");
        assert.strictEqual(strict.sessionCount() - loginsBefore, 1);
    });
});
