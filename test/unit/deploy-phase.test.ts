// Each step of the deploy phase on its own, run by a real sh in a scratch app dir with stand-in target functions:
// what it does to the files, what it says and how it ends. The whole phase over a real host is the integration
// tests' (remote-deploy, swarm-deploy, running-check) and the fault harness's.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    applyDeploy, armRestore, beginSwitch, buildDeployPhase, commitFunctions, decideDeploy, leavePreviousTarget, markStarted,
    phaseStart, pinRelease, pruneJobs, recallRecorded, reportDeadDeploys, skipWhenCurrent, stageRecord, stageRelease, startRelease,
    targetFunctions,
} from "../../components/remote/deploy-phase";
import { acquireLock, enterAppDir, refuseOtherOwner, DeploySpec } from "../../components/remote/scripts";
import { shellQuote } from "../../components/remote/shell";
import { defaultTarget, deployTargets } from "../../components/remote/targets/registry";
import { TargetSpec } from "../../components/remote/targets/target";

const digest = "sha256:" + "e".repeat(64);
const previousDigest = "sha256:" + "d".repeat(64);
const spec: DeploySpec = {
    app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: "/opt", registry: "127.0.0.1:5000", repository: "rednaw/hello-world",
    digest, services: ["web"], healthTimeoutSeconds: 120, target: defaultTarget.name, owner: "test-stack-of-dev",
};
const targetSpec: TargetSpec = { ...spec, withRegistryAuth: false };
const image = `${spec.registry}/${spec.repository}`;

interface Dir {
    app: string;
    job: string;
    calls: string;
}

/** A scratch app dir with a job dir under staged/ holding a staged release, and a file the stand-in functions log to. */
function scratch(): Dir {
    const app = fs.mkdtempSync(path.join(os.tmpdir(), "iac-phase-step-"));
    const job = path.join(app, "staged", "job.Test1234");
    fs.mkdirSync(job, { recursive: true });
    fs.writeFileSync(path.join(job, "compose"), `services:\n  web:\n    image: ${image}@${digest}\n`);
    fs.writeFileSync(path.join(job, "env"), "PORT='8080'\n");
    fs.writeFileSync(path.join(job, "recordHead"), `app: hello-world\nworkspace: dev\nimage: ${image}\ndigest: ${digest}`);
    fs.writeFileSync(path.join(job, "recordTail"), "deployed_by: \"wander@casa\"\n");
    return { app, job, calls: path.join(app, "calls") };
}

/**
 * Stand-in target functions for targets `a` and `b` that log their calls; `<target>_<verb>` fails when the
 * variable FAIL_<TARGET>_<VERB> is set.
 */
const standInFunctions = ["a", "b"].flatMap((target) => ["up", "running", "down"].map((verb) =>
    `${target}_${verb}() { echo "${target}_${verb}" "$@" >> "$CALLS"; [ -z "\${FAIL_${target.toUpperCase()}_${verb.toUpperCase()}:-}" ]; }`));

/** Runs the phase's variables and functions as `vars` sets them, then `steps`, then says it got to the end. */
function run(dir: Dir, steps: string[], vars: Record<string, string> = {}, env: Record<string, string> = {}) {
    const text = [
        "set -eu",
        // As the session passes it: relative to the app dir.
        `job=${shellQuote(path.relative(dir.app, dir.job))}`,
        "app_dir=$PWD",
        "say() { printf '%s\\n' \"$*\" >&2; }",
        ...standInFunctions,
        ...Object.entries(vars).map(([name, value]) => `${name}=${shellQuote(value)}`),
        ...steps,
        "echo reached the end",
    ].join("\n");
    const result = spawnSync("sh", ["-c", text], { cwd: dir.app, encoding: "utf8", env: { ...process.env, CALLS: dir.calls, ...env } });
    const calls = fs.existsSync(dir.calls) ? fs.readFileSync(dir.calls, "utf8").trim().split("\n") : [];
    return { status: result.status, stderr: result.stderr, ended: result.stdout.includes("reached the end"), calls };
}

/** What fail needs, without a restore: the steps that use it are tested apart from it. */
const failing = ["fail() { say \"failed: $1\"; exit 1; }"];

const read = (dir: Dir, ...parts: string[]) => fs.readFileSync(path.join(dir.app, ...parts), "utf8");
const recordOf = (dir: Dir, deployedAt: string) =>
    `${read(dir, "staged", "job.Test1234", "recordHead")}\ndeployed_at: "${deployedAt}"\n${read(dir, "staged", "job.Test1234", "recordTail")}`;

describe("the deploy phase's steps", () => {
    let dir: Dir;
    beforeEach(() => {
        dir = scratch();
    });
    afterEach(() => fs.rmSync(dir.app, { recursive: true, force: true }));

    it("phaseStart takes the job dir and spill file as arguments, and says into the spill file what stderr cannot take", () => {
        const spill = path.join(dir.app, "spill");
        const text = [...phaseStart("hello-world@dev"), "say first", "exec 2>&-", "say second", "echo \"$job\""].join("\n");
        const result = spawnSync("sh", ["-c", text, "phase", dir.job, spill], { encoding: "utf8" });
        assert.strictEqual(result.status, 0);
        assert.strictEqual(result.stdout, `${dir.job}\n`);
        assert.strictEqual(result.stderr, "hello-world@dev: first\n");
        assert.strictEqual(fs.readFileSync(spill, "utf8"), "hello-world@dev: second\n");
    });

    it("markStarted marks the job started and leaves its exit status behind", () => {
        const result = run(dir, [...markStarted(), "exit 7"]);
        assert.strictEqual(result.status, 7);
        assert.ok(fs.existsSync(path.join(dir.job, "started")));
        assert.strictEqual(fs.readFileSync(path.join(dir.job, "status"), "utf8"), "7\n");
    });

    it("pinRelease sets the reference by digest, the image without it and the target, validating each", () => {
        const result = run(dir, [...pinRelease(spec), "printf '%s\\n' \"$ref\" \"$pinned_image\" \"$target\" > out"]);
        assert.ok(result.ended, result.stderr);
        assert.deepStrictEqual(read(dir, "out").trim().split("\n"), [`${image}@${digest}`, image, spec.target]);
        assert.throws(() => pinRelease({ ...spec, digest: "sha256:abc" }), /digest/);
        assert.throws(() => pinRelease({ ...spec, target: "kubernetes" }), /invalid deploy target "kubernetes"/);
    });

    it("stageRelease links the release under the dir's names, marks it with the stack's id, and reads the dir's last target", () => {
        const fresh = run(dir, [...stageRelease(spec), "echo \"$previous_target\" > out"]);
        assert.ok(fresh.ended, fresh.stderr);
        assert.strictEqual(read(dir, "out"), `${defaultTarget.name}\n`, "a dir without deploy-target was the default target's");
        assert.strictEqual(fs.statSync(path.join(dir.job, "compose.yml")).ino, fs.statSync(path.join(dir.job, "compose")).ino);
        assert.strictEqual(fs.statSync(path.join(dir.job, "app.env")).ino, fs.statSync(path.join(dir.job, "env")).ino);
        assert.match(fs.readFileSync(path.join(dir.job, ".owner"), "utf8"), new RegExp(`^id: ${spec.owner}\nworkspace: ${spec.workspace}\n$`));
        fs.rmSync(path.join(dir.job, "compose.yml"));
        fs.rmSync(path.join(dir.job, "app.env"));
        fs.writeFileSync(path.join(dir.app, "deploy-target"), "b\n");
        assert.ok(run(dir, [...stageRelease(spec), "echo \"$previous_target\" > out"]).ended);
        assert.strictEqual(read(dir, "out"), "b\n");
        fs.rmSync(path.join(dir.job, "compose"));
        const broken = run(dir, stageRelease(spec));
        assert.strictEqual(broken.status, 1);
        assert.match(broken.stderr, /could not stage the deploy in .*; nothing was changed/);
        assert.throws(() => stageRelease({ ...spec, owner: "x'; id; '" }), /owner id/);
    });

    it("skipWhenCurrent ends the phase only when the same target runs the release exactly as recorded, whoever recorded it", () => {
        const current = () => {
            fs.writeFileSync(path.join(dir.app, "deploy-info.yml"), recordOf(dir, "2020-01-01T00:00:00Z").replace("wander@casa", "someone@else"));
            fs.copyFileSync(path.join(dir.job, "compose"), path.join(dir.app, "compose.yml"));
            fs.copyFileSync(path.join(dir.job, "env"), path.join(dir.app, "app.env"));
            fs.writeFileSync(path.join(dir.job, ".owner"), `id: ${spec.owner}\n`);
        };
        const vars = { previous_target: "a", target: "a", ref: `${image}@${digest}` };
        current();
        const skipped = run(dir, skipWhenCurrent(), vars);
        assert.strictEqual(skipped.status, 0);
        assert.ok(!skipped.ended);
        assert.match(skipped.stderr, /is already running and recorded; nothing to do/);
        assert.deepStrictEqual(skipped.calls, [`a_running ${vars.ref}`]);
        assert.strictEqual(read(dir, ".owner"), `id: ${spec.owner}\n`, "a dir without a mark gets it");
        const differences: [string, () => void, Record<string, string>, Record<string, string>][] = [
            ["another target", () => undefined, { target: "b" }, {}],
            ["another env file", () => fs.writeFileSync(path.join(dir.app, "app.env"), "PORT='9090'\n"), {}, {}],
            ["another record", () => fs.appendFileSync(path.join(dir.app, "deploy-info.yml"), "tag: other\n"), {}, {}],
            ["not running", () => undefined, {}, { FAIL_A_RUNNING: "1" }],
        ];
        for (const [what, change, moreVars, env] of differences) {
            current();
            change();
            const result = run(dir, skipWhenCurrent(), { ...vars, ...moreVars }, env);
            assert.ok(result.ended, `${what}: ${result.stderr}`);
        }
    });

    it("recallRecorded names what deploy-info.yml records as running, quoted or not, and nothing without a record", () => {
        assert.ok(run(dir, [...recallRecorded(), "echo \"[$previous_ref]\" > out"]).ended);
        assert.strictEqual(read(dir, "out"), "[]\n");
        fs.writeFileSync(path.join(dir.app, "deploy-info.yml"), `app: hello-world\nimage: "${image}"\ndigest: '${previousDigest}'\n`);
        assert.ok(run(dir, [...recallRecorded(), "echo \"[$previous_ref]\" > out"]).ended);
        assert.strictEqual(read(dir, "out"), `[${image}@${previousDigest}]\n`);
    });

    describe("armRestore", () => {
        const previousRef = `${image}@${previousDigest}`;
        const vars = { ref: `${image}@${digest}`, pinned_image: image, previous_target: "a", target: "a", previous_ref: previousRef };
        const recorded = (ref: string) => fs.writeFileSync(path.join(dir.app, "compose.yml"), `services:\n  web:\n    image: "${ref}"\n`);

        it("fails before the switch saying nothing was changed, and restores nothing", () => {
            const result = run(dir, [...armRestore(), "fail 'the pull failed'"], vars);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /deploy of .* failed: the pull failed\nnothing was changed/);
            assert.deepStrictEqual(result.calls, []);
        });

        it("after the switch brings the recorded deployment back on the target it ran on, checked to run", () => {
            recorded(previousRef);
            const result = run(dir, [...armRestore(), ...beginSwitch([]), "fail 'unhealthy'"], { ...vars, target: "b" });
            assert.strictEqual(result.status, 1);
            assert.deepStrictEqual(result.calls, ["b_down", `a_up ${previousRef}`, `a_running ${previousRef}`]);
            assert.match(result.stderr, /the previous deployment is running again .*\ndeploy-info.yml left as it was/);
        });

        it("does not bring up a compose file changed by hand to another version, and takes the new one down when nothing is recorded", () => {
            recorded(`${image}@sha256:${"c".repeat(64)}`);
            const byHand = run(dir, [...armRestore(), ...beginSwitch([]), "fail 'unhealthy'"], vars);
            assert.strictEqual(byHand.status, 1);
            assert.match(byHand.stderr, /names .*, not the recorded .*: not bringing it up\nfix the host, then run pulumi up --refresh/);
            assert.deepStrictEqual(byHand.calls, []);
            fs.rmSync(dir.calls, { force: true });
            const first = run(dir, [...armRestore(), ...beginSwitch([]), "fail 'unhealthy'"], { ...vars, previous_ref: "" });
            assert.deepStrictEqual(first.calls, ["a_down"]);
        });

        it("fails on a signal once armed, restoring", () => {
            recorded(previousRef);
            const result = run(dir, [...armRestore(), ...beginSwitch([]), "kill -TERM $$", "sleep 5"], vars);
            assert.strictEqual(result.status, 1);
            assert.match(result.stderr, /failed: interrupted by a signal/);
            assert.deepStrictEqual(result.calls, [`a_up ${previousRef}`, `a_running ${previousRef}`]);
        });
    });

    it("beginSwitch marks the switch begun before the target takes over", () => {
        const result = run(dir, [...beginSwitch(["echo \"$switched\" > out"])]);
        assert.ok(result.ended);
        assert.strictEqual(read(dir, "out"), "1\n");
    });

    it("leavePreviousTarget takes the app down from the target it leaves, and only then", () => {
        fs.writeFileSync(path.join(dir.app, "compose.yml"), "services: {}\n");
        const moving = run(dir, [...failing, ...leavePreviousTarget()], { previous_target: "a", target: "b" });
        assert.ok(moving.ended);
        assert.deepStrictEqual(moving.calls, ["a_down"]);
        assert.match(moving.stderr, /moving from a to b/);
        fs.rmSync(dir.calls, { force: true });
        assert.deepStrictEqual(run(dir, [...failing, ...leavePreviousTarget()], { previous_target: "a", target: "a" }).calls, []);
        const stuck = run(dir, [...failing, ...leavePreviousTarget()], { previous_target: "a", target: "b" }, { FAIL_A_DOWN: "1" });
        assert.strictEqual(stuck.status, 1);
        assert.match(stuck.stderr, /failed: could not stop the a deployment/);
        fs.rmSync(path.join(dir.app, "compose.yml"));
        fs.rmSync(dir.calls, { force: true });
        assert.deepStrictEqual(run(dir, [...failing, ...leavePreviousTarget()], { previous_target: "a", target: "b" }).calls, [],
            "a dir never deployed has nothing to take down");
    });

    it("startRelease brings the release up from the job dir with the target's function, then checks it runs the reference", () => {
        const target = { ...defaultTarget, name: "a" };
        const ref = `${image}@${digest}`;
        const up = run(dir, [...failing, ...startRelease(target, targetSpec)], { target: "a", ref });
        assert.ok(up.ended, up.stderr);
        assert.deepStrictEqual(up.calls, [`a_up ${ref}`, `a_running ${ref}`]);
        assert.ok(up.stderr.startsWith(`starting, ${target.waiting(targetSpec.healthTimeoutSeconds)}`));
        const unhealthy = run(dir, [...failing, ...startRelease(target, targetSpec)], { target: "a", ref }, { FAIL_A_UP: "1" });
        assert.strictEqual(unhealthy.status, 1);
        assert.ok(unhealthy.stderr.includes(`failed: ${target.upFailure(targetSpec)}`), unhealthy.stderr);
        const elsewhere = run(dir, [...failing, ...startRelease(target, targetSpec)], { target: "a", ref }, { FAIL_A_RUNNING: "1" });
        assert.match(elsewhere.stderr, /failed: the running containers are not on /);
    });

    it("stageRecord writes the record with its time, the history with it appended and the target, in the job dir only", () => {
        fs.writeFileSync(path.join(dir.app, "deploy-history.yml"), "---\napp: earlier\n");
        const result = run(dir, [...failing, ...stageRecord()], { target: "b" });
        assert.ok(result.ended, result.stderr);
        const record = fs.readFileSync(path.join(dir.job, "deploy-info.yml"), "utf8");
        const deployedAt = /deployed_at: "([^"]+)"/.exec(record)![1];
        assert.ok(Math.abs(Date.parse(deployedAt) - Date.now()) < 60_000, deployedAt);
        assert.strictEqual(record, recordOf(dir, deployedAt));
        assert.strictEqual(fs.readFileSync(path.join(dir.job, "deploy-history.yml"), "utf8"), `---\napp: earlier\n---\n${record}`);
        assert.strictEqual(fs.readFileSync(path.join(dir.job, "deploy-target"), "utf8"), "b\n");
        assert.ok(!fs.existsSync(path.join(dir.app, "deploy-info.yml")));
        fs.rmSync(path.join(dir.job, "deploy-info.yml"));
        fs.mkdirSync(path.join(dir.job, "deploy-info.yml"));
        assert.match(run(dir, [...failing, ...stageRecord()], { target: "b" }).stderr, /failed: could not write deploy-info.yml/);
    });

    it("decideDeploy names the job in .commit, or fails leaving no .commit", () => {
        assert.ok(run(dir, [...failing, ...decideDeploy()]).ended);
        assert.strictEqual(read(dir, ".commit"), `${path.relative(dir.app, dir.job)}\n`);
        fs.rmSync(path.join(dir.app, ".commit"));
        fs.mkdirSync(path.join(dir.app, ".commit.tmp"));
        const result = run(dir, [...failing, ...decideDeploy()]);
        assert.strictEqual(result.status, 1);
        assert.match(result.stderr, /failed: could not record the deploy/);
        assert.ok(!fs.existsSync(path.join(dir.app, ".commit")));
    });

    it("applyDeploy links the decided release in, and says pulumi up --refresh finishes a failed one", () => {
        const applying = ["apply_commit() { echo apply >> \"$CALLS\"; [ -z \"${FAIL_APPLY:-}\" ]; }", ...applyDeploy()];
        const applied = run(dir, applying, { ref: "r" });
        assert.ok(applied.ended);
        assert.deepStrictEqual(applied.calls, ["apply"]);
        const failed = run(dir, applying, { ref: "r" }, { FAIL_APPLY: "1" });
        assert.strictEqual(failed.status, 1);
        assert.match(failed.stderr, /deployed r, but putting its record in place failed .*pulumi up --refresh finishes it/);
    });

    it("pruneJobs removes jobs over an hour old but this one", () => {
        const old = path.join(dir.app, "staged", "job.Old12345");
        const young = path.join(dir.app, "staged", "job.Young123");
        fs.mkdirSync(old);
        fs.mkdirSync(young);
        const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
        [old, dir.job].forEach((job) => fs.utimesSync(job, twoHoursAgo, twoHoursAgo));
        const result = run(dir, pruneJobs(), { ref: "r" });
        assert.ok(result.ended);
        assert.match(result.stderr, /deployed r/);
        assert.deepStrictEqual([old, young, dir.job].map((job) => fs.existsSync(job)), [false, true, true]);
    });

    it("reportDeadDeploys says once which earlier job died, with its last words", () => {
        const dead = path.join(dir.app, "staged", "job.Dead1234");
        const done = path.join(dir.app, "staged", "job.Done1234");
        for (const job of [dead, done]) {
            fs.mkdirSync(job);
            fs.writeFileSync(path.join(job, "started"), "");
            fs.writeFileSync(path.join(job, "log"), "pulling\nstarting\n");
        }
        fs.writeFileSync(path.join(done, "status"), "0\n");
        fs.writeFileSync(path.join(dir.job, "started"), "");
        const first = run(dir, reportDeadDeploys());
        assert.ok(first.ended);
        assert.strictEqual(first.stderr.split("\n").filter(Boolean).length, 1, first.stderr);
        assert.match(first.stderr, /job\.Dead1234\) never finished.*It last said: starting/);
        assert.strictEqual(fs.readFileSync(path.join(dead, "status"), "utf8"), "died\n");
        assert.strictEqual(run(dir, reportDeadDeploys()).stderr, "");
    });

    it("finishes a commit cut short before anything else of the deploy", () => {
        fs.writeFileSync(path.join(dir.app, ".commit"), `${path.relative(dir.app, dir.job)}\n`);
        for (const name of ["compose.yml", "app.env", "deploy-target", ".owner", "deploy-history.yml", "deploy-info.yml"]) {
            fs.writeFileSync(path.join(dir.job, name), `new ${name}\n`);
        }
        const result = run(dir, commitFunctions());
        assert.ok(result.ended, result.stderr);
        assert.strictEqual(read(dir, "deploy-info.yml"), "new deploy-info.yml\n");
        assert.strictEqual(fs.readFileSync(path.join(dir.job, "status"), "utf8"), "0\n");
    });
});

describe("the deploy phase as a whole", () => {
    it("is its steps in the order of the transaction: lock, stage, skip, arm, switch, start, record, decide, apply", () => {
        for (const target of deployTargets()) {
            const ofTarget: DeploySpec = { ...spec, target: target.name };
            const phase = buildDeployPhase(ofTarget);
            const steps = [
                phaseStart(`${spec.app}@${spec.workspace}`), enterAppDir(spec), acquireLock(spec, 600), markStarted(), refuseOtherOwner(spec, spec.owner),
                pinRelease(ofTarget), targetFunctions(ofTarget), commitFunctions(), reportDeadDeploys(), stageRelease(ofTarget), skipWhenCurrent(),
                recallRecorded(), armRestore(), target.prepare(targetSpec), beginSwitch(target.takeOver(targetSpec)), leavePreviousTarget(),
                startRelease(target, targetSpec), stageRecord(), decideDeploy(), applyDeploy(), pruneJobs(),
            ];
            assert.strictEqual(phase, `${steps.flat().join("\n")}\n`, `${target.name}: the phase is exactly its steps, in this order`);
        }
    });

    it("defines every registered target's functions, so a move between targets can take the app down from the one it leaves", () => {
        const phase = buildDeployPhase(spec);
        for (const target of deployTargets()) {
            for (const verb of ["up", "running", "down"]) {
                assert.ok(phase.includes(`${target.name}_${verb}() {`) || phase.includes(`${target.name}_${verb}() `), `${target.name}_${verb}`);
            }
        }
    });
});
