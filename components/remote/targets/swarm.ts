// The swarm target, run on a manager: the app dir's compose file (in the form swarm-template.ts gives it)
// deployed as a stack named after the dir, pinned by digest and never re-resolved, and waited on until Swarm has
// every task of every service of ours running — healthy, since a task with a healthcheck is "starting" until it
// passes — on the wanted digest, with the update finished (its monitor window over). A rolled-back or paused
// update is a failure named with the tasks' errors.
import { AppLocation, stackNamespaceLabel, swarmStack, validateServiceName } from "../layout";
import { shellQuote } from "../shell";
import { translateForSwarm } from "./swarm-template";
import { ObservationMarkers, TargetController, TargetSpec } from "./target";

/** The manager check preflight adds for a swarm target. */
function swarmPreflight(): string[] {
    return [
        "  if [ \"$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)\" != true ]; then",
        "    missing=\"$missing\n  - a Swarm manager (iac:target is swarm): run docker swarm init on this host, or point iac:sshHost at a manager\"",
        "  fi",
    ];
}

/** A service's replica count, empty for a global service. */
const replicasFormat = "{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}";

/** The stack's services as `<stack>_<service>` names, one per line. */
function stackServices(stack: string): string {
    return `docker service ls --filter ${shellQuote(`label=${stackNamespaceLabel}=${stack}`)} --format '{{.Name}}'`;
}

/**
 * Sets $stack and defines swarm_down: the stack removed and its tasks gone within `timeoutSeconds` (a compose
 * deploy taking over needs the ports free), or nothing to remove on a host that is in no swarm. What a removal
 * needs of the swarm functions.
 */
export function swarmDownFunction(location: AppLocation, timeoutSeconds: number): string[] {
    const stack = swarmStack(location);
    const timeout = Math.trunc(timeoutSeconds);
    const containers = `docker ps -aq --filter "label=${stackNamespaceLabel}=$stack"`;
    return [
        `stack=${shellQuote(stack)}`,
        "swarm_down() {",
        // A host that has left its swarm runs no stack: `docker stack rm` would only fail, and a move back to
        // compose would be refused for a deployment that cannot exist. Task containers the leave kept go too.
        "  if [ \"$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)\" = inactive ]; then",
        `    leftover=$(${containers})`,
        "    [ -z \"$leftover\" ] || docker rm -f $leftover >&2",
        "    return",
        "  fi",
        "  docker stack rm \"$stack\" >&2 || return 1",
        `  end=$(( $(date +%s) + ${timeout} ))`,
        `  while [ -n "$(${stackServices(stack)})$(${containers})" ]; do`,
        `    [ "$(date +%s)" -lt "$end" ] || { say "the stack's tasks did not stop within ${timeout} s"; return 1; }`,
        "    sleep 1",
        "  done",
        "}",
    ];
}

/**
 * swarm_up REF: deploy the stack and wait for it on REF. swarm_running REF: it runs REF now, converged.
 * swarm_down: as swarmDownFunction. swarm_status REF prints `converged`, `waiting: …` or `failed: …`; REF
 * empty accepts any image.
 */
function swarmFunctions(spec: TargetSpec): string[] {
    const services = spec.services.map((service) => shellQuote(validateServiceName(service))).join(" ");
    const timeout = Math.trunc(spec.healthTimeoutSeconds);
    const registryAuth = spec.withRegistryAuth ? " --with-registry-auth" : "";
    return [
        ...swarmDownFunction(spec, spec.healthTimeoutSeconds),
        "swarm_status() {",
        `  for service in ${services}; do`,
        "    name=\"${stack}_$service\"",
        // One inspect per poll: the replicas, then the update's state and message.
        `    info=$(docker service inspect --format '${replicasFormat}|{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{end}}' "$name" 2>/dev/null) ||`,
        "      { echo \"waiting: service $name does not exist\"; return 0; }",
        "    want=${info%%|*}",
        "    update=${info#*|}",
        // A deploy resets the status (to updating, or to none when the spec did not change): what is here is ours.
        "    case \"${update%%|*}\" in",
        "      rollback_*) echo \"failed: Swarm rolled back the update of $name (${update#*|})\"; return 0 ;;",
        "      paused) echo \"failed: Swarm paused the update of $name (${update#*|})\"; return 0 ;;",
        "      updating) echo \"waiting: $name is updating\"; return 0 ;;",
        "    esac",
        "    tasks=$(docker service ps --no-trunc --filter desired-state=running --format '{{.Image}} {{.CurrentState}}' \"$name\") || return 1",
        "    [ -n \"$tasks\" ] || { echo \"waiting: $name has no task\"; return 0; }",
        "    behind=$(printf '%s\\n' \"$tasks\" | while read -r image state rest; do",
        "      if [ \"$state\" != Running ] || { [ -n \"$1\" ] && [ \"$image\" != \"$1\" ]; }; then printf '%s %s %s' \"$image\" \"$state\" \"$rest\"; break; fi",
        "    done)",
        "    [ -z \"$behind\" ] || { echo \"waiting: a task of $name is $behind\"; return 0; }",
        // Between an old task's end and its successor's creation a replicated service has fewer tasks than replicas.
        "    have=$(printf '%s\\n' \"$tasks\" | grep -c .)",
        "    [ -z \"$want\" ] || [ \"$have\" -eq \"$want\" ] || { echo \"waiting: $name runs $have of $want tasks\"; return 0; }",
        "  done",
        "  echo converged",
        "}",
        "swarm_running() { [ \"$(swarm_status \"$1\")\" = converged ]; }",
        // What Swarm says went wrong: the latest tasks and their errors, and a failing healthcheck's output.
        "swarm_report() {",
        `  for service in ${services}; do`,
        "    docker service ps --no-trunc --format '  {{.Name}} {{.Image}} {{.CurrentState}} {{.Error}}' \"${stack}_$service\" 2>/dev/null | head -n 6 >&2 || true",
        `    unhealthy=$(docker ps -aq --filter "label=com.docker.swarm.service.name=\${stack}_$service" --filter health=unhealthy | head -n 1)`,
        "    output=$([ -z \"$unhealthy\" ] || docker inspect --format '{{range .State.Health.Log}}{{.Output}}{{end}}' \"$unhealthy\" | tail -n 3)",
        "    [ -z \"$output\" ] || say \"healthcheck output of $service: $output\"",
        "  done",
        "}",
        "swarm_up() {",
        `  docker stack deploy --prune --resolve-image never${registryAuth} -c compose.yml "$stack" >&2 || return 1`,
        // The CLI keeps a service's image as it is when the compose file names the image the stack last deployed,
        // so an image changed by hand (`docker service update --image`) would stay: put ours back explicitly.
        "  if [ -n \"$1\" ]; then",
        `    for service in ${services}; do`,
        "      spec=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' \"${stack}_$service\") || return 1",
        `      [ "$spec" = "$1" ] || docker service update --quiet --detach --no-resolve-image${registryAuth} --image "$1" "\${stack}_$service" >&2 ||`,
        "        return 1",
        "    done",
        "  fi",
        `  end=$(( $(date +%s) + ${timeout} ))`,
        "  while :; do",
        "    status=$(swarm_status \"$1\") || return 1",
        "    case \"$status\" in",
        "      converged) return 0 ;;",
        "      failed:*) say \"${status#failed: }\"; swarm_report; return 1 ;;",
        "    esac",
        "    if [ \"$(date +%s)\" -ge \"$end\" ]; then",
        `      say "not converged within ${timeout} s: \${status#waiting: }"`,
        "      swarm_report",
        "      return 1",
        "    fi",
        "    sleep 1",
        "  done",
        "}",
    ];
}

/** A reference without its tag (a hand-made `repo:tag@sha256:…`), the form the digest is looked up by. */
const untag = "sed -E 's#:[^/@]*@#@#'";

/**
 * Host-wide, once per observation script whatever the number of apps: $swarm_services holds
 * `service-id "stack" name spec-image replicas` per service of any stack (replicas empty for a global service; the
 * stack label JSON-quoted, so a hand-made one with spaces cannot pass for ours), $swarm_tasks
 * `service-id state image` per task Swarm wants running. Four docker commands for the host instead of one per app
 * and two per service. On a host in no swarm, $swarm_error holds docker's answer, for each app's part to fail with.
 */
function swarmHostObservation(): string[] {
    const filter = shellQuote(`label=${stackNamespaceLabel}`);
    return [
        "swarm_services=''",
        "swarm_tasks=''",
        "swarm_error=''",
        `if ! swarm_ids=$(docker service ls -q --filter ${filter} 2>/dev/null); then`,
        `  swarm_error=$(docker service ls -q --filter ${filter} 2>&1 >/dev/null || true)`,
        "elif [ -n \"$swarm_ids\" ]; then",
        "  # shellcheck disable=SC2086 # one word per service id",
        `  swarm_services=$(docker service inspect --format '{{.ID}} {{json (index .Spec.Labels "${stackNamespaceLabel}")}} {{.Spec.Name}} ` +
            `{{.Spec.TaskTemplate.ContainerSpec.Image}} ${replicasFormat}' $swarm_ids)`,
        "  # shellcheck disable=SC2086 # one word per service id",
        "  task_ids=$(docker service ps -q --no-trunc --filter desired-state=running $swarm_ids)",
        "  # shellcheck disable=SC2086 # one word per task id",
        "  [ -z \"$task_ids\" ] || swarm_tasks=$(docker inspect --type task --format '{{.ServiceID}} {{.Status.State}} {{.Spec.ContainerSpec.Image}}' $task_ids)",
        "fi",
    ];
}

/**
 * Prints every task Swarm wants running for the stack's services as `service state image`, then the images
 * marker and `image digest-ref` per image (a task's image is its spec's reference: its digest is in it), then
 * the services marker and `service spec-image replicas` per service (replicas empty for a global service), from
 * what swarmHostObservation read.
 */
function swarmObservation(location: AppLocation, markers: ObservationMarkers): string[] {
    const stack = swarmStack(location);
    return [
        "[ -z \"$swarm_error\" ] || { printf '%s\\n' \"$swarm_error\" >&2; exit 1; }",
        `stack=${shellQuote(stack)}`,
        "services=$(printf '%s\\n' \"$swarm_services\" | while read -r id namespace name spec replicas; do",
        `  [ "$namespace" != ${shellQuote(JSON.stringify(stack))} ] || printf '%s %s %s %s\\n' "$id" "\${name#"\${stack}_"}" "$spec" "$replicas"`,
        "done)",
        "tasks=$(printf '%s\\n' \"$services\" | while read -r id service _; do",
        "  printf '%s\\n' \"$swarm_tasks\" | while read -r of state image; do",
        "    [ -z \"$id\" ] || [ \"$of\" != \"$id\" ] || printf '%s %s %s\\n' \"$service\" \"$state\" \"$image\"",
        "  done",
        "done)",
        "[ -z \"$tasks\" ] || printf '%s\\n' \"$tasks\"",
        `echo ${shellQuote(markers.images)}`,
        `printf '%s\\n' "$tasks" | cut -d ' ' -f 3 | grep -v '^$' | sort -u | while read -r image; do printf '%s %s\\n' "$image" "$(printf '%s' "$image" | ${untag})"; done`,
        `echo ${shellQuote(markers.services)}`,
        "printf '%s\\n' \"$services\" | while read -r id service spec replicas; do",
        `  [ -z "$id" ] || printf '%s %s %s\\n' "$service" "$(printf '%s' "$spec" | ${untag})" "$replicas"`,
        "done",
    ];
}

/**
 * Every service's image (its spec and the spec a rollback would return to) and every task's, on whichever node it
 * runs: other nodes' containers are not visible on this host. Only on a manager; other hosts have none.
 */
function swarmKeptReferences(): string[] {
    return [
        "if [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" = true ]; then",
        "  services=$(docker service ls -q)",
        "  if [ -n \"$services\" ]; then",
        "    # shellcheck disable=SC2086 # one word per service id",
        "    docker service inspect --format 'service {{.Spec.TaskTemplate.ContainerSpec.Image}}{{if .PreviousSpec}} " +
            "{{.PreviousSpec.TaskTemplate.ContainerSpec.Image}}{{end}}' $services",
        "    # shellcheck disable=SC2086 # one word per service id",
        "    docker service ps --no-trunc --format 'task {{.Image}}' $services",
        "  fi",
        "fi",
    ];
}

export const swarmTarget: TargetController = {
    name: "swarm",

    preflight: (engineCheck) => [...engineCheck, ...swarmPreflight()],

    translateTemplate: translateForSwarm,

    // `docker stack deploy` reads env files literally: quotes would reach the container.
    envLine: (key, value) => `${key}=${value}\n`,

    functions: swarmFunctions,

    // Nodes pull as Swarm schedules them: nothing to fetch before the switch.
    prepare: () => [],

    takeOver: () => [],

    waiting: (timeoutSeconds) => `waiting up to ${Math.trunc(timeoutSeconds)} s for Swarm to run it healthy on every task and finish the update`,

    upFailure: () => "Swarm did not run it healthy (the services are back on the previous image if Swarm rolled back)",

    remove: (location) => [...swarmDownFunction(location, 120), "swarm_down"],

    removeLeftovers: () => [],

    observeHost: swarmHostObservation,

    hostVariables: ["swarm_services", "swarm_tasks", "swarm_error"],

    observe: swarmObservation,

    keptReferences: swarmKeptReferences,
};
