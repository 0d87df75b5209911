// The SSH key an operator command reaches a workspace's host with (the program reads iac:sshPrivateKey from the
// stack instead): the one lookup every command shares, so --identity, IAC_SSH_KEY_FILE and the default mean the
// same in each. How a key is given for which workspace is the command's own flag grammar.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export class SshKeyUnreadableError extends Error {
    constructor(readonly file: string) {
        super(`cannot read the SSH key ${file}`);
        this.name = "SshKeyUnreadableError";
    }
}

/** The key file: the one given, else IAC_SSH_KEY_FILE, else ~/.ssh/id_ed25519. */
export function sshKeyFile(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
    return given ?? env.IAC_SSH_KEY_FILE ?? path.join(os.homedir(), ".ssh", "id_ed25519");
}

/** The private key's text from sshKeyFile(given); SshKeyUnreadableError names the file when it cannot be read. */
export function readSshKey(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
    const file = sshKeyFile(given, env);
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        throw new SshKeyUnreadableError(file);
    }
}
