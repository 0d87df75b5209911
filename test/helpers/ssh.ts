// Runs a script on the SSH test host through the same SSH code the HostDeployment provider uses, reporting
// a failing script as its exit status instead of an error.
import { RemoteCommandError, runRemote } from "../../components/remote/ssh";
import { SshHost } from "../../local/sshd";

export interface RemoteResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

export async function runOverSsh(host: SshHost, script: string, stdin = "", onStderrLine?: (line: string) => void): Promise<RemoteResult> {
    try {
        const { stdout, stderr } = await runRemote(
            { host: host.host, port: host.port, user: host.user, privateKey: host.privateKey }, script, stdin, onStderrLine);
        return { status: 0, stdout, stderr };
    } catch (error) {
        if (error instanceof RemoteCommandError) {
            return { status: error.exitCode, stdout: "", stderr: error.stderr };
        }
        throw error;
    }
}
