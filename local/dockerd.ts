// A Docker engine of our own: private socket and data root under a temp dir, no bridge and no iptables, so
// containers use host networking and nothing is routed beyond loopback.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireExecutable, startProcess } from "./process";

export interface DockerEngine {
    /** unix:///…/docker.sock, for DOCKER_HOST. */
    host: string;
    dir: string;
    logFile: string;
    pid: number;
    stop(): Promise<void>;
}

export async function startDockerd(options: { dir?: string; keepRunning?: boolean } = {}): Promise<DockerEngine> {
    const binary = requireExecutable("/usr/sbin/dockerd", "run scripts/install-tools (installs Debian's docker.io)");
    const ownDir = options.dir === undefined;
    // Short: the managed containerd's socket path lives under exec-root and unix sockets allow ~108 bytes.
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iac-dk-"));
    const socket = path.join(dir, "docker.sock");
    const logFile = path.join(dir, "dockerd.log");
    const started = await startProcess("dockerd", binary, [
        "--bridge=none", "--iptables=false", "--ip6tables=false",
        "--host", `unix://${socket}`,
        "--data-root", path.join(dir, "data"),
        "--exec-root", path.join(dir, "exec"),
        "--pidfile", path.join(dir, "docker.pid"),
    ], { logFile, ready: /API listen on/, timeoutMs: 60_000, keepRunning: options.keepRunning });
    return {
        host: `unix://${socket}`,
        dir,
        logFile,
        pid: started.child.pid!,
        stop: async () => {
            await started.stop();
            if (ownDir) {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
