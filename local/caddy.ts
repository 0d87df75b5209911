// Caddy for tests and the demo: the binary scripts/install-tools builds (tools/caddy), on 127.0.0.1, with its own
// temp dir for config, data and log, and its admin API on a unix socket in that dir, never on a network address.
// It starts with no app: components/remote/proxy.ts configures it through the admin API, as on a host.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ProxyAdmin } from "../components/remote/proxy";
import { requireExecutable, startProcess } from "./process";

const projectRoot = path.resolve(__dirname, "..");

export function caddyBinary(): string {
    return requireExecutable(path.join(projectRoot, ".tools", "bin", "caddy"), "run scripts/install-tools (builds Caddy from tools/caddy)");
}

export interface CaddyServer {
    /** The admin API's unix socket. */
    adminSocket: string;
    /** How the switch builders reach this Caddy: it runs on the host itself, so it reads the routes' files where they are. */
    admin: ProxyAdmin;
    dir: string;
    logFile: string;
    pid: number;
    stop(): Promise<void>;
}

export async function startCaddy(options: { dir?: string; keepRunning?: boolean } = {}): Promise<CaddyServer> {
    const binary = caddyBinary();
    const ownDir = options.dir === undefined;
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iac-caddy-"));
    // A unix socket path has to fit in 108 bytes: the temp dir is short, a deep work tree might not be.
    const adminSocket = path.join(dir, "admin.sock");
    const configFile = path.join(dir, "caddy.json");
    fs.writeFileSync(configFile, JSON.stringify({
        admin: { listen: `unix/${adminSocket}`, config: { persist: false } },
        logging: { logs: { default: { level: "INFO" } } },
        storage: { module: "file_system", root: path.join(dir, "data") },
    }));
    const logFile = path.join(dir, "caddy.log");
    const started = await startProcess("caddy", binary, ["run", "--config", configFile], {
        logFile, ready: /"msg":"serving initial configuration"/, timeoutMs: 20_000, keepRunning: options.keepRunning,
        // Caddy keeps its autosave and certificates under these; none of it belongs in this user's home.
        env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, "config"), XDG_DATA_HOME: path.join(dir, "data") },
    });
    const upstreams = path.join(dir, "upstreams");
    return {
        adminSocket,
        admin: { socket: adminSocket, upstreams: { onHost: upstreams, inProxy: upstreams } },
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
