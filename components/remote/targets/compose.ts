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
 * Prints `service state image-id[ $suffixVariable]` per container of the ids in $ids, and adds their images to
 * $images.
 */
export function containersObservation(suffixVariable?: string): string[] {
    const tail = suffixVariable === undefined ? "" : `" $${suffixVariable}"`;
    return [
        "if [ -n \"$ids\" ]; then",
        `  docker inspect --format '{{index .Config.Labels "${composeLabels.service}"}} {{.State.Status}} {{.Image}}'${tail} $ids`,
        "  images=\"$images $(docker inspect --format '{{.Image}}' $ids)\"",
        "fi",
    ];
}

/** The images marker, then `image-id repo-digest…` per image of $images. */
export function imagesObservation(markers: ObservationMarkers): string[] {
    return [
        `echo ${shellQuote(markers.images)}`,
        "images=$(printf '%s\\n' $images | sort -u)",
        "if [ -n \"$images\" ]; then docker image inspect --format '{{.Id}}{{range .RepoDigests}} {{.}}{{end}}' $images; fi",
    ];
}

/**
 * Prints every container of the app's compose project (and of the former project name in this dir), running
 * or not, as `service state image-id`, then the images marker and `image-id repo-digest…` per image.
 */
function composeObservation(location: AppLocation, markers: ObservationMarkers): string[] {
    return [
        `ids=$(docker ps -aq --filter ${shellQuote(`label=${composeLabels.project}=${composeProject(location)}`)})`,
        findLegacyContainers(location),
        "ids=$(echo $ids $legacy)",
        "images=''",
        ...containersObservation(),
        ...imagesObservation(markers),
    ];
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

    remove(location) {
        return [
            `if [ -f ${files.compose} ]; then`,
            `  ${composeCommand(composeProject(location))} down --remove-orphans >&2`,
            "fi",
        ];
    },

    removeLeftovers: removeLegacyContainers,

    observe: composeObservation,

    // Compose runs containers only, which cleanup reads on every host anyway.
    keptReferences: () => [],
};
