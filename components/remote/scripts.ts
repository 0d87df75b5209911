// The shell that runs on a Docker host, built by small named builders (the way Kamal keeps its commands apart
// from their execution) and combined in the order a deploy takes. HostDeployment hands the result to SSH; the
// integration tests run the very same text over a real SSH host. Every interpolated value is validated here
// and single-quoted; everything large or user-written (labels, compose file, environment) travels on stdin.
import { validateDigest, validateRegistry, validateRepository } from "../registry/reference";
import { composeCommand, composeFunctions, composeObservation, removeLegacyContainers } from "./compose-commands";
import { AppLocation, DeployTarget, appDir, composeProject, files, formerRestoreFiles, validateOwnerId } from "./layout";
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

/** Both targets' shell functions: a deploy that switches target takes the app down from the one it leaves. */
function targetFunctions(spec: DeploySpec): string[] {
    return lines(
        composeFunctions(spec),
        swarmFunctions({ ...spec, withRegistryAuth: spec.registryUsername !== undefined }),
    );
}

/**
 * The phase's `say`: its log is on the host's disk, so what a full disk keeps out of it goes to the spill file
 * ($spill, in memory) that the session prints.
 */
function phaseSayFunction(what: string): string[] {
    const prefix = shellQuote(`${what}:`);
    return [`say() { printf '%s\\n' ${prefix}" $*" >&2 || printf '%s\\n' ${prefix}" $*" >> "$spill" 2>/dev/null || true; }`];
}

/** The files a committed deploy makes current, the record last: its rename is what readers take as the deploy. */
const committedFiles = [files.compose, files.env, files.target, files.owner, files.history, files.deployInfo];

/**
 * apply_commit: links every file of the release `.commit` names into the app dir, then drops `.commit`. Hard
 * links need no free space, and linking again what is already linked changes nothing, so a commit cut short
 * (a killed phase, a restart) is finished by running it again: the next deploy does, first thing.
 */
export function commitFunctions(): string[] {
    return [
        "apply_commit() {",
        `  release=$(cat ${files.commit}) || return 1`,
        `  for file in ${committedFiles.join(" ")}; do`,
        // Linked already when an earlier try got that far: mv refuses to move a file onto itself.
        "    [ \"$file\" -ef \"$release/$file\" ] || { ln -f \"$release/$file\" \"$file.new\" && mv -f \"$file.new\" \"$file\"; } || return 1",
        "  done",
        `  sync . && rm -f ${files.commit} ${formerRestoreFiles.join(" ")}`,
        "}",
        `if [ -f ${files.commit} ]; then`,
        `  say "finishing the record of an earlier deploy that was cut short while it was being recorded ($(cat ${files.commit}))"`,
        "  apply_commit || { say \"could not finish it (its files in $(cat " + files.commit + ") are gone?): see $app_dir; " +
            `once the files there agree with deploy-info.yml, remove ${files.commit} and run pulumi up --refresh"; exit 1; }`,
        "  echo 0 > \"$release/status\" 2>/dev/null || true",
        "fi",
    ];
}

/**
 * A deploy whose phase held the lock (`started`) but never wrote its status died half-way: killed, out of
 * memory, or the host restarted. Said once, by the next deploy, with the last thing it said.
 */
function reportDeadDeploys(): string[] {
    return [
        `for dead in ${files.stagedDir}/job.*; do`,
        "  [ \"$dead\" != \"$job\" ] && [ -f \"$dead/started\" ] && [ ! -f \"$dead/status\" ] || continue",
        "  say \"an earlier deploy ($app_dir/$dead) never finished: its process died (killed, out of memory, or the host restarted); " +
            "it had not been recorded, so this deploy starts from what deploy-info.yml records. It last said: $(tail -n 1 \"$dead/log\" 2>/dev/null)\"",
        "  echo died > \"$dead/status\" 2>/dev/null || true",
        "done",
    ];
}

/**
 * The deploy phase, under the app's lock. The new release is staged whole in the job dir (compose file, env
 * file, then its record and history) and runs from there: pull → up → verify the running digest. The app dir's
 * own files are the recorded deploy's until the one step that decides the deploy (`.commit` renamed into
 * place); from there the release's files are linked in, the record last. A failure anywhere before that step
 * brings back the recorded deployment — the digest deploy-info.yml names, checked to be what runs — and leaves
 * every file as it was. A target that already runs and is recorded exactly so (whoever deployed it) is left alone.
 */
export function buildDeployPhase(spec: DeploySpec): string {
    const ref = pinnedRef(spec);
    const owner = validateOwnerId(spec.owner);
    const timeout = Math.trunc(spec.healthTimeoutSeconds);
    const waitWhat = spec.target === "swarm"
        ? `waiting up to ${timeout} s for Swarm to run it healthy on every task and finish the update`
        : `waiting up to ${timeout} s for it to be healthy`;
    const withoutWho = "grep -v -e '^deployed_at: ' -e '^deployed_by: '";
    return script(
        "set -eu",
        "job=$1",
        "spill=${2:-/dev/null}",
        phaseSayFunction(`${spec.app}@${spec.workspace}`),
        enterAppDir(spec),
        acquireLock(spec, spec.lockTimeoutSeconds ?? 600),
        // From here this job is the one deploy of the dir: a next one that finds `started` without `status` knows it died.
        ": > \"$job/started\" 2>/dev/null || true",
        "trap 'echo \"$?\" > \"$job/status\" 2>/dev/null || true' EXIT",
        refuseOtherOwner(spec, owner),
        `ref=${shellQuote(ref)}`,
        `pinned_image=${shellQuote(ref.slice(0, ref.lastIndexOf("@")))}`,
        `target=${spec.target}`,
        targetFunctions(spec),
        commitFunctions(),
        reportDeadDeploys(),
        // Deploys from before targets existed left no marker: they were compose.
        `previous_target=$(cat ${files.target} 2>/dev/null || echo compose)`,
        // The release as the app dir will hold it: the compose file reads app.env from its own dir.
        `{ ln "$job/compose" "$job/${files.compose}" && ln "$job/env" "$job/${files.env}" &&`,
        `  printf 'id: %s\\nworkspace: %s\\n' ${shellQuote(owner)} ${shellQuote(spec.workspace)} > "$job/${files.owner}"; } ||`,
        "  { say \"could not stage the deploy in $job (disk full or read-only?); nothing was changed\"; exit 1; }",
        // The record as this deploy would write it, but for when and by whom: a recovery credits nobody new.
        "recorded_as_target() {",
        `  [ -f ${files.deployInfo} ] &&`,
        `    [ "$({ cat "$job/recordHead"; printf '\\n'; cat "$job/recordTail"; } | ${withoutWho})" = "$(${withoutWho} ${files.deployInfo})" ]`,
        "}",
        `if [ "$previous_target" = "$target" ] && recorded_as_target && cmp -s "$job/compose" ${files.compose} && cmp -s "$job/env" ${files.env} &&`,
        "  \"${target}_running\" \"$ref\"; then",
        // A dir from before owner marks gets its mark; nothing else changes.
        `  cmp -s "$job/${files.owner}" ${files.owner} || { ln -f "$job/${files.owner}" ${files.owner}.new && mv -f ${files.owner}.new ${files.owner}; }`,
        "  say \"$ref is already running and recorded; nothing to do\"",
        "  exit 0",
        "fi",
        // What the recorded deploy runs, for a restore to bring back; empty when nothing is recorded.
        `previous_ref=$(sed -n 's/^image: *//p' ${files.deployInfo} 2>/dev/null | tr -d "\\"'")@$(sed -n 's/^digest: *//p' ${files.deployInfo} 2>/dev/null | tr -d "\\"'") || true`,
        "case \"$previous_ref\" in @*|*@) previous_ref='' ;; esac",
        "switched=0",
        restoreFunction(),
        "fail() {",
        "  say \"deploy of $ref failed: $1\"",
        "  if [ \"$switched\" = 0 ]; then say 'nothing was changed: the recorded deployment runs as it did'; exit 1; fi",
        "  if restore; then say 'deploy-info.yml left as it was'; else say 'fix the host, then run pulumi up --refresh'; fi",
        "  exit 1",
        "}",
        "trap 'fail \"interrupted by a signal\"' HUP INT TERM",
        spec.target === "compose" ? [
            "say \"pulling $ref\"",
            `(cd "$job" && ${composeCommand(composeProject(spec))} pull --quiet >&2) || fail 'docker compose pull failed (is the registry reachable from this host?)'`,
            ] : [],
        "switched=1",
        spec.target === "compose" ? removeLegacyContainers(spec) : [],
        // The app moves between targets: one restart, the old copy down before the new one takes its ports.
        `if [ "$previous_target" != "$target" ] && [ -f ${files.compose} ]; then`,
        "  say \"moving from $previous_target to $target: stopping the $previous_target deployment\"",
        "  \"${previous_target}_down\" || fail \"could not stop the $previous_target deployment\"",
        "fi",
        `say ${shellQuote(`starting, ${waitWhat}`)}`,
        spec.target === "compose"
            ? `(cd "$job" && compose_up) || fail 'the containers did not become healthy within ${timeout} s (see docker compose -p ${composeProject(spec)} logs)'`
            : "(cd \"$job\" && swarm_up \"$ref\") || fail 'Swarm did not run it healthy (the services are back on the previous image if Swarm rolled back)'",
        "\"${target}_running\" \"$ref\" || fail \"the running containers are not on $ref\"",
        "deployed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        stageSynced(files.deployInfo, `cat "$job/recordHead"; printf '\\ndeployed_at: "%s"\\n' "$deployed_at"; cat "$job/recordTail"`),
        stageSynced(files.history, `if [ -f ${files.history} ]; then cat ${files.history}; fi; echo '---'; cat "$job/${files.deployInfo}"`),
        stageSynced(files.target, "echo \"$target\""),
        // The one step that decides the deploy: before it, everything is restored; after it, finished.
        `{ printf '%s\\n' "$job" > ${files.commit}.tmp && sync ${files.commit}.tmp && mv ${files.commit}.tmp ${files.commit}; } ||`,
        `  { rm -f ${files.commit}.tmp 2>/dev/null || true; fail 'could not record the deploy (disk full or read-only?)'; }`,
        "trap '' HUP INT TERM",
        "apply_commit || { say \"deployed $ref, but putting its record in place failed (disk or permissions?): " +
            "pulumi up --refresh finishes it\"; exit 1; }",
        "trap - HUP INT TERM",
        // Jobs an hour old are done; younger ones may belong to a deploy waiting for the lock right now. The
        // latest job's log stays for whoever asks what happened.
        `find ${files.stagedDir} -mindepth 1 -maxdepth 1 -mmin +60 ! -path "$job" -exec rm -rf {} + 2>/dev/null || true`,
        "say \"deployed $ref\"",
    );
}

/** Writes a file of the release into the job dir, synced, or fails the deploy before anything is decided. */
function stageSynced(file: string, produce: string): string[] {
    return [`{ ${produce}; } > "$job/${file}" && sync "$job/${file}" || fail ${shellQuote(`could not write ${file} (disk full or read-only?)`)}`];
}

/**
 * restore: the recorded deployment back, as deploy-info.yml names it — never whatever the compose file on disk
 * says: a compose file naming another version of the image (changed by hand) is not brought up, and what comes
 * up is checked to run the recorded digest. With nothing recorded, the new containers are only taken down.
 */
function restoreFunction(): string[] {
    return [
        "restore() {",
        "  trap '' HUP INT TERM",
        `  rm -f ${files.commit}.tmp 2>/dev/null || true`,
        "  [ \"$previous_target\" = \"$target\" ] || [ ! -f " + files.compose + " ] || \"${target}_down\" || true",
        `  if [ -z "$previous_ref" ] || [ ! -f ${files.compose} ]; then`,
        "    \"${target}_down\" || true",
        "    return 0",
        "  fi",
        `  others=$(sed -n 's/^ *image: *//p' ${files.compose} | tr -d "\\"'" | grep -F "$pinned_image@" | grep -vxF "$previous_ref" || true)`,
        "  if [ -n \"$others\" ]; then",
        `    say "${files.compose} in $app_dir names $others, not the recorded $previous_ref (changed by hand?): not bringing it up"`,
        "    return 1",
        "  fi",
        "  if \"${previous_target}_up\" \"$previous_ref\" && \"${previous_target}_running\" \"$previous_ref\"; then",
        "    say \"the previous deployment is running again ($previous_ref, as deploy-info.yml records it)\"",
        "    return 0",
        "  fi",
        "  say \"the previous deployment ($previous_ref) did not come back up either: see the app's containers and logs on this host ($app_dir)\"",
        "  return 1",
        "}",
    ];
}

/** Markers of what observeCommands prints. */
export const observationMarkers = {
    files: "#--- files ---",
    deployInfo: "#--- deploy-info.yml ---",
    containers: "#--- containers ---",
    images: "#--- images ---",
    services: "#--- services ---",
} as const;

/**
 * Prints what the host holds for the app: the dir's owner, a commit left unfinished and the images its compose
 * file names; deploy-info.yml; what runs it — every container of its compose
 * project (and of the former project name in this dir), running or not, or every task Swarm wants running for
 * its stack, and each service's spec — and the digests of their images. Fails when docker cannot answer: a
 * refresh must not mistake an unreachable engine for an app that is gone.
 */
function observeCommands(location: AppLocation, target: DeployTarget): string[] {
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
export function buildRemoveScript(location: AppLocation, owner: string | undefined, lockTimeoutSeconds = 600): string {
    const compose = composeCommand(composeProject(location));
    return script(
        "set -eu",
        sayFunction(`${location.app}@${location.workspace}`),
        enterAppDir(location),
        acquireLock(location, lockTimeoutSeconds),
        refuseOtherOwner(location, owner),
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
