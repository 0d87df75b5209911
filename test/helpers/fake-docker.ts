// A docker that answers from files, for host scripts run by a local sh: `ps`, `inspect` and `image inspect` from
// the containers and images given; a swarm's `service ls|inspect|ps` and `inspect --type task` from services and
// tasks, or as a host in no swarm when none are given. Each call is logged, and `ps` can be made slow.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export interface DockerAnswers {
    containers: string;
    images: string;
    swarm?: { services: string; tasks: string };
    /** Seconds `docker ps` takes. */
    psSeconds?: number;
}

export class FakeDocker {
    constructor(readonly root: string) {}

    /** Sets what docker answers from now on, and forgets the calls so far. */
    answer({ containers, images, swarm, psSeconds }: DockerAnswers): void {
        const file = (name: string) => path.join(this.root, name);
        fs.writeFileSync(file("containers"), containers);
        fs.writeFileSync(file("images"), images);
        fs.rmSync(file("services"), { force: true });
        if (swarm) {
            fs.writeFileSync(file("services"), swarm.services);
            fs.writeFileSync(file("tasks"), swarm.tasks);
        }
        fs.writeFileSync(file("docker"), [
            "#!/bin/sh",
            `echo "$1 $2" >> '${file("calls")}'`,
            `case "$1 $2" in`,
            `  service*) [ -f '${file("services")}' ] || { echo 'Error response from daemon: This node is not a swarm manager.' >&2; exit 1; } ;;`,
            "esac",
            `case "$1 $2" in`,
            `  "service ls") cut -d ' ' -f 1 '${file("services")}' ;;`,
            `  "service ps") cut -d ' ' -f 1 '${file("tasks")}' ;;`,
            `  "service inspect") cat '${file("services")}' ;;`,
            `  "inspect --type") cut -d ' ' -f 2- '${file("tasks")}' ;;`,
            `  "ps -aq") sleep ${psSeconds ?? 0}; sed 's/ .*//' '${file("containers")}' | tr -d '"' ;;`,
            `  inspect*) cat '${file("containers")}' ;;`,
            `  image*) cat '${file("images")}' ;;`,
            "esac",
        ].join("\n") + "\n", { mode: 0o755 });
        fs.rmSync(file("calls"), { force: true });
    }

    private get env(): NodeJS.ProcessEnv {
        return { ...process.env, PATH: `${this.root}:${process.env.PATH}` };
    }

    /** `script` run by sh, with this docker first on the PATH and `stdin` on its stdin. */
    runSync(script: string, stdin = "") {
        return spawnSync("sh", ["-c", script], { encoding: "utf8", env: this.env, input: stdin });
    }

    /** The same, side by side with others: rejects as runRemote does when the script fails. */
    run(script: string, stdin = ""): Promise<{ stdout: string; stderr: string }> {
        return new Promise((resolve, reject) => {
            const child = spawn("sh", ["-c", script], { env: this.env });
            child.stdin.end(stdin);
            let [stdout, stderr] = ["", ""];
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
            child.on("close", (code) => code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`sh exited with ${code}: ${stderr}`)));
        });
    }

    /** The docker commands run since the last answer(), as `verb flag`. */
    calls(): string[] {
        const file = path.join(this.root, "calls");
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    }
}
