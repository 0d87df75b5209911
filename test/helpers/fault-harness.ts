// The fault-injection harness: plans of operator steps (deploys, rollbacks, an unhealthy version, config changes,
// changes by hand on the host) with faults at chosen points (kill -9 of the host's detached deploy phase or of the
// `pulumi up` CLI), run under the real engine against a real SSH host, dockerd and registry. After every step,
// and after the recovery docs/faults.md prescribes, it checks the invariant by observation only — the compose
// project's containers, deploy-info.yml on the host, `pulumi stack output deployed` — never by reading how the
// host script works. The one thing it knows of the script is how to find the phase: `setsid sh <job>/phase`
// under <appdir>/staged/job.*/, and that job's `log`.
//
// A plan is drawn whole from a seed before it runs (planFromSeed), so the seed alone reproduces it; named plans
// (namedCases) pin the breaks issue 22 found. Kill points by the job log's content are as reproducible as the
// host's log; kill points by delay depend on this machine's speed, and say so in the step list.
//
// A plan may run the app behind the host's proxy (Plan.proxied): then "what runs" is what the colour the proxy's
// route sends to runs, the other colour must run nothing once a command succeeded, and a client sends a request
// every 20 ms through the proxy's port during each step, the failures noted in the step list.
import { ChildProcess, execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import * as YAML from "yaml";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { ColourPorts, colourPorts, proxyRouteId } from "../../components/remote/proxy";
import { proxyContainerName } from "../../components/remote/proxy-host";
import { BuiltImage } from "../../local/app-repository";
import { freePort } from "../../local/sshd";
import { DeployEnvironment } from "./deploy-environment";
import { HostProxy, servingPort } from "./host-proxy";
import { Prng, prng } from "./prng";
import { CliRun, TestStack, createTestStack } from "./pulumi-stack";
import { startTraffic } from "./traffic";

/** A plan's app behind the host's proxy: the proxy, the port it serves the app on, and the app's colour ports. */
interface ProxiedApp { proxy: HostProxy; port: number; colours: ColourPorts }

// ---------------------------------------------------------------------------------------------------------------
// Plans

/** The two healthy versions; "c" (unhealthy) is only ever deployed by the deployUnhealthy step. */
export type HealthyImage = "a" | "b";
/** "other": the healthy version the config does not name now, so the step changes something. */
export type DeployTarget = HealthyImage | "other";

export type HandChange =
    | "stopContainer" | "removeContainer"
    | "editRecordDigest" | "deleteRecord" | "quoteRecordWorkspace"
    | "composeUpOtherDigest" | "editComposeAndUp"
    | "removeProxy";
const handChanges: readonly HandChange[] = [
    "stopContainer", "removeContainer", "editRecordDigest", "deleteRecord", "quoteRecordWorkspace",
    "composeUpOtherDigest", "editComposeAndUp",
];
/**
 * Behind the proxy: the serving colour's containers stand for the app's, and the proxy container itself may go.
 * A compose up by hand is left out: it would start a third project beside the colours, which no deploy owns.
 */
const proxiedHandChanges: readonly HandChange[] = [
    "stopContainer", "removeContainer", "editRecordDigest", "deleteRecord", "quoteRecordWorkspace", "removeProxy",
];

export type Op =
    | { kind: "deploy"; image: DeployTarget }
    | { kind: "rollback" }
    | { kind: "deployUnhealthy" }
    | { kind: "setHealthTimeout"; seconds: number }
    | { kind: "setEnvironment"; value: string }
    | { kind: "moveDeployRoot" }
    | { kind: "hand"; change: HandChange };

/**
 * When a fault fires. For the phase, a delay counts from the moment the phase process is first seen; for the
 * CLI, from its start. Log kill points watch the job log of the deploy this run started.
 */
export type KillPoint =
    | { after: "delay"; ms: number }
    | { after: "logLines"; lines: number }
    | { after: "logSays"; text: string };

/**
 * killPhase: the phase's own shell only (what it started runs on, orphaned). killPhaseSession: every process of
 * the phase's session (setsid made one), as an OOM kill of the whole group or a reboot would. killCli: `pulumi`
 * itself, then everything of its session (as faults.e2e reaps it).
 */
export type FaultKind = "killPhase" | "killPhaseSession" | "killCli";
export interface Fault { kind: FaultKind; at: KillPoint }

/**
 * How the operator recovers, when a fault fired or a command failed: `pulumi cancel` after a killed CLI, then
 * optionally wait for the host's deploy to settle and/or `pulumi refresh`, then `pulumi up --refresh`, with the
 * config kept or reverted to the last version that deployed.
 */
export interface Recovery { config: "keep" | "revert"; settleFirst: boolean; refreshFirst: boolean }

export interface Step { op: Op; fault?: Fault; recovery: Recovery }

export interface Plan {
    /** "seed 123" or a named case's name. */
    name: string;
    /** How to run this plan again, alone. */
    rerun: string;
    steps: Step[];
    /** Named cases: what the case is about, for its test title and failure. */
    about?: string;
    /** The app serves through the host's proxy (`hello-world:proxy.port`), a client counting its answers. */
    proxied?: boolean;
}

export const testFile = "test/e2e/fault-harness.e2e.test.ts";
export const defaultStepBudget = 6;

/** Operations that run `pulumi up`, and so can carry a fault. */
const upOps = new Set<Op["kind"]>(["deploy", "rollback", "deployUnhealthy", "setHealthTimeout", "setEnvironment", "moveDeployRoot"]);

/** Words the host's job log shows as a deploy goes: compose's own pull and health output, and the phase's. */
const logWords = ["pulling", "starting", "Healthy", "Started"];
/** Behind the proxy, also the route switch and the old colour's stop after its drain. */
const proxiedLogWords = [...logWords, "the proxy sends", "stopping the"];

function drawKillPoint(random: Prng, kind: FaultKind, proxied: boolean): KillPoint {
    return random.weighted<() => KillPoint>([
        [() => ({ after: "logLines", lines: random.int(0, 12) }), 4],
        [() => ({ after: "delay", ms: kind === "killCli" ? random.int(500, 12_000) : random.int(0, 5_000) }), 3],
        [() => ({ after: "logSays", text: random.pick(proxied ? proxiedLogWords : logWords) }), 2],
    ])();
}

function drawFault(random: Prng, proxied: boolean): Fault {
    const kind = random.weighted<FaultKind>([["killPhase", 3], ["killPhaseSession", 2], ["killCli", 3]]);
    return { kind, at: drawKillPoint(random, kind, proxied) };
}

function drawOp(random: Prng, first: boolean, proxied: boolean): Op {
    if (first) {
        return { kind: "deploy", image: random.pick<HealthyImage>(["a", "b"]) };
    }
    return random.weighted<() => Op>([
        [() => ({ kind: "deploy", image: random.weighted<DeployTarget>([["other", 4], ["a", 1], ["b", 1]]) }), 3],
        [() => ({ kind: "rollback" }), 2],
        [() => ({ kind: "deployUnhealthy" }), 2],
        [() => ({ kind: "setHealthTimeout", seconds: random.pick([10, 15, 25]) }), 1],
        [() => ({ kind: "setEnvironment", value: `v${random.int(1, 999)}` }), 1],
        [() => ({ kind: "hand", change: random.pick(proxied ? proxiedHandChanges : handChanges) }), 2],
    ])();
}

/**
 * The whole plan of `seed`, drawn before anything runs: the same seed, budget and `proxied` give the same plan.
 * `proxied`: the app behind the host's proxy.
 */
export function planFromSeed(seed: number, steps = defaultStepBudget, proxied = false): Plan {
    const random = prng(seed);
    const planned: Step[] = [];
    for (let i = 0; i < steps; i++) {
        const op = drawOp(random, i === 0, proxied);
        // Drawn for every step, used or not, so one step's op never shifts the next step's draws.
        const fault = drawFault(random, proxied);
        const faulty = random.chance(0.5);
        const recovery: Recovery = {
            config: random.pick(["keep", "revert"] as const), settleFirst: random.chance(0.5), refreshFirst: random.chance(0.3),
        };
        planned.push({ op, fault: upOps.has(op.kind) && faulty ? fault : undefined, recovery });
    }
    const budget = steps === defaultStepBudget ? "" : ` IAC_FAULT_STEPS=${steps}`;
    return proxied
        ? { name: `seed ${seed} behind the proxy`, rerun: `IAC_FAULT_SEED=${seed}${budget} IAC_FAULT_PROXIED=1 npx mocha ${testFile}`, steps: planned, proxied }
        : { name: `seed ${seed}`, rerun: `IAC_FAULT_SEED=${seed}${budget} npx mocha ${testFile}`, steps: planned };
}

const plain: Recovery = { config: "keep", settleFirst: false, refreshFirst: false };
const reverting: Recovery = { config: "revert", settleFirst: true, refreshFirst: false };

/** The breaks issue 22 found that fall in the harness's reach, each a plan of its own. */
export const namedCases: Plan[] = ([
    {
        name: "phase-killed-while-pulling-then-unhealthy",
        about: "kill -9 of the host deploy phase while it pulls, recovery with the config rolled back, then an unhealthy deploy",
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, fault: { kind: "killPhase", at: { after: "logSays", text: "pulling" } }, recovery: reverting },
            { op: { kind: "deployUnhealthy" }, recovery: plain },
        ],
    },
    {
        name: "phase-killed-past-the-switch",
        about: "kill -9 of the host deploy phase once the new containers are healthy, before the record: the failed up must say what to do",
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, fault: { kind: "killPhase", at: { after: "logSays", text: "Healthy" } }, recovery: plain },
        ],
    },
    {
        name: "phase-session-killed-while-waiting-for-health-then-unhealthy",
        about: "kill -9 of the phase's whole session while it waits for health, recovery as it stands, then an unhealthy deploy",
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, fault: { kind: "killPhaseSession", at: { after: "logSays", text: "waiting" } }, recovery: reverting },
            { op: { kind: "deployUnhealthy" }, recovery: plain },
        ],
    },
    {
        name: "cli-killed-during-the-first-deploy",
        about: "kill -9 of pulumi up during a new stack's first deploy, then cancel and up --refresh as docs/faults.md says",
        steps: [
            { op: { kind: "deploy", image: "b" }, fault: { kind: "killCli", at: { after: "logSays", text: "starting" } }, recovery: plain },
            { op: { kind: "deploy", image: "a" }, recovery: plain },
        ],
    },
    {
        name: "record-workspace-quoted-by-hand",
        about: "deploy-info.yml edited by hand to `workspace: \"dev\"` (the same YAML), then a deploy of another version",
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "hand", change: "quoteRecordWorkspace" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, recovery: plain },
        ],
    },
    {
        name: "deploy-root-moved",
        about: "iac:deployRoot moved to another dir on the same host: a move, never a second copy nor a silent failure",
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "moveDeployRoot" }, recovery: plain },
        ],
    },
    {
        name: "proxied-phase-killed-with-both-colours-up",
        about: "behind the proxy: kill -9 of the host deploy phase once the new colour is healthy, before the switch",
        proxied: true,
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, fault: { kind: "killPhase", at: { after: "logSays", text: "Healthy" } }, recovery: plain },
            { op: { kind: "rollback" }, fault: { kind: "killPhase", at: { after: "logSays", text: "the proxy sends" } }, recovery: reverting },
        ],
    },
    {
        name: "proxied-session-killed-while-the-old-colour-stops",
        about: "behind the proxy: kill -9 of the phase's session as it stops the old colour, then of pulumi up right after a switch",
        proxied: true,
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, fault: { kind: "killPhaseSession", at: { after: "logSays", text: "stopping the" } }, recovery: plain },
            { op: { kind: "deploy", image: "a" }, fault: { kind: "killCli", at: { after: "logSays", text: "the proxy sends" } }, recovery: plain },
        ],
    },
    {
        name: "proxied-proxy-removed-by-hand",
        about: "behind the proxy: its container removed by hand, then a deploy of another version",
        proxied: true,
        steps: [
            { op: { kind: "deploy", image: "a" }, recovery: plain },
            { op: { kind: "hand", change: "removeProxy" }, recovery: plain },
            { op: { kind: "deploy", image: "b" }, recovery: plain },
        ],
    },
] satisfies Omit<Plan, "rerun">[]).map((plan) => ({ ...plan, rerun: `IAC_FAULT_CASE=${plan.name} npx mocha ${testFile}` }));

// ---------------------------------------------------------------------------------------------------------------
// Describing plans, for the step list a failure prints

function describeKillPoint(at: KillPoint, kind: FaultKind): string {
    switch (at.after) {
        case "delay":
            return `${at.ms} ms after ${kind === "killCli" ? "its start" : "the phase starts"} (timing-dependent)`;
        case "logLines":
            return `when the job log has ${at.lines} line(s)`;
        case "logSays":
            return `when the job log says "${at.text}"`;
    }
}

export function describeFault(fault: Fault): string {
    const what = { killPhase: "the host deploy phase", killPhaseSession: "the host deploy phase's whole session", killCli: "the pulumi up CLI" }[fault.kind];
    return `kill -9 ${what} ${describeKillPoint(fault.at, fault.kind)}`;
}

export function describeOp(op: Op): string {
    switch (op.kind) {
        case "deploy":
            return op.image === "other" ? "deploy the other healthy version" : `deploy ${op.image}`;
        case "rollback":
            return "roll back to the version recorded before";
        case "deployUnhealthy":
            return "deploy the unhealthy version c, then set the config back";
        case "setHealthTimeout":
            return `set healthTimeout ${op.seconds}, up`;
        case "setEnvironment":
            return `set environment.GREETING=${op.value}, up`;
        case "moveDeployRoot":
            return "move iac:deployRoot to another dir, up";
        case "hand":
            return `by hand on the host: ${op.change}`;
    }
}

export function describeRecovery(recovery: Recovery): string {
    return [recovery.settleFirst ? "wait for the host to settle" : "", recovery.refreshFirst ? "pulumi refresh" : "",
        `config ${recovery.config === "keep" ? "kept" : "reverted to the last deployed version"}`, "pulumi up --refresh"]
        .filter(Boolean).join(", ");
}

export function describeStep(step: Step): string {
    return describeOp(step.op) + (step.fault ? `; fault: ${describeFault(step.fault)}` : "") +
        ((step.fault || step.op.kind === "hand") ? `; recovery: ${describeRecovery(step.recovery)}` : "");
}

export function describePlan(plan: Plan): string {
    return plan.steps.map((step, i) => `  ${i + 1}. ${describeStep(step)}`).join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Observing the host, the record and the output

interface Observation {
    /**
     * Per running container of the app's compose project, the digest its image was pulled by; behind the proxy,
     * of the colour its route sends to (none when the proxy has no route or does not answer).
     */
    running: string[];
    /** Behind the proxy: what the colour the route does not send to runs. */
    idle?: string[];
    record: Record<string, unknown> | null;
    /** `pulumi stack output deployed` for the app; null when the stack has none. */
    output: unknown;
}

/** What breaks the invariant in `seen`, one phrase each; empty when host, record and output agree. */
function disagreements(seen: Observation): string[] {
    const problems: string[] = [];
    const recorded = seen.record?.digest;
    if (seen.record === null) {
        if (seen.running.length > 0) {
            problems.push(`the host runs ${seen.running.join(", ")} with no deploy-info.yml`);
        }
    } else if (seen.running.length === 0) {
        problems.push(`deploy-info.yml names ${String(recorded)} but nothing of the app runs`);
    } else if (!seen.running.every((digest) => digest === recorded)) {
        problems.push(`the host runs ${seen.running.join(", ")} but deploy-info.yml names ${String(recorded)}`);
    }
    if (seen.idle !== undefined && seen.idle.length > 0) {
        problems.push(`the colour the proxy does not send to runs ${seen.idle.join(", ")}`);
    }
    if (!isDeepStrictEqual(seen.output ?? null, seen.record)) {
        const outputDigest = (seen.output as { digest?: string } | null)?.digest;
        problems.push(outputDigest === (recorded ?? undefined)
            ? "the deployed output differs from deploy-info.yml (same digest, other fields)"
            : `the deployed output names ${outputDigest ?? "nothing"} but deploy-info.yml ${recorded === undefined ? "is absent" : `names ${String(recorded)}`}`);
    }
    return problems;
}

/**
 * The next step a failed command names, if any: an explicit `run …` / `then run …` of a pulumi command, as the
 * tool's messages and Pulumi's own lock message word it.
 */
export function nextStepNamed(output: string): string | undefined {
    return output.match(/\brun\s+[`'"]?(pulumi\s+[a-z]+(?:\s+--?[a-z-]+)*)/i)?.[1];
}

/** Pulumi's Diagnostics section of a command's output (the errors and the host's account), or [] when it has none. */
function diagnostics(output: string): string[] {
    const all = output.split("\n");
    const start = all.findIndex((line) => line.startsWith("Diagnostics:"));
    if (start < 0) {
        return [];
    }
    const end = all.findIndex((line, i) => i > start && /^(Outputs|Resources):/.test(line));
    return all.slice(start, end < 0 ? undefined : end).filter((line) => line.trim() !== "");
}

/**
 * What a command said, for a failure message: the Diagnostics section when there is one, else the last lines that
 * say something; indented, at most `lines` of them.
 */
function excerpt(output: string, lines = 30): string {
    const section = diagnostics(output);
    const chosen = section.length > 0 ? section : output.split("\n").filter((line) => line.trim() !== "");
    const shown = section.length > 0 ? chosen.slice(0, lines) : chosen.slice(-lines);
    return shown.map((line) => `      | ${line}`).join("\n") + (chosen.length > lines ? "\n      | …" : "");
}

/**
 * One line for the step list: the first error of the Diagnostics (not the engine's closing "update failed") and
 * the last thing the host said of the app (a line `<app>@<workspace>: …`, not the preview's `x → y` notice).
 */
function firstError(output: string): string {
    const section = diagnostics(output);
    const at = section.findIndex((line) => /\berror: /.test(line) && !/error: update failed/.test(line));
    const error = at >= 0 ? section[at] : output.split("\n").find((line) => /^\s*error: /.test(line));
    // The host's account follows its error; the engine may print other resources' notices before or after.
    const said = section.slice(Math.max(at, 0)).filter((line) => /^\s*[a-z0-9-]+@[a-z0-9-]+: /.test(line) && !line.includes(" → ") &&
        !/: first deploy of /.test(line)).pop();
    const text = [error?.replace(/^.*?\berror: /, "").trim().replace(/:$/, ""), said?.trim()].filter(Boolean).join(" — ");
    return (text || "(no error line)").slice(0, 400);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding and killing the host's deploy phase (the one thing known of the host script)

function readProc(pid: string, file: string): string | undefined {
    try {
        return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
    } catch {
        return undefined; // gone meanwhile
    }
}

/** Processes running `sh <dir>/staged/job.XXXXXXXX/phase` (a path relative to their cwd, or absolute), with their job dir. */
export function phaseProcesses(dir: string): { pid: number; job: string }[] {
    const found: { pid: number; job: string }[] = [];
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        const argv = readProc(pid, "cmdline")?.split("\0") ?? [];
        if (!/(^|\/)sh$/.test(argv[0] ?? "") || !(argv[1] ?? "").endsWith("/phase")) {
            continue;
        }
        let cwd: string;
        try {
            cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
        } catch {
            continue;
        }
        const phase = path.resolve(cwd, argv[1]);
        if (phase.startsWith(`${dir}/staged/job.`)) {
            found.push({ pid: Number(pid), job: path.dirname(phase) });
        }
    }
    return found;
}

/** Every process whose session is `sid`'s (the field after the command name in /proc/PID/stat). */
export function sessionMembers(sid: number): number[] {
    return fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).filter((pid) => {
        const stat = readProc(pid, "stat");
        return stat !== undefined && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]) === sid;
    }).map(Number);
}

/** SIGKILL to `pid`; false when it had already ended (a member of a session may end between listing and kill). */
export function killNow(pid: number): boolean {
    try {
        process.kill(pid, "SIGKILL");
        return true;
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ESRCH") {
            return false;
        }
        throw error;
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function jobDirs(dir: string): string[] {
    const staged = path.join(dir, "staged");
    return fs.existsSync(staged) ? fs.readdirSync(staged).filter((name) => name.startsWith("job.")).map((name) => path.join(staged, name)) : [];
}

function readLog(job: string): string {
    try {
        return fs.readFileSync(path.join(job, "log"), "utf8");
    } catch {
        return "";
    }
}

function logReached(at: KillPoint, log: string): boolean {
    switch (at.after) {
        case "logLines":
            return log.split("\n").length - 1 >= at.lines;
        case "logSays":
            return log.includes(at.text);
        case "delay":
            return false;
    }
}

/**
 * Watches `run` and fires `fault` at its kill point. Resolves with what it did, or why it never fired (the run or
 * the phase ended first, or no deploy phase ran at all).
 */
async function fireFault(fault: Fault, run: { child: ChildProcess; done: () => boolean }, dir: string, jobsBefore: Set<string>):
    Promise<{ fired: boolean; what: string; phaseSession?: number }> {
    const started = Date.now();
    let phase: { pid: number; job: string; seenAt: number } | undefined;
    let job: string | undefined;
    for (;;) {
        if (run.done()) {
            return { fired: false, what: phase ? "not fired: the run ended before the kill point" : "not fired: the run ended without a deploy phase reaching the kill point" };
        }
        job ??= jobDirs(dir).find((candidate) => !jobsBefore.has(candidate));
        if (job !== undefined && phase === undefined) {
            const process = phaseProcesses(dir).find((candidate) => candidate.job === job);
            if (process) {
                phase = { ...process, seenAt: Date.now() };
            }
        }
        const log = job === undefined ? "" : readLog(job);
        const reached = fault.at.after === "delay"
            ? (fault.kind === "killCli" ? Date.now() - started >= fault.at.ms : phase !== undefined && Date.now() - phase.seenAt >= fault.at.ms)
            : job !== undefined && (fault.kind === "killCli" || phase !== undefined) && logReached(fault.at, log);
        if (reached) {
            const logLines = log.split("\n").length - 1;
            if (fault.kind === "killCli") {
                run.child.kill("SIGKILL");
                return { fired: true, what: `killed pulumi after ${Date.now() - started} ms (job log at ${logLines} line(s))` };
            }
            const targets = fault.kind === "killPhase" ? [phase!.pid] : sessionMembers(phase!.pid);
            const killed = targets.filter(killNow);
            if (!killed.includes(phase!.pid)) {
                return { fired: false, what: "not fired: the phase had ended at the kill point" };
            }
            return { fired: true, phaseSession: phase!.pid, what: `killed the phase (${killed.length} process(es)) ${Date.now() - phase!.seenAt} ms after it started, job log at ${logLines} line(s): "${log.trimEnd().split("\n").pop() ?? ""}"` };
        }
        if (phase !== undefined && !fs.existsSync(`/proc/${phase.pid}`)) {
            return { fired: false, what: "not fired: the phase ended before the kill point" };
        }
        await sleep(10);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Running a plan

export class FaultHarnessFailure extends Error {
    constructor(plan: Plan, stepIndex: number, reason: string, log: string[]) {
        super([
            `fault harness: ${plan.name} failed at step ${stepIndex + 1} of ${plan.steps.length}: ${reason}`,
            ...(plan.about ? [`case: ${plan.about}`] : []),
            "plan:", describePlan(plan),
            "what happened:", ...log.map((line) => `  ${line}`),
            `re-run: ${plan.rerun}`,
        ].join("\n"));
        this.name = "FaultHarnessFailure";
    }
}

/** Raised inside a step; the runner adds the plan, the step list and the re-run line. */
class Broken extends Error {}

interface CommandResult { status: number | null; output: string }

/** One plan's run: its own stack, org (so its own deploy dir and compose project) and port, on the shared environment. */
class PlanRun {
    private configuredTag = "";
    /** The tag of the last version an `up` deployed and left agreeing, what an operator reverts to. */
    private lastGoodTag: string | undefined;
    /** Digests recorded by successful deploys, oldest first: what a rollback goes back to. */
    private readonly recorded: string[] = [];
    readonly log: string[] = [];
    faultsFired = 0;

    /** Requests through the proxy that failed, over the whole plan. */
    failedRequests = 0;

    private constructor(
        private readonly env: DeployEnvironment, readonly stack: TestStack, private location: AppLocation,
        private readonly otherLocations: AppLocation[], private readonly progress: (line: string) => void,
        private readonly proxied?: ProxiedApp,
    ) {}

    static async open(env: DeployEnvironment, org: string, progress: (line: string) => void, proxy?: HostProxy): Promise<PlanRun> {
        const location = { app: "hello-world", workspace: "dev", org, deployRoot: env.ssh.deployRoot };
        const { ["hello-world:environment.PORT"]: _port, ...config } = env.stackConfig(env.images.a.tag);
        const port = await freePort();
        const range = { first: 20_000 + 2 * Math.floor(Math.random() * 10_000), count: 200 };
        const stack = await createTestStack("dev", {
            ...config,
            "iac:org": { value: org },
            ...(proxy === undefined ? { "hello-world:environment.PORT": { value: String(port) } } : {
                ...proxy.stackConfig,
                "iac:proxyPorts": { value: `${range.first}-${range.first + range.count - 1}` },
                "iac:proxyAddress": { value: "127.0.0.1" },
                "hello-world:proxy.port": { value: String(port) },
            }),
            "hello-world:healthTimeout": { value: "12" },
        });
        const proxied = proxy === undefined ? undefined : { proxy, port, colours: colourPorts(range, appDir(location)) };
        return new PlanRun(env, stack, location, [], progress, proxied);
    }

    /** The compose projects the app's containers belong to: its own, or behind the proxy its two colours'. */
    private projects(where = this.location): string[] {
        return this.proxied === undefined ? [composeProject(where)] : ["blue", "green"].map((colour) => `${composeProject(where)}-${colour}`);
    }

    /** Behind the proxy: the colour its route sends to, or undefined when it has none or does not answer. */
    private async servingColour(): Promise<"blue" | "green" | undefined> {
        const route = await this.proxied!.proxy.get(`/id/${proxyRouteId(this.location)}`).catch(() => undefined);
        const port = route?.status === 200 ? servingPort(this.location) : NaN;
        return (["blue", "green"] as const).find((colour) => this.proxied!.colours[colour] === port);
    }

    /**
     * Runs `work` under a client sending through the proxy's port and notes what failed: behind the proxy, once
     * the app serves (before its first deploy every request would fail).
     */
    async underTraffic<T>(work: () => Promise<T>): Promise<T> {
        if (this.proxied === undefined || await this.servingColour() === undefined) {
            return work();
        }
        const traffic = startTraffic(`http://127.0.0.1:${this.proxied.port}/`);
        try {
            return await work();
        } finally {
            const seen = await traffic.stop();
            this.failedRequests += seen.failed;
            this.note(`   traffic through the proxy: ${seen.sent} requests, ${seen.failed} failed` +
                `${seen.failed > 0 ? ` ${JSON.stringify(seen.failures)}` : ""}, longest gap ${Math.round(seen.longestGapMs)} ms`);
        }
    }

    private get dir(): string {
        return appDir(this.location);
    }

    note(line: string): void {
        this.log.push(line);
        this.progress(line);
    }

    private image(key: "a" | "b" | "c"): BuiltImage {
        return this.env.images[key];
    }

    private healthyByDigest(digest: string): HealthyImage | undefined {
        return (["a", "b"] as const).find((key) => this.image(key).digest === digest);
    }

    private docker(args: string[], cwd?: string): string {
        return execFileSync("docker", args, {
            encoding: "utf8", cwd, env: { ...process.env, DOCKER_HOST: this.env.dockerd.host }, stdio: ["ignore", "pipe", "pipe"],
        }).trim();
    }

    private async setTag(tag: string): Promise<void> {
        await this.stack.stack.setConfig("hello-world:tag", { value: tag });
        this.configuredTag = tag;
    }

    /** Runs the pulumi CLI to its end, then reaps whatever of its session is left. */
    private async cli(args: string[]): Promise<CommandResult> {
        const run = this.stack.cli(args);
        const result = await run.result;
        await run.reap();
        return result;
    }

    private async observe(): Promise<Observation> {
        const recordFile = path.join(this.dir, "deploy-info.yml");
        const record = fs.existsSync(recordFile) ? YAML.parse(fs.readFileSync(recordFile, "utf8")) as Record<string, unknown> : null;
        const outputs = await this.cli(["stack", "output", "deployed", "--json"]);
        let output: unknown = null;
        if (outputs.status === 0) {
            output = (JSON.parse(outputs.output) as Record<string, unknown>)["hello-world"] ?? null;
        } else if (!/does not have output property/.test(outputs.output)) {
            throw new Broken(`pulumi stack output deployed failed:\n${excerpt(outputs.output)}`);
        }
        if (this.proxied === undefined) {
            return { running: this.env.runningDigests(composeProject(this.location)).sort(), record, output };
        }
        const serving = await this.servingColour();
        const [blue, green] = this.projects().map((project) => this.env.runningDigests(project).sort());
        return serving === undefined
            ? { running: [], idle: [...blue, ...green].sort(), record, output }
            : { running: serving === "blue" ? blue : green, idle: serving === "blue" ? green : blue, record, output };
    }

    private describeSeen(seen: Observation): string {
        const name = (digest: unknown) => {
            const key = (["a", "b", "c"] as const).find((k) => this.image(k).digest === digest);
            return key ? `${key}` : String(digest).slice(0, 19);
        };
        const output = (seen.output as { digest?: string } | null)?.digest;
        const idle = seen.idle === undefined ? "" : `, idle colour [${seen.idle.map(name).join(", ")}]`;
        return `${seen.idle === undefined ? "runs" : "serves"} [${seen.running.map(name).join(", ")}]${idle}, record ${seen.record ? name(seen.record.digest) : "absent"}, output ${output ? name(output) : "absent"}`;
    }

    /** Host, record and output agree, and name the configured version: what a successful run must leave. */
    private async expectConverged(context: string): Promise<Observation> {
        const seen = await this.observe();
        const problems = disagreements(seen);
        const configured = (["a", "b", "c"] as const).find((key) => this.image(key).tag === this.configuredTag);
        if (configured && seen.record?.digest !== this.image(configured).digest) {
            problems.push(`the configured version is ${configured} but deploy-info.yml names ${String(seen.record?.digest ?? "nothing")}`);
        }
        if (problems.length > 0) {
            throw new Broken(`${context} succeeded but ${problems.join("; ")} (${this.describeSeen(seen)})`);
        }
        this.lastGoodTag = this.configuredTag;
        const digest = String(seen.record!.digest);
        if (this.recorded[this.recorded.length - 1] !== digest) {
            this.recorded.push(digest);
        }
        return seen;
    }

    /** The invariant after a failed command: agreement, or the output names what to run next. */
    private async judgeFailure(context: string, result: CommandResult): Promise<"agree" | "advised"> {
        const seen = await this.observe();
        const problems = disagreements(seen);
        if (problems.length === 0) {
            return "agree";
        }
        const next = nextStepNamed(result.output);
        if (next === undefined) {
            throw new Broken(`${context} failed, ${problems.join("; ")} (${this.describeSeen(seen)}), and its output names no next step:\n${excerpt(result.output)}`);
        }
        this.note(`   host, record and output disagree (${this.describeSeen(seen)}); the output says to run: ${next}`);
        return "advised";
    }

    private async expectNoDrift(context: string): Promise<void> {
        const refresh = await this.cli(["refresh", "--expect-no-changes", "--yes"]);
        if (refresh.status !== 0) {
            throw new Broken(`pulumi refresh --expect-no-changes failed right after ${context}:\n${excerpt(refresh.output)}`);
        }
    }

    /** Until the processes a killed phase left in its session have ended (bounded: a stuck one is a finding). */
    private async drainSession(sid: number): Promise<void> {
        for (let waited = 0; sessionMembers(sid).length > 0; waited += 100) {
            if (waited > 180_000) {
                throw new Broken(`what the killed phase started still runs after 3 minutes: pids ${sessionMembers(sid).join(" ")}`);
            }
            await sleep(100);
        }
    }

    /** Until no deploy phase of this app dir runs (a killed CLI's phase goes on to its end). */
    private async settle(): Promise<void> {
        for (let waited = 0; phaseProcesses(this.dir).length > 0; waited += 200) {
            if (waited > 300_000) {
                throw new Broken(`a deploy phase of ${this.dir} still runs after 5 minutes`);
            }
            await sleep(200);
        }
    }

    /**
     * What docs/faults.md says after an interrupted or failed run, checked to the end. `keepConfig`: the step
     * failed with no fault in it, so the operator retries what they asked for rather than going back (going back
     * would hide a tool that can no longer deploy).
     */
    private async recover(recovery: Recovery, cliKilled: boolean, keepConfig = false): Promise<void> {
        const done: string[] = [];
        if (cliKilled) {
            const cancel = await this.cli(["cancel", "--yes"]);
            done.push(`pulumi cancel (exit ${cancel.status})`);
        }
        if (recovery.settleFirst) {
            await this.settle();
            done.push("waited for the host to settle");
        }
        if (recovery.refreshFirst) {
            const refresh = await this.cli(["refresh", "--yes"]);
            done.push(`pulumi refresh (exit ${refresh.status})`);
        }
        const unhealthy = this.configuredTag === this.image("c").tag;
        if (((recovery.config === "revert" && !keepConfig) || unhealthy) && this.lastGoodTag !== undefined && this.configuredTag !== this.lastGoodTag) {
            await this.setTag(this.lastGoodTag);
            done.push(`config set back to ${this.lastGoodTag}`);
        } else if (unhealthy) {
            await this.setTag(this.image("a").tag);
            done.push("config set to a (nothing deployed before)");
        }
        for (let attempt = 1; ; attempt++) {
            const up = await this.cli(["up", "--refresh", "--yes", "--skip-preview"]);
            if (up.status === 0) {
                done.push("pulumi up --refresh: ok");
                break;
            }
            done.push(`pulumi up --refresh: exit ${up.status}`);
            this.note(`   recovery: pulumi up --refresh exited ${up.status}: ${firstError(up.output)}`);
            await this.judgeFailure("the recovery's pulumi up --refresh", up);
            if (attempt === 2) {
                throw new Broken(`the recovery failed twice; the second pulumi up --refresh said:\n${excerpt(up.output)}`);
            }
            if (/locked/.test(up.output)) {
                await this.cli(["cancel", "--yes"]);
                done.push("pulumi cancel");
            }
        }
        const seen = await this.expectConverged(`the recovery (${done.join(", ")})`);
        await this.expectNoDrift("the recovery");
        this.note(`   recovered: ${done.join(", ")}; ${this.describeSeen(seen)}; refresh --expect-no-changes passes`);
    }

    /** `pulumi up` with the step's fault, judged: converged, or failed as the invariant allows, then recovered. */
    private async up(step: Step, expect: "success" | "failure"): Promise<void> {
        const jobsBefore = new Set(jobDirs(this.dir));
        const run: CliRun = this.stack.cli(["up", "--yes", "--skip-preview"]);
        let finished = false;
        const result = run.result.then((value) => {
            finished = true;
            return value;
        });
        const fault = step.fault ? await fireFault(step.fault, { child: run.child, done: () => finished }, this.dir, jobsBefore) : undefined;
        const { status, output } = await result;
        await run.reap();
        if (fault?.phaseSession !== undefined) {
            // What the phase started (compose pulling or starting containers) runs on without it: the host is
            // judged where it ends, not half-way through a container's recreation.
            await this.drainSession(fault.phaseSession);
        }
        const cliKilled = fault?.fired === true && step.fault?.kind === "killCli";
        if (fault) {
            this.note(`   fault: ${fault.what}`);
            this.faultsFired += fault.fired ? 1 : 0;
        }
        if (cliKilled) {
            this.note("   pulumi up killed; recovering");
            await this.recover(step.recovery, true);
            return;
        }
        if (status === 0) {
            if (expect === "failure") {
                throw new Broken(`pulumi up exited 0 deploying the unhealthy version (${this.describeSeen(await this.observe())})`);
            }
            const seen = await this.expectConverged("pulumi up");
            this.note(`   pulumi up: ok; ${this.describeSeen(seen)}`);
            if (fault?.fired) {
                // The phase died, yet the up succeeded: the recovery still runs, as the operator saw a kill.
                await this.recover(step.recovery, false);
            }
            return;
        }
        this.note(`   pulumi up: exit ${status}: ${firstError(output)}`);
        const verdict = await this.judgeFailure("pulumi up", { status, output });
        if (expect === "failure" && !fault?.fired && verdict === "agree") {
            return; // The unhealthy version failed and the previous one runs, as recorded.
        }
        await this.recover(step.recovery, false, expect === "success" && !fault?.fired);
    }

    private rollbackTarget(): HealthyImage {
        const current = this.recorded[this.recorded.length - 1];
        const before = [...this.recorded].reverse().find((digest) => digest !== current);
        const key = before === undefined ? undefined : this.healthyByDigest(before);
        return key ?? (this.healthyByDigest(current ?? "") === "a" ? "b" : "a");
    }

    private async hand(change: HandChange, recovery: Recovery): Promise<void> {
        const project = composeProject(this.location);
        const recordFile = path.join(this.dir, "deploy-info.yml");
        // Behind the proxy, the containers of the colour that serves.
        const serving = this.proxied === undefined ? undefined : await this.servingColour();
        const ids = () => this.docker(["ps", "-q", "--filter", `label=com.docker.compose.project=${project}${serving ? `-${serving}` : ""}`])
            .split("\n").filter(Boolean);
        const recordedDigest = fs.existsSync(recordFile) ? String(YAML.parse(fs.readFileSync(recordFile, "utf8"))?.digest) : undefined;
        const other = this.image(this.healthyByDigest(recordedDigest ?? "") === "a" ? "b" : "a");
        const rewrite = (file: string, from: RegExp, to: string): boolean => {
            if (!fs.existsSync(file)) {
                return false;
            }
            const text = fs.readFileSync(file, "utf8");
            fs.writeFileSync(file, text.replace(from, to));
            return from.test(text);
        };
        let did: string;
        switch (change) {
            case "stopContainer":
                did = ids().length > 0 ? (this.docker(["stop", ...ids()]), "stopped the app's containers") : "nothing ran to stop";
                break;
            case "removeContainer":
                did = ids().length > 0 ? (this.docker(["rm", "-f", ...ids()]), "removed the app's containers") : "nothing ran to remove";
                break;
            case "editRecordDigest":
                did = rewrite(recordFile, /^digest: .*$/m, `digest: ${other.digest}`) ? `deploy-info.yml's digest set to ${other.tag}'s` : "no deploy-info.yml to edit";
                break;
            case "deleteRecord":
                did = fs.existsSync(recordFile) ? (fs.rmSync(recordFile), "deleted deploy-info.yml") : "no deploy-info.yml to delete";
                break;
            case "quoteRecordWorkspace":
                did = rewrite(recordFile, /^workspace: (\S+)$/m, 'workspace: "$1"') ? "quoted the workspace in deploy-info.yml (same YAML)" : "no deploy-info.yml to edit";
                break;
            case "composeUpOtherDigest":
            case "editComposeAndUp": {
                const compose = path.join(this.dir, "compose.yml");
                if (!fs.existsSync(compose)) {
                    did = "no compose.yml to start another version from";
                    break;
                }
                const text = fs.readFileSync(compose, "utf8").replace(/@sha256:[0-9a-f]{64}/g, `@${other.digest}`);
                const file = change === "editComposeAndUp" ? compose : path.join(this.dir, "compose.by-hand.yml");
                fs.writeFileSync(file, text);
                try {
                    this.docker(["compose", "-p", project, "-f", path.basename(file), "--env-file", "/dev/null", "up", "-d"], this.dir);
                } finally {
                    if (change === "composeUpOtherDigest") {
                        fs.rmSync(file);
                    }
                }
                did = change === "editComposeAndUp"
                    ? `edited compose.yml to ${other.tag}'s digest and ran docker compose up -d`
                    : `ran docker compose up -d of ${other.tag}'s digest from a file of its own`;
                break;
            }
            case "removeProxy":
                this.docker(["rm", "-f", proxyContainerName(this.location.deployRoot)]);
                did = "removed the proxy's container";
                break;
        }
        const seen = await this.observe();
        const problems = disagreements(seen);
        this.note(`   ${did}; now ${this.describeSeen(seen)}`);
        const refresh = await this.cli(["refresh", "--expect-no-changes", "--yes"]);
        if (refresh.status === 0 && problems.length > 0) {
            throw new Broken(`pulumi refresh --expect-no-changes passed while ${problems.join("; ")}:\n${excerpt(refresh.output)}`);
        }
        this.note(`   refresh --expect-no-changes: exit ${refresh.status}`);
        await this.recover(recovery, false);
    }

    /** Moves iac:deployRoot to a new dir on the same host; afterwards the app must run from there only. */
    private async moveDeployRoot(step: Step): Promise<void> {
        const moved = path.join(this.env.ssh.deployRoot, `moved-${this.location.org}`);
        fs.mkdirSync(moved, { recursive: true });
        this.otherLocations.push(this.location);
        this.location = { ...this.location, deployRoot: moved };
        await this.stack.stack.setConfig("iac:deployRoot", { value: moved });
        await this.up(step, "success");
        for (const old of this.otherLocations) {
            const left = this.env.runningDigests(composeProject(old));
            if (left.length > 0) {
                throw new Broken(`after the move, the old deploy dir ${appDir(old)} still runs ${left.join(", ")} beside the new one`);
            }
        }
    }

    async step(step: Step): Promise<void> {
        const op = step.op;
        switch (op.kind) {
            case "deploy": {
                const target = op.image !== "other" ? op.image : this.configuredTag === this.image("a").tag ? "b" : "a";
                if (op.image === "other") {
                    this.note(`   deploying ${target}`);
                }
                await this.setTag(this.image(target).tag);
                return this.up(step, "success");
            }
            case "rollback": {
                const target = this.rollbackTarget();
                this.note(`   rolling back to ${target}`);
                await this.setTag(this.image(target).tag);
                return this.up(step, "success");
            }
            case "deployUnhealthy": {
                const back = this.lastGoodTag ?? this.image("a").tag;
                await this.setTag(this.image("c").tag);
                await this.up(step, "failure");
                if (this.configuredTag !== back) {
                    await this.setTag(back); // the operator takes the bad version out of the config again
                }
                return;
            }
            case "setHealthTimeout":
                await this.stack.stack.setConfig("hello-world:healthTimeout", { value: String(op.seconds) });
                return this.up(step, "success");
            case "setEnvironment":
                await this.stack.stack.setConfig("hello-world:environment.GREETING", { value: op.value }, true);
                return this.up(step, "success");
            case "moveDeployRoot":
                return this.moveDeployRoot(step);
            case "hand":
                return this.hand(op.change, step.recovery);
        }
    }

    /** After the last step: when host, record and output agree, a refresh must find nothing to change. */
    async finalCheck(): Promise<void> {
        const seen = await this.observe();
        if (disagreements(seen).length === 0) {
            await this.expectNoDrift("the last step");
            this.note(`end: ${this.describeSeen(seen)}; refresh --expect-no-changes passes`);
        } else {
            this.note(`end: ${this.describeSeen(seen)} (the last command failed and said what to run)`);
        }
    }

    /** Leaves nothing running: destroys the stack; when that fails, removes its containers by hand and says so. */
    async close(): Promise<string | undefined> {
        try {
            await this.cli(["cancel", "--yes"]);
            await this.stack.remove();
            return undefined;
        } catch (error) {
            for (const project of [this.location, ...this.otherLocations].flatMap((where) => this.projects(where))) {
                const ids = this.docker(["ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`]).split("\n").filter(Boolean);
                if (ids.length > 0) {
                    this.docker(["rm", "-f", ...ids]);
                }
            }
            fs.rmSync(this.stack.workDir, { recursive: true, force: true });
            return `the stack's destroy failed (${firstError((error as Error).message)}); its containers were removed by hand`;
        }
    }
}

let plansRun = 0;

/**
 * Runs `plan` to its end on `env`, checking after every step and once more at the end (a refresh of a stack whose
 * host agrees changes nothing); throws a FaultHarnessFailure naming how to re-run it. `progress` sees each line of
 * the step list as it is written.
 */
export async function runPlan(env: DeployEnvironment, plan: Plan, progress: (line: string) => void = () => undefined, proxy?: HostProxy):
    Promise<{ seconds: number; log: string[]; faultsFired: number; failedRequests: number }> {
    if (plan.proxied && proxy === undefined) {
        throw new Error(`${plan.name} runs behind the proxy: give runPlan the environment's proxy (prepareHostProxy)`);
    }
    const started = Date.now();
    const run = await PlanRun.open(env, `fault-${process.pid}-${++plansRun}`, progress, plan.proxied ? proxy : undefined);
    let failure: FaultHarnessFailure | undefined;
    const fail = (index: number, error: unknown) => new FaultHarnessFailure(plan, index,
        error instanceof Broken ? error.message : `the harness itself failed: ${(error as Error).stack}`, run.log);
    try {
        for (const [index, step] of plan.steps.entries()) {
            const stepStarted = Date.now();
            run.note(`${index + 1}. ${describeStep(step)}`);
            try {
                await run.underTraffic(() => run.step(step));
            } catch (error) {
                failure = fail(index, error);
                break;
            } finally {
                run.note(`   (${((Date.now() - stepStarted) / 1000).toFixed(1)} s)`);
            }
        }
        if (!failure) {
            try {
                await run.finalCheck();
            } catch (error) {
                failure = fail(plan.steps.length - 1, error);
            }
        }
    } finally {
        const closing = Date.now();
        const cleanup = await run.close();
        run.note(`cleanup: ${cleanup ?? "stack destroyed"} (${((Date.now() - closing) / 1000).toFixed(1)} s)`);
    }
    if (failure) {
        throw failure;
    }
    return { seconds: (Date.now() - started) / 1000, log: run.log, faultsFired: run.faultsFired, failedRequests: run.failedRequests };
}
