// Runs a script on the SSH test host the way @pulumi/command does: the script is the remote command,
// stdin is separate.
import { spawn } from "child_process";
import { SshHost } from "../../scripts/local/sshd";

export interface RemoteResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

type Target = Pick<SshHost, "host" | "port" | "user" | "privateKeyFile">;

export function runOverSsh(host: Target, script: string, stdin = ""): Promise<RemoteResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("ssh", [
            "-i", host.privateKeyFile, "-p", String(host.port),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            `${host.user}@${host.host}`, script,
        ]);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.stdin.end(stdin);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}
