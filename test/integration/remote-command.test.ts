// The RemoteCommand provider, serialized as the engine stores it, against a real SSH host.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RemoteCommandInputs, RemoteCommandOutputs, remoteCommandProvider } from "../../components/remote/command";
import { SshHost, freePort, startSshHost } from "../../scripts/local/sshd";
import { serializedProvider } from "../helpers/serialized-provider";

type Provider = Required<pulumi.dynamic.ResourceProvider<RemoteCommandInputs, RemoteCommandOutputs>>;

describe("RemoteCommand provider (serialized) against a real SSH host", function () {
    this.timeout(120_000);
    let ssh: SshHost;
    let provider: Provider;
    let connection: RemoteCommandInputs["connection"];

    before(async () => {
        ssh = await startSshHost();
        provider = (await serializedProvider(remoteCommandProvider)).provider as Provider;
        connection = { host: ssh.host, port: ssh.port, user: ssh.user, privateKey: ssh.privateKey, dialErrorLimit: 2, perDialTimeout: 5 };
    });
    after(async () => ssh?.stop());

    it("runs create with stdin, update on a change, delete on delete", async () => {
        const file = path.join(ssh.deployRoot, "marker");
        const inputs: RemoteCommandInputs = {
            connection, create: `cat > ${file}; echo created`, update: `echo updated >> ${file}`, delete: `rm ${file}`, stdin: "secret-on-stdin\n",
        };
        const created = await provider.create(inputs);
        assert.strictEqual(created.outs!.stdout, "created\n");
        assert.strictEqual(fs.readFileSync(file, "utf8"), "secret-on-stdin\n");

        assert.strictEqual((await provider.diff(created.id, created.outs!, inputs)).changes, false);
        const changed = { ...inputs, triggers: ["sha256:new"] };
        assert.strictEqual((await provider.diff(created.id, created.outs!, changed)).changes, true);
        assert.deepStrictEqual((await provider.diff(created.id, created.outs!, changed)).replaces, []);
        await provider.update(created.id, created.outs!, changed);
        assert.strictEqual(fs.readFileSync(file, "utf8"), "secret-on-stdin\nupdated\n");

        await provider.delete(created.id, { ...created.outs!, ...changed });
        assert.ok(!fs.existsSync(file));
    });

    it("fails with the script's stderr and exit status", async () => {
        await assert.rejects(provider.create({ connection, create: "echo 'what went wrong' >&2; exit 3" }), (error: Error) => {
            assert.match(error.message, new RegExp(`the script on ${ssh.user}@127\\.0\\.0\\.1:${ssh.port} exited with 3:\\nwhat went wrong`));
            return true;
        });
    });

    it("refuses a host whose key is not the pinned one, and accepts the right one", async () => {
        const pinned = await provider.create({ connection: { ...connection, hostKey: ssh.hostKey }, create: "echo pinned" });
        assert.strictEqual(pinned.outs!.stdout, "pinned\n");
        const other = fs.readFileSync(path.join(ssh.dir, "client_ed25519.pub"), "utf8").split(" ").slice(0, 2).join(" ");
        await assert.rejects(provider.create({ connection: { ...connection, hostKey: other }, create: "echo never" }), (error: Error) => {
            assert.match(error.message, /after 1 attempt\(s\): the host's key is not iac:sshHostKey/);
            return true;
        });
    });

    it("says which host it cannot reach, and why", async () => {
        const port = await freePort();
        await assert.rejects(provider.create({ connection: { ...connection, port }, create: "true" }), (error: Error) => {
            assert.match(error.message, new RegExp(`cannot reach ${ssh.user}@127\\.0\\.0\\.1:${port} over SSH after 2 attempt\\(s\\): connection refused`));
            return true;
        });
        const otherKey = fs.readFileSync(path.join(ssh.dir, "host_ed25519"), "utf8");
        await assert.rejects(provider.create({ connection: { ...connection, privateKey: otherKey }, create: "true" }), (error: Error) => {
            assert.match(error.message, /the host refused the key \(authentication failed\)/);
            return true;
        });
    });
});
