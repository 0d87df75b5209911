// The shell that runs on a Docker host, built by small named builders (the way Kamal keeps its commands apart
// from their execution) and combined in the order a deploy takes: the session here, the deploy phase's steps in
// deploy-phase.ts, each target's part from targets/. HostDeployment hands the result to SSH; the
// integration tests run the very same text over a real SSH host. Every interpolated value is validated here
// and single-quoted; everything large or user-written (labels, compose file, environment) travels on stdin.
import { validateDigest, validateRegistry, validateRepository } from "../registry/reference";
import { AppLocation, DeployTarget, appDir, files, formerRestoreFiles, validateOwnerId } from "./layout";
import type { AppProxy } from "./proxy";
import { lines, sayFunction, script, shellQuote } from "./shell";
import { defaultTarget, deployTargets, targetNamed } from "./targets/registry";

/** What a deploy needs on the host, every missing piece named in one message before anything changes. */
export function preflight(host: string, target: DeployTarget): string[] {
    return lines(
        "missing=''",
        "for tool in docker flock timeout setsid base64 mktemp tail sync; do",
        "  command -v \"$tool\" >/dev/null 2>&1 || missing=\"$missing\n  - the $tool command\"",
        "done",
        "if command -v docker >/dev/null 2>&1; then",
        targetNamed(target).preflight([
            "  docker version >/dev/null 2>&1 || missing=\"$missing\n  - access to the Docker engine for $(id -un) (add the user to the docker group, or start dockerd)\"",
        ]),
        "fi",
        "if [ -n \"$missing\" ]; then",
        `  printf '%s\\n' ${shellQuote(`${host} lacks what a deploy needs (nothing was changed):`)}"$missing" >&2`,
        "  exit 1",
        "fi",
    );
}

export function enterAppDir(location: AppLocation): string[] {
    return [`app_dir=${shellQuote(appDir(location))}`, "mkdir -p \"$app_dir\"", "cd \"$app_dir\""];
}

/** Holds the app dir's lock until the script exits: one deploy (or removal) of an app at a time. */
export function acquireLock(location: AppLocation, timeoutSeconds: number): string[] {
    const seconds = Math.trunc(timeoutSeconds);
    return [
        `exec 9>>${shellQuote(files.lock)}`,
        `if ! flock -w ${seconds} 9; then`,
        `  say ${shellQuote(`another deploy of this app dir has held the lock for ${seconds} s; wait for it to finish ` +
            `(or look for a stuck one: fuser ${appDir(location)}/${files.lock}) and run pulumi up again`)}`,
        "  exit 1",
        "fi",
    ];
}

/**
 * One app dir per stack, by identity: the dir's `.owner` names the id its stack keeps in its state, which a
 * same-named stack on another backend or in another project cannot have. A dir from before owner marks
 * falls back to the workspace its deploy-info.yml names (quoted or not), and is marked by its next deploy.
 */
export function refuseOtherOwner(location: AppLocation, owner: string | undefined): string[] {
    const dir = appDir(location);
    const whatNext = `give this workspace its own iac:org or iac:deployRoot. If the dir really is this stack's (its state was ` +
        `lost and the stack made anew), check that no other stack deploys there, then remove ${dir}/${files.owner} and run pulumi up again`;
    return [
        `if [ -f ${files.owner} ]; then`,
        `  owner_here=$(sed -n 's/^id: //p' ${files.owner})`,
        `  if [ "$owner_here" != ${shellQuote(owner === undefined ? "" : validateOwnerId(owner))} ]; then`,
        `    say ${shellQuote(`${dir} belongs to another stack (its ${files.owner} names `)}"$owner_here"${shellQuote(`, this stack is ` +
            `${owner ?? "not marked yet"}: a workspace of the same name on another state backend or in another project); ${whatNext}`)}`,
        "    exit 1",
        "  fi",
        `elif [ -f ${files.deployInfo} ] && [ "$(sed -n 's/^workspace: *//p' ${files.deployInfo} | tr -d "\\"'")" != ${shellQuote(location.workspace)} ]; then`,
        `  say ${shellQuote(`${dir} belongs to another workspace (see its deploy-info.yml); ${whatNext}`)}`,
        "  exit 1",
        "fi",
    ];
}

/** Writes `target` from `source` commands through a synced temp file, so a reader sees all or nothing. */
function writeSynced(target: string, produce: string, failure: string): string[] {
    return [`{ ${produce}; } > ${target}.tmp && sync ${target}.tmp || fail ${shellQuote(failure)}`];
}

export interface DeploySpec extends AppLocation {
    /** The id of the stack that deploys: the app dir's `.owner` must name it, or the dir must have none yet. */
    owner: string;
    /** What runs the app: one of targets/registry.ts. */
    target: DeployTarget;
    registry: string;
    repository: string;
    digest: string;
    /** The compose services that run the app's image, checked after `up`. */
    services: string[];
    healthTimeoutSeconds: number;
    lockTimeoutSeconds?: number;
    /** Log in first; the password comes on stdin, never in argv or the script. */
    registryUsername?: string;
    /** The app is served through the host's proxy: the proxied target's switch. */
    proxy?: AppProxy;
}

/** The parts a deploy reads from stdin, one base64 line each, in this order. */
export const bundleParts = ["password", "phase", "compose", "env", "recordHead", "recordTail"] as const;
export type DeployBundle = Record<(typeof bundleParts)[number], string>;

/** stdin for buildDeployScript: each part one base64 line, so no content can break the framing. */
export function encodeBundle(bundle: DeployBundle): string {
    return bundleParts.map((part) => Buffer.from(bundle[part]).toString("base64") + "\n").join("");
}

/**
 * Reads the bundle from stdin: the password straight into `docker login` when there is one, every other part
 * into "$job/<part>". A host that cannot hold them (disk full) stops here, before anything changed.
 */
export function receiveBundle(spec: Pick<DeploySpec, "registry" | "registryUsername">): string[] {
    return [
        "receive() { IFS= read -r line || [ -n \"$line\" ] || { say 'the deploy bundle ended early'; exit 1; }; }",
        "receive",
        ...(spec.registryUsername === undefined ? [] : [
            `say ${shellQuote(`logging in to ${spec.registry} as ${spec.registryUsername}`)}`,
            `printf '%s' "$line" | base64 -d | docker login --username ${shellQuote(spec.registryUsername)} --password-stdin ` +
                `${shellQuote(spec.registry)} >/dev/null || { say ${shellQuote(`the registry ${spec.registry} refused the login of ` +
                `${spec.registryUsername}; nothing was changed`)}; exit 1; }`,
        ]),
        `for part in ${bundleParts.slice(1).join(" ")}; do`,
        "  receive",
        "  printf '%s' \"$line\" | base64 -d > \"$job/$part\" || {",
        "    say \"could not stage the deploy in $job (disk full or read-only?); nothing was changed\"",
        "    rm -rf \"$job\"",
        "    exit 1",
        "  }",
        "done",
    ];
}

/**
 * Runs "$job/phase" in a session of its own, its output in "$job/log", which this session follows until the
 * phase exits; exits with the phase's status. Whatever ends this session cannot end the phase. What the phase
 * could not write to its log (a full disk) it writes to a spill file in memory, which this session prints; a
 * phase that died, or a full disk, is said in so many words, with what to run next.
 */
export function runDetached(): string[] {
    return [
        // The log exists before the phase starts, so following it can never begin before there is a file.
        ": > \"$job/log\"",
        "spill=$(mktemp /dev/shm/iac-said.XXXXXXXX 2>/dev/null || mktemp 2>/dev/null || echo /dev/null)",
        "setsid sh \"$job/phase\" \"$job\" \"$spill\" >> \"$job/log\" 2>&1 < /dev/null &",
        "phase=$!",
        // tail notices the phase has ended only at its next poll (-s): at 0.05 s that wait, which every deploy pays
        // once, is under a tenth of a second; the price is a wake-up per 50 ms meanwhile.
        "tail -s 0.05 -n +1 -f --pid=\"$phase\" \"$job/log\" >&2 || true",
        "if wait \"$phase\"; then status=0; else status=$?; fi",
        "if [ -s \"$spill\" ]; then cat \"$spill\" >&2; fi",
        "[ \"$spill\" = /dev/null ] || rm -f \"$spill\"",
        "if [ \"$status\" -ne 0 ]; then",
        "  if [ \"$status\" -gt 128 ]; then",
        "    say \"the deploy process on the host was killed (signal $((status - 128)): out of memory, a restart, or by hand) before it " +
            "finished; what it had not committed is not recorded, and the host may run either version: run pulumi up --refresh, " +
            "which reads what runs and deploys the configured version again\"",
        "  fi",
        // The reason a deploy on a full disk failed may be the one thing it could not write down.
        "  free=$(df -Pk . 2>/dev/null | tail -n 1 | { read -r _ _ _ available _ && echo \"$available\"; }) || free=''",
        "  case \"$free\" in",
        "    ''|*[!0-9]*) ;;",
        "    *) [ \"$free\" -ge 100 ] || say \"the file system of $PWD is full ($free KiB free): free space there, then run pulumi up again\" ;;",
        "  esac",
        "  exit \"$status\"",
        "fi",
    ];
}

/** `registry/repository@digest`, every part validated. */
export function pinnedRef(spec: Pick<DeploySpec, "registry" | "repository" | "digest">): string {
    return `${validateRegistry(spec.registry)}/${validateRepository(spec.repository)}@${validateDigest(spec.digest)}`;
}

/**
 * The session script: preflight, log in, receive the bundle into a fresh job dir, then run the deploy phase
 * detached from the session (its own session id, output to the job's log, which this session follows). An SSH
 * connection that drops — the operator's Ctrl-C, a killed `pulumi up` — cannot stop the phase half-way: it
 * runs to a recorded deploy or to a restore. Prints the host's state when the phase succeeded.
 */
export function buildDeployScript(spec: DeploySpec): string {
    pinnedRef(spec);
    validateOwnerId(spec.owner);
    return script(
        "set -eu",
        sayFunction(`${spec.app}@${spec.workspace}`),
        preflight(`${spec.app}@${spec.workspace}'s host`, spec.target),
        enterAppDir(spec),
        "umask 077",
        `mkdir -p ${files.stagedDir}`,
        `job=$(mktemp -d ${files.stagedDir}/job.XXXXXXXX) || { say "could not stage the deploy in $app_dir (disk full or read-only?); nothing was changed"; exit 1; }`,
        receiveBundle(spec),
        runDetached(),
        observeCommands(spec, spec.target),
    );
}

/** Markers of what observeCommands prints. */
export const observationMarkers = {
    files: "#--- files ---",
    deployInfo: "#--- deploy-info.yml ---",
    containers: "#--- containers ---",
    images: "#--- images ---",
    services: "#--- services ---",
    proxy: "#--- proxy ---",
} as const;

/**
 * The host-wide reads of the targets' observations (observeHost), each distinct one once. Fails when docker cannot
 * answer: a refresh must not mistake an unreachable engine for an app that is gone.
 */
export function observeHostCommands(targets: DeployTarget[]): string[] {
    return [...new Set(targets.map((target) => targetNamed(target).observeHost().join("\n")))].filter(Boolean).flatMap((text) => text.split("\n"));
}

/**
 * Prints what the host holds for the app: the dir's owner, a commit left unfinished and the images its compose
 * file names; deploy-info.yml; what runs it, as the target observes it (every container of its compose project,
 * or every task Swarm wants running for its stack and each service's spec) and the digests of their images.
 * Runs after observeHostCommands.
 */
export function observeAppCommands(location: AppLocation, target: DeployTarget): string[] {
    const dir = appDir(location);
    const file = (name: string) => shellQuote(`${dir}/${name}`);
    return lines(
        `echo ${shellQuote(observationMarkers.files)}`,
        `if [ -f ${file(files.owner)} ]; then sed -n 's/^id: /owner /p' ${file(files.owner)}; fi`,
        `if [ -f ${file(files.commit)} ]; then printf 'pending %s\\n' "$(head -n 1 ${file(files.commit)})"; fi`,
        `if [ -f ${file(files.compose)} ]; then sed -n 's/^ *image: *//p' ${file(files.compose)} | tr -d "\\"'" | sed 's/^/compose /'; fi`,
        `echo ${shellQuote(observationMarkers.deployInfo)}`,
        `if [ -f ${file(files.deployInfo)} ]; then cat ${file(files.deployInfo)}; fi`,
        `echo ${shellQuote(observationMarkers.containers)}`,
        targetNamed(target).observe(location, observationMarkers),
    );
}

const observeCommands = (location: AppLocation, target: DeployTarget) => lines(observeHostCommands([target]), observeAppCommands(location, target));

/** Reads the host's state of one app without changing anything: what a deploy prints at its end, alone. */
export function buildObserveScript(location: AppLocation, target: DeployTarget): string {
    return script("set -eu", observeCommands(location, target));
}

/**
 * Takes the app down — as the target the dir was last deployed with takes it down — and moves deploy-info.yml into the history with removed_at. Nothing is deleted from the registry.
 */
export function buildRemoveScript(location: AppLocation, owner: string | undefined, lockTimeoutSeconds = 600): string {
    const indented = (body: string[]) => body.map((line) => `    ${line}`);
    return script(
        "set -eu",
        sayFunction(`${location.app}@${location.workspace}`),
        enterAppDir(location),
        acquireLock(location, lockTimeoutSeconds),
        refuseOtherOwner(location, owner),
        // A dir whose deploy-target names no other target was the default target's (deploys from before targets).
        `case "$(cat ${files.target} 2>/dev/null || true)" in`,
        deployTargets().filter((target) => target !== defaultTarget)
            .flatMap((target) => [`  ${target.name})`, ...indented(target.remove(location)), "    ;;"]),
        "  *)",
        indented(defaultTarget.remove(location)),
        "    ;;",
        "esac",
        deployTargets().flatMap((target) => target.removeLeftovers(location)),
        "fail() { say \"$1\"; exit 1; }",
        `if [ -f ${files.deployInfo} ]; then`,
        writeSynced(files.history, `if [ -f ${files.history} ]; then cat ${files.history}; fi; echo '---'; cat ${files.deployInfo}; ` +
            `printf 'removed_at: "%s"\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"`, "could not write deploy-history.yml (disk full or read-only?)")
            .map((line) => `  ${line}`),
        `  mv ${files.history}.tmp ${files.history}`,
        `  rm -f ${files.deployInfo}`,
        "fi",
        `rm -rf ${files.compose} ${files.env} ${files.target} ${files.owner} ${files.commit} ${formerRestoreFiles.join(" ")} ${files.stagedDir}`,
        `echo ${shellQuote(`removed ${location.app} from ${location.workspace}`)}`,
    );
}

/** Separates deploy-info.yml from deploy-history.yml in what buildReadRecordsScript prints. */
export const historyMarker = "#--- deploy-history.yml ---";

/**
 * Prints deploy-info.yml (nothing when the app has never been deployed here), the history marker, then
 * deploy-history.yml: the records images:overview and cleanup read.
 */
export function buildReadRecordsScript(location: AppLocation): string {
    const dir = appDir(location);
    return script(
        `d=${shellQuote(dir)}`,
        `if [ -f "$d/${files.deployInfo}" ]; then cat "$d/${files.deployInfo}"; fi`,
        `echo ${shellQuote(historyMarker)}`,
        `if [ -f "$d/${files.history}" ]; then cat "$d/${files.history}"; fi`,
    );
}

/** What buildReadRecordsScript printed, split in two. */
export function splitRecords(output: string): { deployInfo: string; history: string } {
    const at = output.indexOf(`${historyMarker}\n`);
    return at < 0
        ? { deployInfo: output, history: "" }
        : { deployInfo: output.slice(0, at), history: output.slice(at + historyMarker.length + 1) };
}
