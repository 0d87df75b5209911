// SSH failures named for what happened, against a real sshd: a host that refuses our key or presents
// another host key answered (HostAuthError, no retry helps); a port where nothing listens did not.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HostAuthError, HostUnreachableError, SshConnection, runRemote } from "../../components/remote/ssh";
import { SshHost, freePort, startSshHost } from "../../local/sshd";

describe("SSH errors against a real sshd", function () {
    this.timeout(120_000);
    let ssh: SshHost;
    let connection: SshConnection;
    let otherKey: string;

    before(async () => {
        ssh = await startSshHost();
        connection = { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey, hostKey: ssh.hostKey, dialErrorLimit: 2, perDialTimeout: 5 };
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-key-"));
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
        otherKey = fs.readFileSync(path.join(dir, "key"), "utf8");
        fs.rmSync(dir, { recursive: true, force: true });
    });
    after(async () => ssh?.stop());

    it("runs a script when key and host key are right", async () => {
        assert.strictEqual((await runRemote(connection, "echo ok")).stdout, "ok\n");
    });

    it("keeps characters whose bytes the channel's packets split, on stdout and stderr", async () => {
        // Three bytes a unit: whatever the packets' sizes, some boundary falls inside a character.
        const text = "aé".repeat(100_000);
        const file = path.join(ssh.deployRoot, "utf8.txt");
        fs.writeFileSync(file, text);
        const { stdout, stderr } = await runRemote(connection, `cat '${file}'; cat '${file}' >&2`);
        assert.ok(stdout === text && stderr === text, "the text came back whole");
        fs.rmSync(file);
    });

    it("says the host refused the key, without retrying", async () => {
        await assert.rejects(runRemote({ ...connection, privateKey: otherKey }, "true"), (error: Error) =>
            error instanceof HostAuthError && /answered but it refused the key/.test(error.message) && error.message.includes(`${ssh.host}:${ssh.port}`));
    });

    it("says the host presented another host key", async () => {
        const wrongHostKey = `ssh-ed25519 ${Buffer.alloc(51, 1).toString("base64")}`;
        await assert.rejects(runRemote({ ...connection, hostKey: wrongHostKey }, "true"), (error: Error) =>
            error instanceof HostAuthError && /its host key is not iac:sshHostKey/.test(error.message));
    });

    it("says nothing answered on a closed port", async () => {
        await assert.rejects(runRemote({ ...connection, port: await freePort() }, "true"), (error: Error) =>
            error instanceof HostUnreachableError && /connection refused/.test(error.message));
    });
});
