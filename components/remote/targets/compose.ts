// The compose target: docker compose on one Docker host. Its part of the host-side shell (`compose_up`,
// `compose_running REF`, `compose_down`, the pull before the switch, the containers of a former project name),
// what observation prints of the app's containers, and the env file in compose's quoting.
import { AppLocation, appDir, composeLabels, composeProject, files, legacyComposeProject, validateServiceName } from "../layout";
import { shellQuote } from "../shell";
import { ObservationMarkers, TargetController, TargetSpec } from "./target";

export function composeCommand(project: string): string {
    return `docker compose -p ${shellQuote(project)} -f ${files.compose} --env-file /dev/null`;
}

/** Sets $legacy to the containers of this dir that a deploy before dir-derived project names started. */
function findLegacyContainers(location: AppLocation): string {
    return `legacy=$(docker ps -aq --filter ${shellQuote(`label=${composeLabels.project}=${legacyComposeProject(location)}`)} ` +
        `--filter ${shellQuote(`label=${composeLabels.workingDir}=${appDir(location)}`)})`;
}

/** Removes the containers of this dir that a deploy before dir-derived project names started. */
function removeLegacyContainers(location: AppLocation): string[] {
    return [
        findLegacyContainers(location),
        "if [ -n \"$legacy\" ]; then",
        "  say 'adopting the containers started under the former project name'",
        "  docker rm -f $legacy >/dev/null",
        "fi",
    ];
}

/**
 * `<name> REF`: every service of ours has a running container in the project `project` (a shell word: a quoted
 * name, or a "…$var…" the caller sets), and each runs an image whose RepoDigests hold REF. By the labels compose
 * sets, as compose ps finds them, without starting the compose plugin (about 0.1 s) once per service.
 */
export function projectRunningFunction(name: string, project: string, services: string[]): string[] {
    const quoted = services.map((service) => shellQuote(validateServiceName(service))).join(" ");
    return [
        `${name}() {`,
        `  for service in ${quoted}; do`,
        `    ids=$(docker ps -q --filter "label=${composeLabels.project}="${project} --filter "label=${composeLabels.service}=$service") || return 1`,
        "    [ -n \"$ids\" ] || return 1",
        "    for id in $ids; do",
        "      image=$(docker inspect --format '{{.Image}}' \"$id\") || return 1",
        "      docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \"$image\" | grep -qxF \"$1\" || return 1",
        "    done",
        "  done",
        "}",
    ];
}

/** Lines that stop and remove every container of the project `project` (a shell word), by label; `onFailure` when docker fails. */
export function projectDown(project: string, onFailure = "return 1"): string[] {
    return [
        `ids=$(docker ps -aq --filter "label=${composeLabels.project}="${project}) || ${onFailure}`,
        `[ -z "$ids" ] || { docker stop $ids >/dev/null && docker rm -f $ids >/dev/null; } || ${onFailure}`,
    ];
}

/**
 * Lines that remove the project `project` (a shell word) as `docker compose down --remove-orphans` does, by label:
 * its containers, then the networks compose created for it (a network the template declares external carries no
 * such label and stays); `onFailure` when docker fails.
 */
export function projectRemoved(project: string, onFailure: string): string[] {
    return [
        ...projectDown(project, onFailure),
        `networks=$(docker network ls -q --filter "label=${composeLabels.project}="${project}) || ${onFailure}`,
        `[ -z "$networks" ] || docker network rm $networks >/dev/null || ${onFailure}`,
    ];
}

/**
 * compose_up: the compose file in the current dir up and healthy within the health timeout. compose_running REF:
 * every service of ours runs REF. compose_down: the project's containers stopped and removed, by label, so it
 * works whatever form the compose file in the dir has (a swarm deploy taking over from compose finds a swarm-form
 * file there).
 */
function composeFunctions(spec: TargetSpec): string[] {
    const timeout = Math.trunc(spec.healthTimeoutSeconds);
    const project = shellQuote(composeProject(spec));
    return [
        "compose_up() {",
        `  timeout ${timeout + 30} ${composeCommand(composeProject(spec))} up -d --wait --wait-timeout ${timeout} --remove-orphans >&2`,
        "}",
        ...projectRunningFunction("compose_running", project, spec.services),
        "compose_down() {",
        ...projectDown(project).map((line) => `  ${line}`),
        "}",
    ];
}

/**
 * Host-wide, once per observation script whatever the number of apps: $compose_containers holds
 * `"project" "working-dir" service state image-id` per compose container on the host (the two labels JSON-quoted,
 * so a hand-made label with spaces cannot pass for one of ours), $compose_images `image-id repo-digest…` per
 * image they run. Three docker commands for the host instead of three per app.
 */
export function composeHostObservation(): string[] {
    const label = (name: string) => `index .Config.Labels "${name}"`;
    return [
        `compose_ids=$(docker ps -aq --filter ${shellQuote(`label=${composeLabels.project}`)})`,
        "compose_containers=''",
        "compose_images=''",
        "if [ -n \"$compose_ids\" ]; then",
        "  # shellcheck disable=SC2086 # one word per container id",
        `  compose_containers=$(docker inspect --format '{{json (${label(composeLabels.project)})}} {{json (${label(composeLabels.workingDir)})}} ` +
            `{{${label(composeLabels.service)}}} {{.State.Status}} {{.Image}}' $compose_ids)`,
        "  # shellcheck disable=SC2046 # one word per image id",
        "  compose_images=$(docker image inspect --format '{{.Id}}{{range .RepoDigests}} {{.}}{{end}}' " +
            "$(printf '%s\\n' \"$compose_containers\" | sed 's/.* //' | sort -u))",
        "fi",
    ];
}

/**
 * Prints `service state image-id[ suffix]` per container of $compose_containers in the compose project `project`
 * (and with the working dir `workingDir`, when given).
 */
export function containersOf(project: string, workingDir?: string, suffix?: string): string[] {
    const matches = [`[ "$project" = ${shellQuote(JSON.stringify(project))} ]`,
        ...(workingDir === undefined ? [] : [`[ "$dir" = ${shellQuote(JSON.stringify(workingDir))} ]`])].join(" && ");
    return [
        "printf '%s\\n' \"$compose_containers\" | while read -r project dir service state image; do",
        `  if ${matches}; then printf '%s %s %s${suffix === undefined ? "" : ` ${suffix}`}\\n' "$service" "$state" "$image"; fi`,
        "done",
    ];
}

/**
 * Prints the containers `select` prints (`service state image-id…` lines), then the images marker and, from
 * $compose_images, `image-id repo-digest…` per image they run.
 */
export function containersAndImages(select: string[], markers: ObservationMarkers): string[] {
    return [
        "mine=$(",
        ...select.map((line) => `  ${line}`),
        ")",
        "[ -z \"$mine\" ] || printf '%s\\n' \"$mine\"",
        `echo ${shellQuote(markers.images)}`,
        "wanted=\" $(printf '%s\\n' \"$mine\" | cut -d ' ' -f 3 | tr '\\n' ' ')\"",
        "printf '%s\\n' \"$compose_images\" | while read -r id digests; do",
        "  case $wanted in *\" $id \"*) printf '%s %s\\n' \"$id\" \"$digests\" ;; esac",
        "done",
    ];
}

/**
 * Prints every container of the app's compose project (and of the former project name in this dir), running
 * or not, as `service state image-id`, then the images marker and `image-id repo-digest…` per image.
 */
function composeObservation(location: AppLocation, markers: ObservationMarkers): string[] {
    return containersAndImages([
        ...containersOf(composeProject(location)),
        ...containersOf(legacyComposeProject(location), appDir(location)),
    ], markers);
}

export const composeTarget: TargetController = {
    name: "compose",

    preflight(engineCheck) {
        // The two checks overlap (each starts a Go binary, the version asks the engine): every deploy waits on them.
        return [
            "  docker compose version >/dev/null 2>&1 & compose_check=$!",
            ...engineCheck,
            "  wait \"$compose_check\" || missing=\"$missing\n  - docker compose v2 (the compose CLI plugin)\"",
        ];
    },

    translateTemplate: () => undefined,

    // Single quotes keep `#`, `"`, `$` and spaces as they are (bare, compose would cut ` #…` and strip quotes); a
    // quote inside is `\'`.
    envLine: (key, value) => `${key}='${value.replace(/'/g, "\\'")}'\n`,

    functions: composeFunctions,

    prepare(spec) {
        return [
            "say \"pulling $ref\"",
            `(cd "$job" && ${composeCommand(composeProject(spec))} pull --quiet >&2) || fail 'docker compose pull failed (is the registry reachable from this host?)'`,
        ];
    },

    takeOver: removeLegacyContainers,

    waiting: (timeoutSeconds) => `waiting up to ${Math.trunc(timeoutSeconds)} s for it to be healthy`,

    upFailure: (spec) => `the containers did not become healthy within ${Math.trunc(spec.healthTimeoutSeconds)} s ` +
        `(see docker compose -p ${composeProject(spec)} logs)`,

    // By label, not by `docker compose down`: without the compose plugin's start (two processes of about 30 ms of
    // CPU each) for every app a destroy removes, and whatever file the dir holds.
    remove: (location) => projectRemoved(shellQuote(composeProject(location)), "exit 1"),

    removeLeftovers: removeLegacyContainers,

    observeHost: composeHostObservation,

    hostVariables: ["compose_containers", "compose_images"],

    observe: composeObservation,

    // Compose runs containers only, which cleanup reads on every host anyway.
    keptReferences: () => [],
};
