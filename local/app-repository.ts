// hello-world images built by scripts/build-image from commits of a scratch git repository (so the
// labels come from git as in CI) and pushed to a local registry: for the demo and the tests.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const projectRoot = path.resolve(__dirname, "..");

export interface BuiltImage {
    tag: string;
    digest: string;
    description: string;
}

export class AppRepository {
    readonly dir: string;

    /**
     * `dir`: where the scratch repository goes (a new temp dir when absent); `dockerConfig`: the docker client
     * config to push with (a registry that needs a login).
     */
    constructor(private readonly dockerHost: string, dir?: string, private readonly dockerConfig?: string) {
        this.dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "iac-app-"));
        fs.cpSync(path.join(projectRoot, "apps", "hello-world"), this.dir, { recursive: true });
        this.git("init", "-q");
    }

    private git(...args: string[]): string {
        return execFileSync("git", ["-c", "user.name=CI", "-c", "user.email=ci@example.invalid", ...args],
            { cwd: this.dir, encoding: "utf8" }).trim();
    }

    /** Commits a change with `subject`, then builds and pushes it: one short-SHA tag, labels from git. */
    build(image: string, subject: string, buildArgs: string[] = []): BuiltImage {
        fs.appendFileSync(path.join(this.dir, "www", "index.html"), `<!-- ${subject} -->\n`);
        this.git("add", "-A");
        this.git("commit", "-q", "-m", subject);
        const digest = execFileSync(path.join(projectRoot, "scripts", "build-image"),
            [...buildArgs.flatMap((arg) => ["--build-arg", arg]), image, this.dir],
            {
                encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
                env: {
                    ...process.env, DOCKER_HOST: this.dockerHost, IMAGE_SOURCE: "https://example.invalid/rednaw/hello-world",
                    ...(this.dockerConfig ? { DOCKER_CONFIG: this.dockerConfig } : {}),
                },
            }).trim();
        return { tag: this.git("rev-parse", "--short=7", "HEAD"), digest, description: subject };
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
