// A registry on 127.0.0.1 for tests and the demo: Docker Registry v3 (the user's registry, built by
// scripts/install-tools) or Debian's distribution 2.8, with its own storage, delete enabled, optional
// htpasswd auth and an access log we can count requests from.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireExecutable, startProcess } from "./process";

export type RegistryFlavour = "v3" | "v2.8";

export const registryFlavours: RegistryFlavour[] = ["v3", "v2.8"];

const projectRoot = path.resolve(__dirname, "..");

export function registryBinary(flavour: RegistryFlavour): string {
    return flavour === "v3"
        ? requireExecutable(path.join(projectRoot, ".tools", "bin", "registry"), "run scripts/install-tools (builds Registry v3)")
        : requireExecutable("/usr/bin/docker-registry", "run scripts/install-tools (installs Debian's docker-registry)");
}

export interface RegistryServerOptions {
    flavour: RegistryFlavour;
    /** 0 or absent: an ephemeral port. */
    port?: number;
    htpasswd?: { username: string; password: string };
    /** Where storage, config and log live; a new temp dir when absent (removed on stop). */
    dir?: string;
    /** Outlive this process (the demo). */
    keepRunning?: boolean;
}

export interface RegistryServer {
    flavour: RegistryFlavour;
    /** 127.0.0.1:PORT, as a registry is named in references. */
    address: string;
    port: number;
    dir: string;
    logFile: string;
    pid: number;
    /** How many /v2/ requests the registry has answered so far, from its access log. */
    requestCount(): number;
    stop(): Promise<void>;
}

export async function startRegistry(options: RegistryServerOptions): Promise<RegistryServer> {
    const binary = registryBinary(options.flavour);
    const ownDir = options.dir === undefined;
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `iac-registry-${options.flavour}-`));
    fs.mkdirSync(path.join(dir, "storage"), { recursive: true });
    const logFile = path.join(dir, "registry.log");
    const configFile = path.join(dir, "config.yml");

    let auth = "";
    if (options.htpasswd) {
        const htpasswdFile = path.join(dir, "htpasswd");
        const line = execFileSync(requireExecutable("/usr/bin/htpasswd", "run scripts/install-tools (installs apache2-utils)"),
            ["-Bbn", options.htpasswd.username, options.htpasswd.password], { encoding: "utf8" });
        fs.writeFileSync(htpasswdFile, line.trim() + "\n", { mode: 0o600 });
        auth = `auth:\n  htpasswd:\n    realm: iac-local\n    path: ${htpasswdFile}\n`;
    }
    fs.writeFileSync(configFile, [
        "version: 0.1",
        "log:",
        "  level: info",
        "  formatter: text",
        "  accesslog:",
        "    disabled: false",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${path.join(dir, "storage")}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${options.port ?? 0}`,
        `  secret: ${crypto.randomBytes(16).toString("hex")}`,
        auth,
    ].join("\n"));

    const started = await startProcess(`registry ${options.flavour}`, binary, ["serve", configFile], {
        logFile, ready: /listening on 127\.0\.0\.1:(\d+)/, timeoutMs: 20_000, keepRunning: options.keepRunning,
    });
    const port = Number(started.ready[1]);
    return {
        flavour: options.flavour,
        address: `127.0.0.1:${port}`,
        port,
        dir,
        logFile,
        pid: started.child.pid!,
        requestCount: () => (fs.readFileSync(logFile, "utf8").match(/"(?:GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\//g) ?? []).length,
        stop: async () => {
            await started.stop();
            if (ownDir) {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
