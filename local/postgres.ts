// A PostgreSQL state store on loopback for the Pulumi CLI's postgres backend (a team's shared stack state):
// Debian's postgresql binaries, a data dir made by initdb in a temp dir, 127.0.0.1 on an ephemeral port, its
// unix socket inside that dir, and a password (scram-sha-256) so operators connect as they would to a real store.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireExecutable, startProcess } from "./process";
import { freePort } from "./sshd";

/** Debian installs the server's binaries per major version, outside PATH. */
function postgresBin(name: string): string {
    const root = "/usr/lib/postgresql";
    const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    return requireExecutable(path.join(root, versions[0] ?? "missing", "bin", name),
        "run scripts/install-tools (installs Debian's postgresql)");
}

/** postgres refuses to run as root: under root the server runs as Debian's `postgres` system user. */
function serverUser(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) {
        return undefined;
    }
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    return { uid: id("-u"), gid: id("-g") };
}

/** The server's user (postgres, under root) cannot reach the dir its files are to live in. */
export class PostgresDirUnreachableError extends Error {
    constructor(dir: string) {
        super(`PostgreSQL runs as the postgres user, who cannot reach ${dir} (a directory on its way is closed to ` +
            "other users): keep its files in a directory every user can enter, such as a new one under /tmp");
        this.name = "PostgresDirUnreachableError";
    }
}

/** Whether `user` can enter and write `dir`: every directory on its way open to them, as initdb needs. */
function reachable(dir: string, user: { uid: number; gid: number }): boolean {
    return spawnSync("test", ["-w", dir, "-a", "-x", dir], { uid: user.uid, gid: user.gid }).status === 0;
}

export interface PostgresServer {
    host: string;
    port: number;
    user: string;
    /** The store's password: operators pass it as PGPASSWORD (or in ~/.pgpass), never in the URL. */
    password: string;
    database: string;
    /** What `pulumi login` takes; loopback only, so TLS is off. */
    backendUrl: string;
    dir: string;
    logFile: string;
    pid: number;
    stop(): Promise<void>;
}

export async function startPostgres(options: { port?: number; dir?: string; keepRunning?: boolean } = {}): Promise<PostgresServer> {
    const ownDir = options.dir === undefined;
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iac-postgres-"));
    fs.mkdirSync(dir, { recursive: true });
    const user = "iac";
    const database = "pulumi";
    const dataDir = path.join(dir, "data");
    const passwordFile = path.join(dir, "password");
    const logFile = path.join(dir, "postgres.log");
    const runAs = serverUser();
    const chown = (file: string) => runAs && fs.chownSync(file, runAs.uid, runAs.gid);
    // A restart (same dir) keeps the data and the password; only a new dir is initialised.
    const fresh = !fs.existsSync(dataDir);
    if (runAs) {
        chown(dir);
        if (!reachable(dir, runAs)) {
            throw new PostgresDirUnreachableError(dir);
        }
    }
    if (fresh) {
        fs.writeFileSync(passwordFile, `${require("crypto").randomBytes(18).toString("base64url")}\n`, { mode: 0o600 });
        chown(passwordFile);
        execFileSync(postgresBin("initdb"), [
            "-D", dataDir, "-U", user, "--pwfile", passwordFile, "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-sync",
        ], { stdio: ["ignore", "ignore", "pipe"], uid: runAs?.uid, gid: runAs?.gid });
    }
    fs.closeSync(fs.openSync(logFile, "a"));
    chown(logFile);
    const password = fs.readFileSync(passwordFile, "utf8").trim();
    const port = options.port ?? await freePort();
    const started = await startProcess("postgres", postgresBin("postgres"), [
        "-D", dataDir, "-h", "127.0.0.1", "-p", String(port), "-k", dir,
    ], {
        logFile, ready: /database system is ready to accept connections/, timeoutMs: 30_000,
        keepRunning: options.keepRunning, user: runAs,
    });
    const env = { ...process.env, PGPASSWORD: password };
    if (fresh) {
        execFileSync(postgresBin("createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", user, database], { env, stdio: ["ignore", "ignore", "pipe"] });
    }
    return {
        host: "127.0.0.1", port, user, password, database,
        backendUrl: `postgres://${user}@127.0.0.1:${port}/${database}?sslmode=disable`,
        dir, logFile, pid: started.child.pid!,
        stop: async () => {
            await started.stop();
            if (ownDir) {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}
