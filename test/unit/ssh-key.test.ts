// The SSH key every operator command reaches a host with: the file given, else IAC_SSH_KEY_FILE, else
// ~/.ssh/id_ed25519; a file that cannot be read is named.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SshKeyUnreadableError, readSshKey, sshKeyFile } from "../../components/model/ssh-key";

describe("the operator commands' SSH key", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-ssh-key-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is the file given, else IAC_SSH_KEY_FILE, else ~/.ssh/id_ed25519", () => {
        const env = { IAC_SSH_KEY_FILE: path.join(dir, "from-env") };
        assert.strictEqual(sshKeyFile(path.join(dir, "given"), env), path.join(dir, "given"));
        assert.strictEqual(sshKeyFile(undefined, env), path.join(dir, "from-env"));
        assert.strictEqual(sshKeyFile(undefined, {}), path.join(os.homedir(), ".ssh", "id_ed25519"));
    });

    it("reads the chosen file's text", () => {
        const given = path.join(dir, "given");
        const fromEnv = path.join(dir, "from-env");
        fs.writeFileSync(given, "-----BEGIN OPENSSH PRIVATE KEY----- given\n");
        fs.writeFileSync(fromEnv, "-----BEGIN OPENSSH PRIVATE KEY----- env\n");
        assert.strictEqual(readSshKey(given, { IAC_SSH_KEY_FILE: fromEnv }), fs.readFileSync(given, "utf8"));
        assert.strictEqual(readSshKey(undefined, { IAC_SSH_KEY_FILE: fromEnv }), fs.readFileSync(fromEnv, "utf8"));
    });

    it("names the file it cannot read: one missing, a directory", () => {
        const missing = path.join(dir, "missing");
        assert.throws(() => readSshKey(missing, {}), (error: Error) => error instanceof SshKeyUnreadableError &&
            error.file === missing && error.message === `cannot read the SSH key ${missing}`);
        // A directory exists but is no key.
        assert.throws(() => readSshKey(undefined, { IAC_SSH_KEY_FILE: dir }), (error: Error) =>
            error instanceof SshKeyUnreadableError && error.file === dir);
    });
});
