// The shell that runs on a Docker host, built by pure functions (the way Kamal keeps its commands apart
// from their execution): AppDeployment hands these texts to RemoteCommand, the integration tests run the
// very same texts over ssh. Every interpolated value is validated here and single-quoted.
import { InvalidReferenceError } from "../registry/errors";
import { validateDigest, validateRegistry, validateRepository } from "../registry/reference";

export const appNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const absolutePathPattern = /^\/(?:[A-Za-z0-9._-]+\/?)*$/;
const placeholder = "__IAC_DEPLOYED_AT__";

/** Single-quotes a value for POSIX sh; the only character needing care inside is the quote itself. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, "'\\''")}'`;
}

export function validateAppName(kind: string, value: string): string {
    if (!appNamePattern.test(value)) {
        throw new InvalidReferenceError(kind, value, "expected lowercase letters, digits and '-', e.g. hello-world");
    }
    return value;
}

export function validateAbsolutePath(kind: string, value: string): string {
    if (!absolutePathPattern.test(value) || value.split("/").includes("..")) {
        throw new InvalidReferenceError(kind, value, "expected an absolute path of [A-Za-z0-9._-] components, e.g. /opt");
    }
    return value;
}

/** Where an app lives on its host: `<deployRoot>/<org>/<app>`. */
export interface AppLocation {
    app: string;
    workspace: string;
    org: string;
    deployRoot: string;
}

export function appDir(location: AppLocation): string {
    validateAppName("app", location.app);
    validateAppName("workspace", location.workspace);
    validateAppName("org", location.org);
    return `${validateAbsolutePath("deploy root", location.deployRoot).replace(/\/+$/, "")}/${location.org}/${location.app}`;
}

export const files = {
    compose: "compose.yml",
    previousCompose: "compose.previous.yml",
    env: "app.env",
    previousEnv: "app.previous.env",
    deployInfo: "deploy-info.yml",
    history: "deploy-history.yml",
    lock: ".deploy.lock",
    stagedDir: "staged",
} as const;

/** Staged files are named by the hash of what they hold, so staging never races a deploy. */
export function stagedNames(contentHash: string): { compose: string; env: string } {
    if (!/^[a-f0-9]{12,64}$/.test(contentHash)) {
        throw new InvalidReferenceError("content hash", contentHash, "expected lowercase hex");
    }
    return { compose: `${files.stagedDir}/compose.${contentHash}.yml`, env: `${files.stagedDir}/app.${contentHash}.env` };
}

/** The common head of every script: strict mode, the app dir, and a lock held until the script exits. */
function header(location: AppLocation, lockTimeoutSeconds: number): string[] {
    const dir = appDir(location);
    return [
        "set -eu",
        `app_dir=${shellQuote(dir)}`,
        "mkdir -p \"$app_dir\"",
        "cd \"$app_dir\"",
        `command -v flock >/dev/null || { echo ${shellQuote(`flock is missing on this host: install util-linux (apt-get install util-linux)`)} >&2; exit 1; }`,
        `exec 9>>${shellQuote(files.lock)}`,
        `if ! flock -w ${Math.trunc(lockTimeoutSeconds)} 9; then`,
        `  echo ${shellQuote(`another deploy of ${location.app} on this host has held the lock for ${Math.trunc(lockTimeoutSeconds)} s; ` +
            `wait for it to finish (or look for a stuck one: fuser ${dir}/${files.lock}) and run pulumi up again`)} >&2`,
        "  exit 1",
        "fi",
    ];
}

/**
 * Writes the rendered compose file (in the script) and the env file (read from stdin, which may hold
 * secrets) under content-addressed names; the deploy script moves them into place under the lock.
 */
export function buildStageScript(location: AppLocation, contentHash: string, composeContent: string): string {
    const dir = appDir(location);
    const staged = stagedNames(contentHash);
    return [
        "set -eu",
        "umask 077",
        `mkdir -p ${shellQuote(`${dir}/${files.stagedDir}`)}`,
        `cd ${shellQuote(dir)}`,
        `printf '%s' ${shellQuote(Buffer.from(composeContent).toString("base64"))} | base64 -d > ${shellQuote(staged.compose)}.tmp`,
        `mv ${shellQuote(staged.compose)}.tmp ${shellQuote(staged.compose)}`,
        `cat > ${shellQuote(staged.env)}.tmp`,
        `mv ${shellQuote(staged.env)}.tmp ${shellQuote(staged.env)}`,
        `echo ${shellQuote(`staged ${staged.compose} in ${dir}`)}`,
    ].join("\n") + "\n";
}

export interface DeploySpec extends AppLocation {
    registry: string;
    repository: string;
    digest: string;
    /** The compose services that run the app's image, checked after `up`. */
    services: string[];
    contentHash: string;
    /** deploy-info.yml as the yaml package wrote it, with `deployedAtPlaceholder` for the host's clock. */
    deployInfoYaml: string;
    healthTimeoutSeconds: number;
    lockTimeoutSeconds?: number;
    /** Log in first; the password comes on stdin, never in argv or the script. */
    registryUsername?: string;
}

export const deployedAtPlaceholder = placeholder;

/**
 * Deploys under the app's lock: stage → pull → up --wait → verify the running digest → record. Any failure
 * restores the previous compose file and brings it back up, leaves deploy-info.yml untouched and exits 1.
 * A target that is already running and recorded is left alone (nothing pulled, nothing recorded again).
 */
export function buildDeployScript(spec: DeploySpec): string {
    const ref = `${validateRegistry(spec.registry)}/${validateRepository(spec.repository)}@${validateDigest(spec.digest)}`;
    const staged = stagedNames(spec.contentHash);
    const services = spec.services.map((service) => shellQuote(validateAppName("compose service", service))).join(" ");
    if (!spec.deployInfoYaml.includes(placeholder)) {
        throw new Error("deploy-info.yml text must carry the deployed_at placeholder");
    }
    const timeout = Math.trunc(spec.healthTimeoutSeconds);
    const what = `${spec.app}@${spec.workspace}`;
    const compose = `docker compose -p ${shellQuote(spec.app)} -f ${shellQuote(files.compose)} --env-file /dev/null`;
    return [
        ...header(spec, spec.lockTimeoutSeconds ?? 600),
        // One app dir per org/app on a host: a second workspace pointed at it would silently take it over.
        `if [ -f ${files.deployInfo} ] && ! grep -qxF ${shellQuote(`workspace: ${spec.workspace}`)} ${files.deployInfo}; then`,
        `  echo ${shellQuote(`${what}: ${appDir(spec)} belongs to another workspace (see its deploy-info.yml); ` +
            "give this workspace its own iac:org or iac:deployRoot")} >&2`,
        "  exit 1",
        "fi",
        `ref=${shellQuote(ref)}`,
        `say() { printf '%s\\n' "${what}: $*" >&2; }`,
        // Every service of ours runs an image whose RepoDigests hold the target ref.
        "running_target() {",
        `  for service in ${services}; do`,
        `    ids=$(${compose} ps -q "$service" 2>/dev/null) || return 1`,
        "    [ -n \"$ids\" ] || return 1",
        "    for id in $ids; do",
        "      image=$(docker inspect --format '{{.Image}}' \"$id\") || return 1",
        "      docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \"$image\" | grep -qxF \"$ref\" || return 1",
        "    done",
        "  done",
        "}",
        "restore() {",
        `  if [ -f ${files.previousCompose} ]; then`,
        `    cp ${files.previousCompose} ${files.compose}`,
        `    cp ${files.previousEnv} ${files.env}`,
        `    if ${compose} up -d --wait --remove-orphans >&2; then`,
        "      say 'the previous deployment is running again'",
        "    else",
        "      say 'the previous deployment did not come back up either: check with docker compose ps in '\"$app_dir\"",
        "    fi",
        "  else",
        `    ${compose} down --remove-orphans >&2 || true`,
        `    rm -f ${files.compose} ${files.env}`,
        "  fi",
        "}",
        "fail() {",
        "  say \"deploy of $ref failed: $1; deploy-info.yml left as it was\"",
        "  restore",
        "  exit 1",
        "}",
        `if [ -f ${files.deployInfo} ] && grep -qxF ${shellQuote(`digest: ${spec.digest}`)} ${files.deployInfo} && ` +
            `cmp -s ${shellQuote(staged.compose)} ${files.compose} && cmp -s ${shellQuote(staged.env)} ${files.env} && running_target; then`,
        "  say \"$ref is already running and recorded; nothing to do\"",
        `  cat ${files.deployInfo}`,
        "  exit 0",
        "fi",
        `[ -f ${shellQuote(staged.compose)} ] || { say 'the staged compose file is missing; run pulumi up again'; exit 1; }`,
        `if [ -f ${files.compose} ]; then cp ${files.compose} ${files.previousCompose}; cp ${files.env} ${files.previousEnv}; ` +
            `else rm -f ${files.previousCompose} ${files.previousEnv}; fi`,
        `cp ${shellQuote(staged.compose)} ${files.compose}`,
        `cp ${shellQuote(staged.env)} ${files.env}`,
        ...(spec.registryUsername === undefined ? [] : [
            `say ${shellQuote(`logging in to ${spec.registry} as ${spec.registryUsername}`)}`,
            `docker login --username ${shellQuote(spec.registryUsername)} --password-stdin ${shellQuote(spec.registry)} >/dev/null ` +
                `|| fail ${shellQuote(`the registry ${spec.registry} refused the login of ${spec.registryUsername}`)}`,
        ]),
        "say \"pulling $ref\"",
        `${compose} pull --quiet >&2 || fail 'docker compose pull failed (is the registry reachable from this host?)'`,
        `say 'starting, waiting up to ${timeout} s for it to be healthy'`,
        `timeout ${timeout + 30} ${compose} up -d --wait --wait-timeout ${timeout} --remove-orphans >&2 ` +
            `|| fail 'the containers did not become healthy within ${timeout} s (see docker compose logs in '"$app_dir"')'`,
        "running_target || fail \"the running containers are not on $ref\"",
        `deployed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)`,
        `printf '%s' ${shellQuote(Buffer.from(spec.deployInfoYaml).toString("base64"))} | base64 -d ` +
            `| sed "s/${placeholder}/$deployed_at/" > ${files.deployInfo}.tmp`,
        `mv ${files.deployInfo}.tmp ${files.deployInfo}`,
        `{ echo '---'; cat ${files.deployInfo}; } >> ${files.history}`,
        // Stagings an hour old will not be deployed as they are; younger ones may belong to a deploy waiting
        // for the lock right now.
        `find ${files.stagedDir} -type f -mmin +60 ! -path ${shellQuote(staged.compose)} ! -path ${shellQuote(staged.env)} -delete`,
        "say \"deployed $ref\"",
        `cat ${files.deployInfo}`,
    ].join("\n") + "\n";
}

/**
 * Takes the app down and moves deploy-info.yml into the history with removed_at. Nothing is deleted from
 * the registry.
 */
export function buildRemoveScript(location: AppLocation, lockTimeoutSeconds = 600): string {
    const compose = `docker compose -p ${shellQuote(location.app)} -f ${shellQuote(files.compose)} --env-file /dev/null`;
    return [
        ...header(location, lockTimeoutSeconds),
        `if [ -f ${files.compose} ]; then ${compose} down --remove-orphans >&2; fi`,
        `if [ -f ${files.deployInfo} ]; then`,
        `  { echo '---'; cat ${files.deployInfo}; printf 'removed_at: "%s"\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; } >> ${files.history}`,
        `  rm -f ${files.deployInfo}`,
        "fi",
        `rm -rf ${files.compose} ${files.previousCompose} ${files.env} ${files.previousEnv} ${files.stagedDir}`,
        `echo ${shellQuote(`removed ${location.app} from ${location.workspace}`)}`,
    ].join("\n") + "\n";
}

/** Separates deploy-info.yml from deploy-history.yml in what buildReadRecordsScript prints. */
export const historyMarker = "#--- deploy-history.yml ---";

/**
 * Prints deploy-info.yml (nothing when the app has never been deployed here), the history marker, then
 * deploy-history.yml: the records images:overview and cleanup read.
 */
export function buildReadRecordsScript(location: AppLocation): string {
    const dir = appDir(location);
    return [
        `d=${shellQuote(dir)}`,
        `if [ -f "$d/${files.deployInfo}" ]; then cat "$d/${files.deployInfo}"; fi`,
        `echo ${shellQuote(historyMarker)}`,
        `if [ -f "$d/${files.history}" ]; then cat "$d/${files.history}"; fi`,
    ].join("\n") + "\n";
}

/** What buildReadRecordsScript printed, split in two. */
export function splitRecords(output: string): { deployInfo: string; history: string } {
    const at = output.indexOf(`${historyMarker}\n`);
    return at < 0
        ? { deployInfo: output, history: "" }
        : { deployInfo: output.slice(0, at), history: output.slice(at + historyMarker.length + 1) };
}
