// An SSH test host: sshd on 127.0.0.1 with a generated ed25519 key pair, a temp directory standing in for
// /opt, and DOCKER_HOST set for every session so the login user's docker reaches our engine.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { requireExecutable, startProcess } from "./process";

export interface SshHost {
    host: string;
    port: number;
    user: string;
    /** OpenSSH private key text of the generated client key. */
    privateKey: string;
    privateKeyFile: string;
    /** The host's public key as ssh-keyscan prints it, for iac:sshHostKey. */
    hostKey: string;
    /** Stands in for /opt on this host. */
    deployRoot: string;
    dir: string;
    logFile: string;
    pid: number;
    /** How many logins sshd has accepted so far, from its log: one per SSH connection. */
    sessionCount(): number;
    /** Ends every open connection as a dropped link would (kills sshd's per-connection children); sshd listens on. */
    dropConnections(): void;
    stop(): Promise<void>;
}

/** A port the kernel just handed out on loopback; sshd cannot report one it picked itself. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export async function startSshHost(options: {
    dockerHost?: string; port?: number; dir?: string; keepRunning?: boolean;
    /** sshd's MaxSessions (sessions per connection) and MaxStartups (unauthenticated connections), e.g. its
     * defaults 10 and "10:30:100"; unset: high enough that no test meets them by accident. */
    maxSessions?: number; maxStartups?: string;
} = {}): Promise<SshHost> {
    const sshd = requireExecutable("/usr/sbin/sshd", "run scripts/install-tools (installs Debian's openssh-server)");
    const keygen = requireExecutable("/usr/bin/ssh-keygen", "run scripts/install-tools (installs Debian's openssh-client)");
    const ownDir = options.dir === undefined;
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iac-sshd-"));
    const deployRoot = path.join(dir, "opt");
    fs.mkdirSync(deployRoot, { recursive: true });
    const hostKey = path.join(dir, "host_ed25519");
    const clientKey = path.join(dir, "client_ed25519");
    for (const key of [hostKey, clientKey]) {
        if (!fs.existsSync(key)) {
            execFileSync(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "iac-test", "-f", key]);
        }
    }
    fs.copyFileSync(`${clientKey}.pub`, path.join(dir, "authorized_keys"));
    const dockerConfig = path.join(dir, "docker-config");
    fs.mkdirSync(dockerConfig, { recursive: true, mode: 0o700 });
    const home = path.join(dir, "home");
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    // Privilege separation directory that Debian's sshd insists on.
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    const port = options.port ?? await freePort();
    const configFile = path.join(dir, "sshd_config");
    fs.writeFileSync(configFile, [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        `MaxStartups ${options.maxStartups ?? "50"}`,
        `MaxSessions ${options.maxSessions ?? 50}`,
        "Subsystem sftp internal-sftp",
        // The host's own docker client config: a `docker login` over SSH lands here, not in this machine's user's.
        `SetEnv HOME=${home} DOCKER_CONFIG=${dockerConfig}${options.dockerHost ? ` DOCKER_HOST=${options.dockerHost}` : ""}`,
        "",
    ].join("\n"));

    const logFile = path.join(dir, "sshd.log");
    const started = await startProcess("sshd", sshd, ["-D", "-e", "-f", configFile], {
        logFile, ready: new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}`), timeoutMs: 20_000,
        keepRunning: options.keepRunning,
    });
    return {
        host: "127.0.0.1",
        port,
        user: os.userInfo().username,
        privateKey: fs.readFileSync(clientKey, "utf8"),
        privateKeyFile: clientKey,
        hostKey: fs.readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" "),
        deployRoot,
        dir,
        logFile,
        pid: started.child.pid!,
        sessionCount: () => (fs.readFileSync(logFile, "utf8").match(/^Accepted publickey for /gm) ?? []).length,
        dropConnections: () => {
            let children: number[] = [];
            try {
                children = execFileSync("ps", ["-o", "pid=", "--ppid", String(started.child.pid)], { encoding: "utf8" })
                    .split("\n").filter((line) => line.trim() !== "").map(Number);
            } catch {
                // ps exits 1 when sshd has no child; said below.
            }
            if (children.length === 0) {
                throw new Error(`sshd on port ${port} has no open connection to drop`);
            }
            children.forEach((pid) => process.kill(pid, "SIGKILL"));
        },
        stop: async () => {
            await started.stop();
            if (ownDir) {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
