// What a workspace's host holds that cleanup must not break, read by pure script builders (run over SSH by
// references.ts, and by the integration tests over a real host): every app dir under <deployRoot>/<org>/ —
// listed, not only the configured apps — and the image of every container, running or stopped.
// File contents and names travel base64-encoded, so nothing in them can be mistaken for the framing.
import { files, validateAbsolutePath, validateName } from "../remote/layout";
import { shellQuote } from "../remote/shell";

export interface AppDirRecords {
    /** The directory's name under <deployRoot>/<org>/. */
    app: string;
    /** deploy-info.yml's text; null when the file does not exist. */
    deployInfo: string | null;
    /** deploy-history.yml's text; null when the file does not exist. */
    history: string | null;
}

/** Prints one `app NAME INFO HISTORY` line per directory under <deployRoot>/<org>/, each field base64 or `-` for no file. */
export function buildListAppRecordsScript(deployRoot: string, org: string): string {
    const root = validateAbsolutePath("deploy root", deployRoot).replace(/\/+$/, "") || "/";
    const orgDir = `${root.replace(/\/$/, "")}/${validateName("org", org)}`;
    return [
        "set -eu",
        // A root or org dir that is not there is not "nothing deployed": it may be a wrong iac:deployRoot.
        `[ -d ${shellQuote(root)} ] || { echo ${shellQuote(`the deploy root ${root} does not exist on this host: ` +
            "check iac:deployRoot of this workspace")} >&2; exit 3; }`,
        `[ -d ${shellQuote(orgDir)} ] || { echo ${shellQuote(`${orgDir} does not exist on this host: check iac:org and iac:deployRoot ` +
            "of this workspace, or leave a workspace that never deployed out with --workspaces")} >&2; exit 3; }`,
        "encode() { if [ -f \"$1\" ]; then base64 -w0 < \"$1\"; else printf -- -; fi; }",
        `for dir in ${shellQuote(orgDir)}/*; do`,
        "  [ -d \"$dir\" ] || continue",
        "  name=$(printf '%s' \"${dir##*/}\" | base64 -w0)",
        `  info=$(encode "$dir/${files.deployInfo}")`,
        `  history=$(encode "$dir/${files.history}")`,
        "  printf 'app %s %s %s\\n' \"$name\" \"$info\" \"$history\"",
        "done",
    ].join("\n") + "\n";
}

export function parseAppRecords(output: string): AppDirRecords[] {
    const decode = (field: string) => (field === "-" ? null : Buffer.from(field, "base64").toString("utf8"));
    return output.split("\n").filter((line) => line.startsWith("app ")).map((line) => {
        const [, name, info, history] = line.split(" ");
        return { app: decode(name)!, deployInfo: decode(info), history: decode(history) };
    });
}

/**
 * Prints, for every container (`docker ps -a`: stopped ones restart too), the reference it was created from,
 * and for every image they use the digests it was pulled by (RepoDigests). A container whose image is gone
 * still names its reference. On a Swarm manager, also every service's image (its spec and the spec a rollback
 * would return to) and every task's, on whichever node it runs: other nodes' containers are not visible here.
 */
export function buildContainerImagesScript(): string {
    return [
        "set -eu",
        `command -v docker >/dev/null || { echo ${shellQuote("docker is not on PATH for the SSH user on this host; " +
            "cleanup needs it to see which images containers use")} >&2; exit 1; }`,
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
        "ids=$(docker ps -aq --no-trunc)",
        "[ -n \"$ids\" ] || exit 0",
        "# shellcheck disable=SC2086 # one word per container id",
        "containers=$(docker inspect --format 'container {{.Config.Image}} {{.Image}}' $ids)",
        "printf '%s\\n' \"$containers\"",
        "for image in $(printf '%s\\n' \"$containers\" | cut -d ' ' -f 3 | sort -u); do",
        "  docker image inspect --format 'image {{.Id}}{{range .RepoDigests}} {{.}}{{end}}' \"$image\" 2>/dev/null || printf 'gone %s\\n' \"$image\"",
        "done",
    ].join("\n") + "\n";
}

/**
 * Every `name@digest` reference the containers, their images and the swarm's services and tasks carry; a
 * `name:tag@digest` (an image set by hand) counts as `name@digest`.
 */
export function parseContainerImages(output: string): string[] {
    const references = new Set<string>();
    for (const line of output.split("\n")) {
        const [kind, ...fields] = line.trim().split(/\s+/);
        const candidates = kind === "container" ? fields.slice(0, 1) : kind === "image" ? fields.slice(1)
            : kind === "service" || kind === "task" ? fields : [];
        candidates.filter((reference) => reference.includes("@"))
            .forEach((reference) => references.add(reference.replace(/:[^/@]*@/, "@")));
    }
    return [...references];
}
