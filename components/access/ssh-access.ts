// The one place an SSH connection to a workspace's Docker host is made from the config model.
import type { WorkspaceHost } from "../model/workspace";
import type { SshConnection } from "../remote/ssh";

/** The workspace's Docker host with a private key the caller read. */
export function sshConnection(host: WorkspaceHost, privateKey: string): SshConnection {
    return { host: host.host, port: host.port, user: host.user, hostKey: host.hostKey, privateKey };
}
