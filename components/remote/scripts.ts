// The shell that runs on a Docker host, built by small named builders (the way Kamal keeps its commands apart
// from their execution) and combined in the order a deploy takes. HostDeployment hands the result to SSH; the
// integration tests run the very same text over a real SSH host. Every interpolated value is validated here
// and single-quoted; everything large or user-written (labels, compose file, environment) travels on stdin.
import { validateDigest, validateRegistry, validateRepository } from "../registry/reference";
import { composeCommand, composeFunctions, composeObservation, removeLegacyContainers } from "./compose-commands";
import { AppLocation, DeployTarget, appDir, composeProject, files } from "./layout";
import { lines, sayFunction, script, shellQuote } from "./shell";
import { swarmDownFunction, swarmFunctions, swarmObservation, swarmPreflight } from "./swarm-commands";

/** What a deploy needs on the host, every missing piece named in one message before anything changes. */
export function preflight(host: string, target: DeployTarget): string[] {
    return lines(
        "missing=''",
        "for tool in docker flock timeout setsid base64 mktemp tail sync; do",
        "  command -v \"$tool\" >/dev/null 2>&1 || missing=\"$missing\n  - the $tool command\"",
        "done",
        "if command -v docker >/dev/null 2>&1; then",
        // The two checks overlap (each starts a Go binary, the version asks the engine): every deploy waits on them.
        ...(target === "compose" ? ["  docker compose version >/dev/null 2>&1 & compose_check=$!"] : []),
        "  docker version >/dev/null 2>&1 || missing=\"$missing\n  - access to the Docker engine for $(id -un) (add the user to the docker group, or start dockerd)\"",
        ...(target === "compose" ? ["  wait \"$compose_check\" || missing=\"$missing\n  - docker compose v2 (the compose CLI plugin)\""] : []),
        "fi",
        target === "swarm" ? swarmPreflight() : [],
        "if [ -n \"$missing\" ]; then",
        `  printf '%s\\n' ${shellQuote(`${host} lacks what a deploy needs (nothing was changed):`)}"$missing" >&2`,
        "  exit 1",
        "fi",
    );
}

function enterAppDir(location: AppLocation): string[] {
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

/** One app dir per workspace: a second workspace pointed at the same dir would silently take it over. */
function refuseOtherWorkspace(location: AppLocation): string[] {
    return [
        `if [ -f ${files.deployInfo} ] && ! grep -qxF ${shellQuote(`workspace: ${location.workspace}`)} ${files.deployInfo}; then`,
        `  say ${shellQuote(`${appDir(location)} belongs to another workspace (see its deploy-info.yml); ` +
            "give this workspace its own iac:org or iac:deployRoot")}`,
        "  exit 1",
        "fi",
    ];
}

/** Writes `target` from `source` commands through a synced temp file, so a reader sees all or nothing. */
function writeSynced(target: string, produce: string, failure: string): string[] {
    return [`{ ${produce}; } > ${target}.tmp && sync ${target}.tmp || fail ${shellQuote(failure)}`];
}

export interface DeploySpec extends AppLocation {
    /** compose on one host, or a stack on the swarm whose manager the host is. */
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
 * phase exits; exits with the phase's status. Whatever ends this session cannot end the phase.
 */
export function runDetached(): string[] {
    return [
        // The log exists before the phase starts, so following it can never begin before there is a file.
        ": > \"$job/log\"",
        "setsid sh \"$job/phase\" \"$job\" >> \"$job/log\" 2>&1 < /dev/null &",
        "phase=$!",
        // tail notices the phase has ended only at its next poll (-s): at 0.05 s that wait, which every deploy pays
        // once, is under a tenth of a second; the price is a wake-up per 50 ms meanwhile.
        "tail -s 0.05 -n +1 -f --pid=\"$phase\" \"$job/log\" >&2 || true",
        "if wait \"$phase\"; then status=0; else status=$?; fi",
        "[ \"$status\" -eq 0 ] || exit \"$status\"",
    ];
}

function pinnedRef(spec: DeploySpec): string {
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

/** Both targets' shell functions: a deploy that switches target takes the app down from the one it leaves. */
function targetFunctions(spec: DeploySpec): string[] {
    return lines(
        composeFunctions(spec),
        swarmFunctions({ ...spec, withRegistryAuth: spec.registryUsername !== undefined }),
    );
}

/**
 * The deploy phase, under the app's lock: install the staged files → pull → up → verify the running digest →
 * record. Every step after the first change is inside the restore path: a failure anywhere, the record and
 * history writes included, brings the previous deployment back up (with the target it had) and leaves
 * deploy-info.yml as it was. A target that already runs and is recorded exactly so is left alone.
 */
export function buildDeployPhase(spec: DeploySpec): string {
    const ref = pinnedRef(spec);
    const timeout = Math.trunc(spec.healthTimeoutSeconds);
    const waitWhat = spec.target === "swarm"
        ? `waiting up to ${timeout} s for Swarm to run it healthy on every task and finish the update`
        : `waiting up to ${timeout} s for it to be healthy`;
    return script(
        "set -eu",
        "job=$1",
        sayFunction(`${spec.app}@${spec.workspace}`),
        enterAppDir(spec),
        acquireLock(spec, spec.lockTimeoutSeconds ?? 600),
        refuseOtherWorkspace(spec),
        `ref=${shellQuote(ref)}`,
        `target=${spec.target}`,
        targetFunctions(spec),
        // Deploys from before targets existed left no marker: they were compose.
        `previous_target=$(cat ${files.target} 2>/dev/null || echo compose)`,
        // The record as this deploy would write it, with the deployed_at it already has.
        "recorded_as_target() {",
        `  [ -f ${files.deployInfo} ] || return 1`,
        `  { cat "$job/recordHead"; printf '\\n'; grep '^deployed_at: ' ${files.deployInfo}; cat "$job/recordTail"; } | cmp -s - ${files.deployInfo}`,
        "}",
        `if [ "$previous_target" = "$target" ] && recorded_as_target && cmp -s "$job/compose" ${files.compose} && cmp -s "$job/env" ${files.env} &&`,
        "  \"${target}_running\" \"$ref\"; then",
        "  say \"$ref is already running and recorded; nothing to do\"",
        "  exit 0",
        "fi",
        // What the previous deploy runs, for a restore to wait on; empty when there is no record of it.
        `previous_ref=$(sed -n 's/^image: //p' ${files.deployInfo} 2>/dev/null)@$(sed -n 's/^digest: //p' ${files.deployInfo} 2>/dev/null) || true`,
        "case \"$previous_ref\" in @*|*@) previous_ref='' ;; esac",
        "recorded=0",
        "restore() {",
        "  trap '' HUP INT TERM",
        `  rm -f ${files.compose}.tmp ${files.env}.tmp ${files.target}.tmp ${files.deployInfo}.tmp ${files.history}.tmp`,
        "  if [ \"$recorded\" = 1 ]; then",
        `    if [ -f ${files.previousDeployInfo} ]; then mv -f ${files.previousDeployInfo} ${files.deployInfo}; else rm -f ${files.deployInfo}; fi`,
        "  fi",
        `  if [ -f ${files.previousCompose} ]; then`,
        "    [ \"$previous_target\" = \"$target\" ] || \"${target}_down\" || true",
        `    rm -f ${files.compose} ${files.env} ${files.target} && ln ${files.previousCompose} ${files.compose} && ln ${files.previousEnv} ${files.env} &&`,
        `      { [ ! -f ${files.previousTarget} ] || ln ${files.previousTarget} ${files.target}; } &&`,
        "      \"${previous_target}_up\" \"$previous_ref\" && say 'the previous deployment is running again' && return 0",
        "    say \"the previous deployment did not come back up either: see the app's containers and logs on this host ($app_dir)\"",
        "    return 1",
        "  fi",
        "  \"${target}_down\" || true",
        `  rm -f ${files.compose} ${files.env} ${files.target}`,
        "}",
        "fail() {",
        "  say \"deploy of $ref failed: $1\"",
        "  if restore; then say 'deploy-info.yml left as it was'; else say 'fix the host, then run pulumi up --refresh'; fi",
        "  exit 1",
        "}",
        // Links, not copies: after a restore both names may already be one file, and linking needs no free space.
        `rm -f ${files.previousCompose} ${files.previousEnv} ${files.previousTarget}`,
        `if [ -f ${files.compose} ]; then ln ${files.compose} ${files.previousCompose} && ln ${files.env} ${files.previousEnv}; fi`,
        `if [ -f ${files.target} ]; then ln ${files.target} ${files.previousTarget}; fi`,
        "trap 'fail \"interrupted by a signal\"' HUP INT TERM",
        `cp "$job/compose" ${files.compose}.tmp && mv ${files.compose}.tmp ${files.compose} || fail 'could not install the compose file (disk full?)'`,
        `cp "$job/env" ${files.env}.tmp && mv ${files.env}.tmp ${files.env} || fail 'could not install the env file (disk full?)'`,
        `echo "$target" > ${files.target}.tmp && mv ${files.target}.tmp ${files.target} || fail 'could not install the target marker (disk full?)'`,
        spec.target === "compose" ? [
            "say \"pulling $ref\"",
            `${composeCommand(composeProject(spec))} pull --quiet >&2 || fail 'docker compose pull failed (is the registry reachable from this host?)'`,
            ...removeLegacyContainers(spec),
        ] : [],
        // The app moves between targets: one restart, the old copy down before the new one takes its ports.
        "if [ \"$previous_target\" != \"$target\" ] && [ -f " + files.previousCompose + " ]; then",
        "  say \"moving from $previous_target to $target: stopping the $previous_target deployment\"",
        "  \"${previous_target}_down\" || fail \"could not stop the $previous_target deployment\"",
        "fi",
        `say ${shellQuote(`starting, ${waitWhat}`)}`,
        spec.target === "compose"
            ? `compose_up || fail 'the containers did not become healthy within ${timeout} s (see docker compose logs in '"$app_dir"')'`
            : "swarm_up \"$ref\" || fail 'Swarm did not run it healthy (the services are back on the previous image if Swarm rolled back)'",
        "\"${target}_running\" \"$ref\" || fail \"the running containers are not on $ref\"",
        "deployed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        writeSynced(files.deployInfo, `cat "$job/recordHead"; printf '\\ndeployed_at: "%s"\\n' "$deployed_at"; cat "$job/recordTail"`,
            "could not write deploy-info.yml (disk full or read-only?)"),
        writeSynced(files.history, `if [ -f ${files.history} ]; then cat ${files.history}; fi; echo '---'; cat ${files.deployInfo}.tmp`,
            "could not write deploy-history.yml (disk full or read-only?)"),
        `rm -f ${files.previousDeployInfo}`,
        `if [ -f ${files.deployInfo} ]; then ln ${files.deployInfo} ${files.previousDeployInfo} || fail 'could not keep the previous deploy-info.yml'; fi`,
        "recorded=1",
        `mv ${files.deployInfo}.tmp ${files.deployInfo} && mv ${files.history}.tmp ${files.history} && sync . || fail 'could not record the deploy'`,
        "trap - HUP INT TERM",
        `rm -f ${files.previousDeployInfo}`,
        // Jobs an hour old are done; younger ones may belong to a deploy waiting for the lock right now. The
        // latest job's log stays for whoever asks what happened.
        `find ${files.stagedDir} -mindepth 1 -maxdepth 1 -mmin +60 ! -path "$job" -exec rm -rf {} + 2>/dev/null || true`,
        "say \"deployed $ref\"",
    );
}

/** Markers of what observeCommands prints. */
export const observationMarkers = {
    deployInfo: "#--- deploy-info.yml ---",
    containers: "#--- containers ---",
    images: "#--- images ---",
    services: "#--- services ---",
} as const;

/**
 * Prints what the host holds for the app: deploy-info.yml, what runs it — every container of its compose
 * project (and of the former project name in this dir), running or not, or every task Swarm wants running for
 * its stack, and each service's spec — and the digests of their images. Fails when docker cannot answer: a
 * refresh must not mistake an unreachable engine for an app that is gone.
 */
function observeCommands(location: AppLocation, target: DeployTarget): string[] {
    const dir = appDir(location);
    return lines(
        `echo ${shellQuote(observationMarkers.deployInfo)}`,
        `if [ -f ${shellQuote(`${dir}/${files.deployInfo}`)} ]; then cat ${shellQuote(`${dir}/${files.deployInfo}`)}; fi`,
        `echo ${shellQuote(observationMarkers.containers)}`,
        target === "swarm"
            ? swarmObservation(location, observationMarkers.images, observationMarkers.services)
            : composeObservation(location, observationMarkers.images),
    );
}

/** Reads the host's state of the app without changing anything: what `pulumi refresh` compares with the stack. */
export function buildObserveScript(location: AppLocation, target: DeployTarget): string {
    return script("set -eu", observeCommands(location, target));
}

/**
 * Takes the app down — the compose project or the swarm stack, whichever the dir was last deployed with — and
 * moves deploy-info.yml into the history with removed_at. Nothing is deleted from the registry.
 */
export function buildRemoveScript(location: AppLocation, lockTimeoutSeconds = 600): string {
    const compose = composeCommand(composeProject(location));
    return script(
        "set -eu",
        sayFunction(`${location.app}@${location.workspace}`),
        enterAppDir(location),
        acquireLock(location, lockTimeoutSeconds),
        refuseOtherWorkspace(location),
        swarmDownFunction(location, 120),
        `if [ "$(cat ${files.target} 2>/dev/null || echo compose)" = swarm ]; then`,
        "  swarm_down",
        `elif [ -f ${files.compose} ]; then`,
        `  ${compose} down --remove-orphans >&2`,
        "fi",
        removeLegacyContainers(location),
        "fail() { say \"$1\"; exit 1; }",
        `if [ -f ${files.deployInfo} ]; then`,
        writeSynced(files.history, `if [ -f ${files.history} ]; then cat ${files.history}; fi; echo '---'; cat ${files.deployInfo}; ` +
            `printf 'removed_at: "%s"\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"`, "could not write deploy-history.yml (disk full or read-only?)")
            .map((line) => `  ${line}`),
        `  mv ${files.history}.tmp ${files.history}`,
        `  rm -f ${files.deployInfo}`,
        "fi",
        `rm -rf ${files.compose} ${files.previousCompose} ${files.env} ${files.previousEnv} ${files.target} ${files.previousTarget} ${files.stagedDir}`,
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
