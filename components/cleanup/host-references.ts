// What a workspace's host holds that cannot break, read by pure script builders (run over SSH by
// references.ts, and by the integration tests over a real host): every app dir under <deployRoot>/<org>/ —
// listed, not only the configured apps — with its records and the deploys staged in it, and the image of every
// container, running or stopped. File contents and names travel base64-encoded, so nothing in them can be
// mistaken for the framing.
import { files, validateAbsolutePath, validateName } from "../remote/layout";
import { shellQuote } from "../remote/shell";
import { deployTargets } from "../remote/targets/registry";

/** A deploy's job dir under the app dir's staged/: it holds the compose file the deploy brings up. */
export interface StagedJob {
    /** The job dir's name, e.g. job.k3J9aQ2x. */
    job: string;
    /** Its `compose` file's text. */
    compose: string;
}

export interface AppDirRecords {
    /** The directory's name under <deployRoot>/<org>/. */
    app: string;
    /** deploy-info.yml's text; null when the file does not exist. */
    deployInfo: string | null;
    /** deploy-history.yml's text; null when the file does not exist. */
    history: string | null;
    /** Whether a deploy (or removal) held the app's lock as the dir was read. */
    lockHeld: boolean;
    /** Every job dir that holds a compose file: a deploy waiting on the lock, running, or ended within the hour. */
    staged: StagedJob[];
}

/**
 * Prints one `app NAME INFO HISTORY LOCK` line per directory under <deployRoot>/<org>/, each file base64 or `-`
 * for no file and LOCK `held` or `free`, then one `staged NAME JOB COMPOSE` line per job dir of it with a compose
 * file. A dir it cannot read stops it: what that dir holds might be running.
 */
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
        `command -v flock >/dev/null || { echo ${shellQuote("flock is not on PATH for the SSH user on this host; " +
            "cleanup needs it to see whether a deploy holds an app's lock")} >&2; exit 1; }`,
        "readable() {",
        "  if [ ! -r \"$1\" ] || [ ! -x \"$1\" ]; then",
        "    printf '%s\\n' \"cannot read $1 as this SSH user, so whatever it names might be running: \\",
        "connect as the user that deploys (iac:sshUser)\" >&2",
        "    exit 3",
        "  fi",
        "}",
        "encode() { if [ -f \"$1\" ]; then base64 -w0 < \"$1\"; else printf -- -; fi; }",
        // A shared lock is refused only while a deploy or removal holds the app's (exclusive) lock; trying it
        // never waits, and it opens the lock file only when there is one, so nothing is created.
        "lock_state() { if [ -f \"$1\" ] && ! flock -n -s \"$1\" true; then printf held; else printf free; fi; }",
        // An org dir that cannot be listed would look empty.
        `readable ${shellQuote(orgDir)}`,
        `for dir in ${shellQuote(orgDir)}/*; do`,
        "  [ -d \"$dir\" ] || continue",
        "  readable \"$dir\"",
        "  name=$(printf '%s' \"${dir##*/}\" | base64 -w0)",
        `  info=$(encode "$dir/${files.deployInfo}")`,
        `  history=$(encode "$dir/${files.history}")`,
        `  lock=$(lock_state "$dir/${files.lock}")`,
        "  printf 'app %s %s %s %s\\n' \"$name\" \"$info\" \"$history\" \"$lock\"",
        `  [ -d "$dir/${files.stagedDir}" ] || continue`,
        `  readable "$dir/${files.stagedDir}"`,
        `  for job in "$dir/${files.stagedDir}"/*; do`,
        "    [ -d \"$job\" ] || continue",
        "    readable \"$job\"",
        // A job whose bundle is still arriving has no compose file yet: it has not started to wait or pull.
        "    compose=$(encode \"$job/compose\")",
        "    [ \"$compose\" = - ] || printf 'staged %s %s %s\\n' \"$name\" \"$(printf '%s' \"${job##*/}\" | base64 -w0)\" \"$compose\"",
        "  done",
        "done",
    ].join("\n") + "\n";
}

export function parseAppRecords(output: string): AppDirRecords[] {
    const decode = (field: string) => (field === "-" ? null : Buffer.from(field, "base64").toString("utf8"));
    const dirs = new Map<string, AppDirRecords>();
    for (const line of output.split("\n")) {
        const [kind, name, ...fields] = line.split(" ");
        if (kind === "app") {
            const [info, history, lock] = fields;
            dirs.set(name, { app: decode(name)!, deployInfo: decode(info), history: decode(history), lockHeld: lock === "held", staged: [] });
        } else if (kind === "staged") {
            const [job, compose] = fields;
            dirs.get(name)?.staged.push({ job: decode(job)!, compose: decode(compose)! });
        }
    }
    return [...dirs.values()];
}

/**
 * Prints, for every container (`docker ps -a`: stopped ones restart too), the reference it was created from,
 * and for every image they use the digests it was pulled by (RepoDigests). A container whose image is gone
 * still names its reference. Before them, what every target keeps beyond containers (a Swarm manager: every
 * service's spec and the spec a rollback would return to, and every task's image on whichever node it runs).
 */
export function buildContainerImagesScript(): string {
    return [
        "set -eu",
        `command -v docker >/dev/null || { echo ${shellQuote("docker is not on PATH for the SSH user on this host; " +
            "cleanup needs it to see which images containers use")} >&2; exit 1; }`,
        ...deployTargets().flatMap((target) => target.keptReferences()),
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

/** `name:tag@digest` (an image set by hand) pulls by the digest alone: it counts as `name@digest`. */
const withoutTag = (reference: string) => reference.replace(/:[^/@]*@/, "@");

/**
 * Every `name@digest` reference the containers, their images and the swarm's services and tasks carry; a
 * `name:tag@digest` counts as `name@digest`.
 */
export function parseContainerImages(output: string): string[] {
    const references = new Set<string>();
    for (const line of output.split("\n")) {
        const [kind, ...fields] = line.trim().split(/\s+/);
        const candidates = kind === "container" ? fields.slice(0, 1) : kind === "image" ? fields.slice(1)
            : kind === "service" || kind === "task" ? fields : [];
        candidates.filter((reference) => reference.includes("@")).forEach((reference) => references.add(withoutTag(reference)));
    }
    return [...references];
}

// A name by the reference grammar's characters (a registry host may be an IPv6 address in brackets, with a port),
// then a whole digest: a digest cut short is not taken for another one.
const pinnedReferencePattern = /[A-Za-z0-9[][A-Za-z0-9._:/[\]-]*@(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})(?![a-f0-9])/g;

/**
 * Every `name@digest` a staged compose file names. Read from its text, not its YAML structure: whichever
 * service, target form or quoting names a digest, the deploy may pull it, and a file still being written
 * names at most fewer digests, never a wrong one.
 */
export function parseStagedImages(compose: string): string[] {
    return [...new Set([...compose.matchAll(pinnedReferencePattern)].map(([reference]) => withoutTag(reference)))];
}
