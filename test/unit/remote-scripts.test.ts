// The host scripts as built, run by a real sh where they can be without docker: quoting, the stdin bundle,
// the preflight's report, and that nothing unvalidated gets into a script.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as fc from "fast-check";
import { AppLocation, appDir, composeProject, swarmStack } from "../../components/remote/layout";
import { buildDeployPhase, commitFunctions } from "../../components/remote/deploy-phase";
import { buildObserveBatchScript } from "../../components/remote/observe-batch";
import {
    DeploySpec, buildDeployScript, buildObserveScript, buildReadRecordsScript,
    buildRemoveScript, bundleParts, encodeBundle, preflight, receiveBundle, runDetached, splitRecords,
} from "../../components/remote/scripts";
import { shellQuote } from "../../components/remote/shell";
import { composeTarget } from "../../components/remote/targets/compose";
import { swarmDownFunction } from "../../components/remote/targets/swarm";

const digest = "sha256:" + "e".repeat(64);
const location: AppLocation = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt" };
const spec: DeploySpec = {
    ...location, registry: "127.0.0.1:5000", repository: "rednaw/hello-world", digest, services: ["web"], healthTimeoutSeconds: 120,
    target: "compose", owner: "test-stack-of-dev",
};

const parses = (script: string) => spawnSync("sh", ["-n"], { input: script }).status === 0;

/** A fresh dir for a PATH that holds only `tools` (links to this machine's), for a script to find nothing else. */
function pathWith(tools: string[]): string {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "iac-path-"));
    for (const tool of tools) {
        fs.symlinkSync(execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), path.join(bin, tool));
    }
    return bin;
}

interface StandInRun {
    status: number | null;
    stderr: string;
    /** The stand-in docker's calls, one line of arguments each. */
    calls: string[];
}

/**
 * `body` with a docker on a PATH of only `tools` that logs each call's arguments to $CALLS, then runs `behaviour`
 * (sh lines seeing the call as "$@"); `run` runs a script by sh under it with `env` added.
 */
function withStandInDocker(tools: string[], behaviour: string[], body: (run: (script: string, env: Record<string, string>) => StandInRun) => void): void {
    const bin = pathWith(tools);
    try {
        fs.writeFileSync(path.join(bin, "docker"), ["#!/bin/sh", "echo \"$*\" >> \"$CALLS\"", ...behaviour, ""].join("\n"), { mode: 0o755 });
        let runs = 0;
        body((script, env) => {
            const calls = path.join(bin, `calls-${runs++}`);
            fs.writeFileSync(calls, "");
            const run = spawnSync("/bin/sh", ["-c", script], { env: { ...env, PATH: bin, CALLS: calls }, encoding: "utf8" });
            return { status: run.status, stderr: run.stderr, calls: fs.readFileSync(calls, "utf8").trim().split("\n") };
        });
    } finally {
        fs.rmSync(bin, { recursive: true, force: true });
    }
}

describe("host scripts", () => {
    it("quotes any string so that sh reads back exactly that string", () => {
        fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")), (value) => {
            assert.strictEqual(execFileSync("sh", ["-c", `printf %s ${shellQuote(value)}`], { encoding: "utf8" }), value);
        }), { numRuns: 200 });
    });

    it("builds scripts sh can parse", () => {
        const swarm: DeploySpec = { ...spec, target: "swarm" };
        for (const text of [buildDeployScript(spec), buildDeployScript({ ...spec, registryUsername: "deployer" }), buildDeployPhase(spec),
            buildDeployScript(swarm), buildDeployPhase(swarm), buildDeployPhase({ ...swarm, registryUsername: "deployer" }),
            buildObserveScript(location, "compose"), buildObserveScript(location, "swarm"), buildObserveBatchScript([{ location, target: "compose" }, { location, target: "proxied" }, { location, target: "swarm" }],
                "#=== 0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d").script, buildObserveBatchScript([{ location, target: "compose" }], "#=== 0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
                { compose_containers: "", compose_images: "" }).script, buildRemoveScript(location, spec.owner), buildRemoveScript(location, undefined), buildReadRecordsScript(location)]) {
            assert.ok(parses(text), text);
        }
    });

    it("carries every bundle part through sh byte for byte, whatever it holds", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-bundle-"));
        try {
            const receiving = [`job=${shellQuote(dir)}`, ...receiveBundle(spec)].join("\n");
            fc.assert(fc.property(fc.record(Object.fromEntries(bundleParts.map((part) => [part, fc.string({ unit: "binary", maxLength: 300 })]))),
                (bundle) => {
                    execFileSync("sh", ["-c", `set -eu\nsay() { :; }\n${receiving}`], { input: encodeBundle(bundle as never) });
                    for (const part of bundleParts.slice(1)) {
                        assert.strictEqual(fs.readFileSync(path.join(dir, part), "utf8"), (bundle as Record<string, string>)[part]);
                    }
                }), { numRuns: 50 });
            const big = "x$(id)`id`'\"__IAC__\0\x1b[2J".repeat(12_000);
            execFileSync("sh", ["-c", `set -eu\nsay() { :; }\n${receiving}`],
                { input: encodeBundle({ password: "", phase: "", compose: "", env: "", recordHead: big, recordTail: "" }) });
            assert.strictEqual(fs.readFileSync(path.join(dir, "recordHead"), "utf8"), big);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("runs the phase detached and reports all it said and its status, every time", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-phase-"));
        try {
            fs.writeFileSync(path.join(dir, "phase"), "echo 'the deploy said this' >&2\nexit 3\n");
            for (let i = 0; i < 20; i++) {
                const run = spawnSync("sh", ["-c", ["set -eu", `job=${shellQuote(dir)}`, ...runDetached(), "echo not reached"].join("\n")],
                    { encoding: "utf8" });
                assert.strictEqual(run.status, 3);
                assert.strictEqual(run.stderr, "the deploy said this\n");
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("names everything the host lacks in one message", () => {
        const bin = pathWith(["id", "base64", "mktemp"]);
        try {
            const run = spawnSync("/bin/sh", ["-c", `set -eu\n${preflight("hello-world@dev's host", "compose").join("\n")}`],
                { env: { PATH: bin }, encoding: "utf8" });
            assert.strictEqual(run.status, 1);
            for (const tool of ["docker", "flock", "timeout", "setsid", "tail", "sync"]) {
                assert.match(run.stderr, new RegExp(`- the ${tool} command`));
            }
            assert.match(run.stderr, /hello-world@dev's host lacks what a deploy needs \(nothing was changed\)/);
            assert.doesNotMatch(run.stderr, /base64|mktemp/);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
        }
    });

    it("asks a swarm target's host to be a Swarm manager, and not for docker compose", () => {
        const bin = pathWith(["id", "base64", "mktemp", "flock", "timeout", "setsid", "tail", "sync", "cat"]);
        try {
            // A docker that answers (but not about the engine when NO_ENGINE is set), runs no compose plugin, and is in
            // no swarm.
            fs.writeFileSync(path.join(bin, "docker"),
                "#!/bin/sh\ncase \"$1 $2\" in 'info --format') echo false ;; 'compose version') exit 1 ;; 'version ') [ -z \"${NO_ENGINE:-}\" ] ;; esac\n",
                { mode: 0o755 });
            const run = (target: "compose" | "swarm", env: Record<string, string> = {}) => spawnSync("/bin/sh",
                ["-c", `set -eu\n${preflight("hello-world@dev's host", target).join("\n")}`], { env: { PATH: bin, ...env }, encoding: "utf8" });
            const swarm = run("swarm");
            assert.strictEqual(swarm.status, 1);
            assert.match(swarm.stderr, /- a Swarm manager \(iac:target is swarm\): run docker swarm init on this host, or point iac:sshHost at a manager/);
            assert.doesNotMatch(swarm.stderr, /compose/);
            const compose = run("compose");
            assert.strictEqual(compose.status, 1);
            assert.match(compose.stderr, /docker compose v2/);
            assert.doesNotMatch(compose.stderr, /Swarm|Docker engine/);
            const noEngine = run("compose", { NO_ENGINE: "1" });
            assert.strictEqual(noEngine.status, 1);
            assert.match(noEngine.stderr, /- access to the Docker engine for .* \(add the user to the docker group, or start dockerd\)\n {2}- docker compose v2/);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
        }
    });

    it("takes a stack down only where a swarm is: a host that left its swarm loses only the tasks' containers", () => {
        // In the node state $STATE, with one container left of the stack.
        withStandInDocker(["date", "sleep", "cat"], [
            "case \"$1\" in info) echo \"$STATE\" ;; ps) [ -f \"$CALLS.removed\" ] || echo c0ffee ;; rm|stack) : > \"$CALLS.removed\" ;; esac",
        ], (run) => {
            const down = (state: string): string[] => {
                const result = run(`set -eu\nsay() { echo "$*" >&2; }\n${swarmDownFunction(location, 5).join("\n")}\nswarm_down`, { STATE: state });
                assert.strictEqual(result.status, 0, result.stderr);
                return result.calls;
            };
            const stack = swarmStack(location);
            const inactive = down("inactive");
            assert.ok(inactive.includes("rm -f c0ffee"), inactive.join("; "));
            assert.ok(!inactive.some((call) => call.startsWith("stack")), inactive.join("; "));
            const active = down("active");
            assert.ok(active.includes(`stack rm ${stack}`), active.join("; "));
            assert.ok(!active.some((call) => call.startsWith("rm")), active.join("; "));
        });
    });

    it("removes a compose app by its project's labels, containers then networks, without starting the compose plugin", () => {
        // One container and one network of the project; $FAIL names a call that fails.
        withStandInDocker([], [
            "[ \"$1\" != \"$FAIL\" ] || exit 1",
            "case \"$1 $2\" in ps*) echo c0ffee ;; 'network ls') echo n3twork ;; esac",
        ], (run) => {
            const remove = (fail: string) => {
                const { status, calls } = run(`set -eu\n${composeTarget.remove(location).join("\n")}\necho removed`, { FAIL: fail });
                return { status, calls };
            };
            const label = `label=com.docker.compose.project=${composeProject(location)}`;
            assert.deepStrictEqual(remove("none"), { status: 0, calls: [
                `ps -aq --filter ${label}`, "stop c0ffee", "rm -f c0ffee", `network ls -q --filter ${label}`, "network rm n3twork",
            ] });
            const stopFails = remove("stop");
            assert.strictEqual(stopFails.status, 1);
            assert.deepStrictEqual(stopFails.calls, [`ps -aq --filter ${label}`, "stop c0ffee"], "nothing more once docker failed");
        });
    });

    it("keeps labels and the environment out of the script text", () => {
        const text = buildDeployScript(spec) + buildDeployPhase(spec);
        assert.ok(!text.includes("password"), "the password is a bundle part, never in the script");
        assert.ok(text.includes(composeProject(location)), "compose runs under the dir's own project name");
    });

    it("rejects anything that is not a validated value before building a script", () => {
        const bad: Partial<DeploySpec>[] = [
            { app: "hello;world" }, { workspace: "dev$(id)" }, { org: "Rednaw" }, { deployRoot: "/opt/../etc" },
            { deployRoot: "opt" }, { deployRoot: "/opt; rm -rf /" }, { registry: "127.0.0.1:5000;id" },
            { repository: "rednaw/hello world" }, { digest: "sha256:abc" }, { services: ["web`id`"] }, { owner: "x'; id; '" }, { owner: "" },
        ];
        for (const change of bad) {
            assert.throws(() => buildDeployPhase({ ...spec, ...change }), `should reject ${JSON.stringify(change)}`);
            if (!change.services) {
                assert.throws(() => buildDeployScript({ ...spec, ...change }), `should reject ${JSON.stringify(change)}`);
            }
        }
    });

    it("derives a project name per deploy dir", () => {
        const names = new Set([location, { ...location, org: "acme" }, { ...location, deployRoot: "/srv" }, { ...location, app: "other" }]
            .map(composeProject));
        assert.strictEqual(names.size, 4);
        assert.match(composeProject(location), /^hello-world-rednaw-[0-9a-f]{8}$/);
        assert.strictEqual(composeProject({ ...location, workspace: "prod" }), composeProject(location), "the dir, not the stack, names it");
        for (const spelling of ["/opt/", "/opt/.", "/./opt/", "/opt/./"]) {
            assert.strictEqual(composeProject({ ...location, deployRoot: spelling }), composeProject(location), `${spelling} is /opt`);
            assert.strictEqual(appDir({ ...location, deployRoot: spelling }), "/opt/rednaw/hello-world");
        }
        assert.strictEqual(appDir({ ...location, deployRoot: "/" }), "/rednaw/hello-world");
    });

    it("finishes a commit cut short, from any point, and leaves the record last", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-commit-"));
        try {
            const release = path.join(dir, "staged", "job.AbCd1234");
            fs.mkdirSync(release, { recursive: true });
            const names = ["compose.yml", "app.env", "deploy-target", ".owner", "deploy-history.yml", "deploy-info.yml"];
            names.forEach((name) => fs.writeFileSync(path.join(release, name), `new ${name}\n`));
            for (let done = 0; done <= names.length; done++) {
                // The dir as a phase killed after linking `done` of the files left it.
                for (const [i, name] of names.entries()) {
                    fs.rmSync(path.join(dir, name), { force: true });
                    if (i < done) {
                        fs.linkSync(path.join(release, name), path.join(dir, name));
                    } else {
                        fs.writeFileSync(path.join(dir, name), `old ${name}\n`);
                    }
                }
                fs.writeFileSync(path.join(dir, ".commit"), "staged/job.AbCd1234\n");
                fs.writeFileSync(path.join(dir, "compose.previous.yml"), "from before commits\n");
                const run = spawnSync("sh", ["-c", ["set -eu", "app_dir=.", "say() { echo \"$*\" >&2; }", ...commitFunctions()].join("\n")],
                    { cwd: dir, encoding: "utf8" });
                assert.strictEqual(run.status, 0, run.stderr);
                assert.match(run.stderr, /finishing the record of an earlier deploy that was cut short/);
                for (const name of names) {
                    assert.strictEqual(fs.readFileSync(path.join(dir, name), "utf8"), `new ${name}\n`);
                }
                assert.ok(!fs.existsSync(path.join(dir, ".commit")) && !fs.existsSync(path.join(dir, "compose.previous.yml")));
            }
            const order = commitFunctions().find((line) => line.includes("for file in"))!;
            assert.ok(order.trim().endsWith("deploy-info.yml; do"), `the record is linked last: ${order}`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("splits the records script's output", () => {
        assert.deepStrictEqual(splitRecords("app: a\n#--- deploy-history.yml ---\n---\napp: b\n"), { deployInfo: "app: a\n", history: "---\napp: b\n" });
        assert.deepStrictEqual(splitRecords("#--- deploy-history.yml ---\n"), { deployInfo: "", history: "" });
        assert.strictEqual(appDir({ ...location, deployRoot: "/tmp/x/opt/" }), "/tmp/x/opt/rednaw/hello-world");
    });
});
