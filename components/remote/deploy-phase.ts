// The deploy phase: the shell that runs on the host, detached from the SSH session, under the app's lock. It is
// a sequence of named steps, each a pure builder of shell lines (the way Kamal builds its commands apart from
// running them), read top to bottom in buildDeployPhase. The steps share the phase's variables — $job, $app_dir,
// $ref, $pinned_image, $target, $previous_target, $previous_ref, $switched — and its functions `say`, `fail`,
// `restore`, `apply_commit` and every target's `<name>_up`, `<name>_running`, `<name>_down`.
import { files, formerRestoreFiles, validateOwnerId } from "./layout";
import { DeploySpec, acquireLock, enterAppDir, pinnedRef, refuseOtherOwner } from "./scripts";
import { script, shellQuote } from "./shell";
import { defaultTarget, deployTargets, targetNamed } from "./targets/registry";
import { TargetController, TargetSpec } from "./targets/target";

/**
 * The phase's arguments (the job dir, the spill file) and its `say`: its log is on the host's disk, so what a
 * full disk keeps out of it goes to the spill file ($spill, in memory) that the session prints.
 */
export function phaseStart(what: string): string[] {
    const prefix = shellQuote(`${what}:`);
    return [
        "set -eu",
        "job=$1",
        "spill=${2:-/dev/null}",
        `say() { printf '%s\\n' ${prefix}" $*" >&2 || printf '%s\\n' ${prefix}" $*" >> "$spill" 2>/dev/null || true; }`,
    ];
}

/** From here this job is the one deploy of the dir: a next one that finds `started` without `status` knows it died. */
export function markStarted(): string[] {
    return [
        ": > \"$job/started\" 2>/dev/null || true",
        "trap 'echo \"$?\" > \"$job/status\" 2>/dev/null || true' EXIT",
    ];
}

/** What this deploy runs: $ref (pinned by digest), $pinned_image (the same without the digest) and $target. */
export function pinRelease(spec: DeploySpec): string[] {
    const ref = pinnedRef(spec);
    return [
        `ref=${shellQuote(ref)}`,
        `pinned_image=${shellQuote(ref.slice(0, ref.lastIndexOf("@")))}`,
        `target=${targetNamed(spec.target).name}`,
    ];
}

/** What the targets' shell knows of this deploy. */
function targetSpecOf(spec: DeploySpec): TargetSpec {
    return {
        app: spec.app, workspace: spec.workspace, org: spec.org, deployRoot: spec.deployRoot, services: spec.services,
        healthTimeoutSeconds: spec.healthTimeoutSeconds, withRegistryAuth: spec.registryUsername !== undefined, proxy: spec.proxy,
    };
}

/** Every target's shell functions: a deploy that switches target takes the app down from the one it leaves. */
export function targetFunctions(spec: DeploySpec): string[] {
    return deployTargets().flatMap((target) => target.functions(targetSpecOf(spec)));
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
export function reportDeadDeploys(): string[] {
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
 * The release as the app dir will hold it, in the job dir: the compose file (which reads app.env from its own
 * dir), the env file and the owner mark; and $previous_target, what the dir was last deployed with.
 */
export function stageRelease(spec: Pick<DeploySpec, "owner" | "workspace">): string[] {
    return [
        // Deploys from before targets existed left no marker: they were the default target's.
        `previous_target=$(cat ${files.target} 2>/dev/null || echo ${defaultTarget.name})`,
        `{ ln "$job/compose" "$job/${files.compose}" && ln "$job/env" "$job/${files.env}" &&`,
        `  printf 'id: %s\\nworkspace: %s\\n' ${shellQuote(validateOwnerId(spec.owner))} ${shellQuote(spec.workspace)} > "$job/${files.owner}"; } ||`,
        "  { say \"could not stage the deploy in $job (disk full or read-only?); nothing was changed\"; exit 1; }",
    ];
}

/**
 * A target that already runs the release and is recorded exactly so (whoever deployed it, whenever) is left
 * alone: the phase ends here, giving a dir from before owner marks its mark and changing nothing else.
 */
export function skipWhenCurrent(): string[] {
    const withoutWho = "grep -v -e '^deployed_at: ' -e '^deployed_by: '";
    return [
        // The record as this deploy would write it, but for when and by whom: a recovery credits nobody new.
        "recorded_as_target() {",
        `  [ -f ${files.deployInfo} ] &&`,
        `    [ "$({ cat "$job/recordHead"; printf '\\n'; cat "$job/recordTail"; } | ${withoutWho})" = "$(${withoutWho} ${files.deployInfo})" ]`,
        "}",
        `if [ "$previous_target" = "$target" ] && recorded_as_target && cmp -s "$job/compose" ${files.compose} && cmp -s "$job/env" ${files.env} &&`,
        "  \"${target}_running\" \"$ref\"; then",
        `  cmp -s "$job/${files.owner}" ${files.owner} || { ln -f "$job/${files.owner}" ${files.owner}.new && mv -f ${files.owner}.new ${files.owner}; }`,
        "  say \"$ref is already running and recorded; nothing to do\"",
        "  exit 0",
        "fi",
    ];
}

/** $previous_ref: what the recorded deploy runs, for a restore to bring back; empty when nothing is recorded. */
export function recallRecorded(): string[] {
    return [
        `previous_ref=$(sed -n 's/^image: *//p' ${files.deployInfo} 2>/dev/null | tr -d "\\"'")@$(sed -n 's/^digest: *//p' ${files.deployInfo} 2>/dev/null | tr -d "\\"'") || true`,
        "case \"$previous_ref\" in @*|*@) previous_ref='' ;; esac",
    ];
}

/**
 * restore: the recorded deployment back, as deploy-info.yml names it — never whatever the compose file on disk
 * says: a compose file naming another version of the image (changed by hand) is not brought up, and what comes
 * up is checked to run the recorded digest. With nothing recorded, the new containers are only taken down.
 * fail REASON: says it, restores once the switch has begun ($switched), and ends the phase; a signal fails too.
 */
export function armRestore(): string[] {
    return [
        "switched=0",
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
        "fail() {",
        "  say \"deploy of $ref failed: $1\"",
        "  if [ \"$switched\" = 0 ]; then say 'nothing was changed: the recorded deployment runs as it did'; exit 1; fi",
        "  if restore; then say 'deploy-info.yml left as it was'; else say 'fix the host, then run pulumi up --refresh'; fi",
        "  exit 1",
        "}",
        "trap 'fail \"interrupted by a signal\"' HUP INT TERM",
    ];
}

/** From here a failure restores: the target first takes over what older deploys left under other names. */
export function beginSwitch(takeOver: string[]): string[] {
    return ["switched=1", ...takeOver];
}

/** The app moves between targets: one restart, the old copy down before the new one takes its ports. */
export function leavePreviousTarget(): string[] {
    return [
        `if [ "$previous_target" != "$target" ] && [ -f ${files.compose} ]; then`,
        "  say \"moving from $previous_target to $target: stopping the $previous_target deployment\"",
        "  \"${previous_target}_down\" || fail \"could not stop the $previous_target deployment\"",
        "fi",
    ];
}

/** The release up from the job dir, healthy as the target judges it, and checked to run $ref. */
export function startRelease(target: TargetController, spec: TargetSpec): string[] {
    return [
        `say ${shellQuote(`starting, ${target.waiting(spec.healthTimeoutSeconds)}`)}`,
        `(cd "$job" && ${target.name}_up "$ref") || fail ${shellQuote(target.upFailure(spec))}`,
        "\"${target}_running\" \"$ref\" || fail \"the running containers are not on $ref\"",
    ];
}

/** Writes a file of the release into the job dir, synced, or fails the deploy before anything is decided. */
function stageSynced(file: string, produce: string): string {
    return `{ ${produce}; } > "$job/${file}" && sync "$job/${file}" || fail ${shellQuote(`could not write ${file} (disk full or read-only?)`)}`;
}

/** The release's record, its history (the dir's, with the record appended) and its target, in the job dir. */
export function stageRecord(): string[] {
    return [
        "deployed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        stageSynced(files.deployInfo, `cat "$job/recordHead"; printf '\\ndeployed_at: "%s"\\n' "$deployed_at"; cat "$job/recordTail"`),
        stageSynced(files.history, `if [ -f ${files.history} ]; then cat ${files.history}; fi; echo '---'; cat "$job/${files.deployInfo}"`),
        stageSynced(files.target, "echo \"$target\""),
    ];
}

/** The one step that decides the deploy: `.commit` renamed into place. Before it, everything is restored; after it, finished. */
export function decideDeploy(): string[] {
    return [
        `{ printf '%s\\n' "$job" > ${files.commit}.tmp && sync ${files.commit}.tmp && mv ${files.commit}.tmp ${files.commit}; } ||`,
        `  { rm -f ${files.commit}.tmp 2>/dev/null || true; fail 'could not record the deploy (disk full or read-only?)'; }`,
    ];
}

/** The decided release's files linked into the app dir, signals held off meanwhile: a decided deploy is never restored. */
export function applyDeploy(): string[] {
    return [
        "trap '' HUP INT TERM",
        "apply_commit || { say \"deployed $ref, but putting its record in place failed (disk or permissions?): " +
            "pulumi up --refresh finishes it\"; exit 1; }",
        "trap - HUP INT TERM",
    ];
}

/**
 * Jobs an hour old are done; younger ones may belong to a deploy waiting for the lock right now. The latest
 * job's log stays for whoever asks what happened.
 */
export function pruneJobs(): string[] {
    return [
        `find ${files.stagedDir} -mindepth 1 -maxdepth 1 -mmin +60 ! -path "$job" -exec rm -rf {} + 2>/dev/null || true`,
        "say \"deployed $ref\"",
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
    const target = targetNamed(spec.target);
    const targetSpec = targetSpecOf(spec);
    return script(
        phaseStart(`${spec.app}@${spec.workspace}`),
        enterAppDir(spec),
        acquireLock(spec, spec.lockTimeoutSeconds ?? 600),
        markStarted(),
        refuseOtherOwner(spec, validateOwnerId(spec.owner)),
        pinRelease(spec),
        targetFunctions(spec),
        commitFunctions(),
        reportDeadDeploys(),
        stageRelease(spec),
        skipWhenCurrent(),
        recallRecorded(),
        armRestore(),
        target.prepare(targetSpec),
        beginSwitch(target.takeOver(targetSpec)),
        leavePreviousTarget(),
        startRelease(target, targetSpec),
        stageRecord(),
        decideDeploy(),
        applyDeploy(),
        pruneJobs(),
    );
}
