// A Docker engine of our own: private socket and data root under a temp dir, no bridge and no iptables, so
// containers use host networking and nothing is routed beyond loopback.
import { execFileSync } from "child_process";
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
    /** The network namespace it runs in (`ip netns`), when not the machine's own. */
    netns?: string;
    stop(): Promise<void>;
}

export interface DockerdOptions {
    dir?: string;
    keepRunning?: boolean;
    /** More dockerd flags after ours (a swarm worker's own settings, say). */
    extraArgs?: string[];
    /** Run inside this network namespace (made with `ip netns add`): a second host on the same machine. */
    netns?: string;
}

export async function startDockerd(options: DockerdOptions = {}): Promise<DockerEngine> {
    const binary = requireExecutable("/usr/sbin/dockerd", "run scripts/install-tools (installs Debian's docker.io)");
    const ownDir = options.dir === undefined;
    // Short: the managed containerd's socket path lives under exec-root and unix sockets allow ~108 bytes.
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iac-dk-"));
    const socket = path.join(dir, "docker.sock");
    const logFile = path.join(dir, "dockerd.log");
    const args = [
        "--bridge=none", "--iptables=false", "--ip6tables=false",
        "--host", `unix://${socket}`,
        "--data-root", path.join(dir, "data"),
        "--exec-root", path.join(dir, "exec"),
        "--pidfile", path.join(dir, "docker.pid"),
        ...options.extraArgs ?? [],
    ];
    // nsenter, not `ip netns exec`: the latter gives the command a mount namespace with a fresh /sys, where the
    // cgroup mounts are gone and dockerd stops with "Devices cgroup isn't mounted". nsenter enters the network
    // namespace only and execs dockerd in place, so the pid we hold is dockerd's own.
    const [command, commandArgs] = options.netns === undefined
        ? [binary, args]
        : [requireExecutable("/usr/bin/nsenter", "install Debian's util-linux"), [`--net=/run/netns/${options.netns}`, binary, ...args]];
    const started = await startProcess("dockerd", command, commandArgs,
        { logFile, ready: /API listen on/, timeoutMs: 60_000, keepRunning: options.keepRunning });
    return {
        host: `unix://${socket}`,
        dir,
        logFile,
        pid: started.child.pid!,
        netns: options.netns,
        stop: async () => {
            await started.stop();
            unmountUnder(dir);
            if (ownDir) {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}

/** Whether `pid` runs: a zombie has exited, whoever has yet to reap it. */
function running(pid: string): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
        return false;
    }
}

/**
 * Starts the engine of `dir` again after it was killed. Its containerd outlives it a moment, then stays a zombie
 * that nothing on a test machine reaps: a dockerd started meanwhile finds its pid file, takes it for running and
 * waits on a socket that is gone ("timeout waiting for containerd to start"). So this waits until that containerd
 * has exited and removes its pid file, as a host's init would have it, before starting dockerd.
 */
export async function restartKilledDockerd(dir: string): Promise<DockerEngine> {
    const pidFile = path.join(dir, "exec", "containerd", "containerd.pid");
    if (fs.existsSync(pidFile)) {
        const pid = fs.readFileSync(pidFile, "utf8").trim();
        for (let waited = 0; running(pid); waited += 100) {
            if (waited >= 60_000) {
                throw new Error(`the old containerd (pid ${pid}) still runs a minute after dockerd was killed`);
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        fs.rmSync(pidFile);
    }
    return startDockerd({ dir });
}

/**
 * Unmounts whatever a stopped dockerd left mounted under `dir`: swarm's libnetwork bind-mounts the engine's
 * network namespace at <exec-root>/netns/default and never unmounts it, which would keep the dir from being
 * removed and pile up one mount per run.
 */
export function unmountUnder(dir: string): void {
    const prefix = path.resolve(dir) + "/";
    const mountPoints = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
        // Field 5 is the mount point, with spaces and the like octal-escaped.
        .map((line) => line.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
        .filter((point): point is string => point !== undefined && point.startsWith(prefix))
        // Deepest first: a mount inside another must go before it.
        .sort((a, b) => b.length - a.length);
    for (const point of new Set(mountPoints)) {
        execFileSync("umount", [point]);
    }
}
