// The proxy itself on a host: one Caddy container per deploy root, from the image images/caddy builds, pinned by
// digest like an app. Its dir `<deployRoot>/.proxy` is bind-mounted at /run/iac-proxy and holds the admin socket,
// the files that name each route's serving port, the autosaved config (the image runs `caddy run --resume`, so a
// restarted or recreated container comes back with its routes) and certificates. The socket is mode 0666 inside:
// who may reach it is decided by the dir (0700, the deploy user's), not by the socket, whose owner is the
// container's root.
import * as crypto from "crypto";
import { InvalidValueError } from "../model/invalid-value";
import { InvalidReferenceError } from "../registry/errors";
import { pinnedRef } from "../registry/reference";
import { normalizedRoot } from "./layout";
import { ProxyAdmin } from "./proxy";
import { shellQuote } from "./shell";

/** Where images/caddy expects the host dir: its initial.json's admin socket and its XDG dirs are under it. */
const mountPoint = "/run/iac-proxy";
const socketName = "admin.sock";
/** The dir of the files that name each route's serving port (proxy.ts's upstreamFile). */
const upstreamsName = "upstreams";
/** The label that marks the proxy container as ours; its value is the host dir the container serves. */
const dirLabel = "iac.proxy.dir";
/** How long a started (or restarted) proxy may take to answer on its admin socket. */
const adminWaitSeconds = 30;
/** A unix socket's path must fit sun_path: 108 bytes with the terminating NUL. */
const maxSocketPathBytes = 107;

/** `<deployRoot>/.proxy`: the proxy's dir on the host (socket, autosave, certificates); one proxy per deploy root. */
export function proxyHostDir(deployRoot: string): string {
    const dir = `${normalizedRoot(deployRoot)}/.proxy`;
    if (Buffer.byteLength(`${dir}/${socketName}`) > maxSocketPathBytes) {
        throw new InvalidValueError("deploy root", deployRoot,
            `the proxy's admin socket ${dir}/${socketName} must fit in ${maxSocketPathBytes} bytes (a unix socket's limit): choose a shorter one`);
    }
    return dir;
}

/** The admin socket and the routes' files the switch builders take (proxy.ts's ProxyAdmin). */
export function proxyAdminOf(deployRoot: string): ProxyAdmin {
    const dir = proxyHostDir(deployRoot);
    return { socket: `${dir}/${socketName}`, upstreams: { onHost: `${dir}/${upstreamsName}`, inProxy: `${mountPoint}/${upstreamsName}` } };
}

/** The proxy container's name on the host, derived from the dir (so two deploy roots never share one). */
export function proxyContainerName(deployRoot: string): string {
    return `iac-proxy-${crypto.createHash("sha256").update(proxyHostDir(deployRoot)).digest("hex").slice(0, 12)}`;
}

/** `registry/repository@digest`, refused in any other form: the host only ever gets a digest. */
function validateProxyRef(ref: string): { ref: string; digest: string } {
    const at = ref.lastIndexOf("@");
    const slash = ref.indexOf("/");
    const registry = ref.slice(0, Math.max(slash, 0));
    // Docker reads a first part without '.', ':' or "localhost" as a path on Docker Hub, never as a registry.
    if (at < 0 || slash < 0 || slash > at || !(/[.:]/.test(registry) || registry === "localhost")) {
        throw new InvalidReferenceError("proxy image", ref, "expected registry/repository@sha256:…, the digest scripts/build-image printed for images/caddy");
    }
    const digest = ref.slice(at + 1);
    return { ref: pinnedRef(registry, ref.slice(slash + 1, at), digest), digest };
}

/**
 * The shell's view of the proxy container: $proxy_name, $proxy_dir; `proxy_state` prints `<state> <our label>` of
 * the container of that name, nothing when there is none (and fails when docker does not answer);
 * `proxy_runs_digest DIGEST` is true when its image was pulled by DIGEST (the rule of compose_running: the image's
 * RepoDigests, which docker fills only with a digest it verified on pull); `proxy_running_ref` prints what it runs,
 * pinned: the ref it was started from when its image was pulled by that digest, else the image's own repo digest,
 * else the ref as it was started (a tag or a local build, which no pin describes).
 */
function proxyContainerFunctions(deployRoot: string): string[] {
    return [
        `proxy_name=${shellQuote(proxyContainerName(deployRoot))}`,
        `proxy_dir=${shellQuote(proxyHostDir(deployRoot))}`,
        "proxy_state() {",
        `  docker ps -a --filter "name=^$proxy_name\\$" --format '{{.State}} {{.Label "${dirLabel}"}}'`,
        "}",
        "proxy_repo_digests() {",
        "  proxy_image_id=$(docker inspect --type container --format '{{.Image}}' \"$proxy_name\") &&",
        "  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \"$proxy_image_id\"",
        "}",
        "proxy_runs_digest() {",
        "  proxy_repo_digests | grep -q \"@$1\\$\"",
        "}",
        "proxy_running_ref() {",
        "  proxy_started_from=$(docker inspect --type container --format '{{.Config.Image}}' \"$proxy_name\") || return 1",
        "  case $proxy_started_from in",
        "    *@*) if proxy_runs_digest \"${proxy_started_from##*@}\"; then echo \"$proxy_started_from\"; return 0; fi ;;",
        "  esac",
        "  proxy_pulled_as=$(proxy_repo_digests | sed -n 1p) || return 1",
        "  echo \"${proxy_pulled_as:-$proxy_started_from}\"",
        "}",
    ];
}

/** Waits, bounded, until the admin API answers on its socket; fails naming the socket and the proxy's last words. */
function awaitAdminSocket(deployRoot: string): string[] {
    const socket = shellQuote(proxyAdminOf(deployRoot).socket);
    return [
        `proxy_deadline=$(($(date +%s) + ${adminWaitSeconds}))`,
        `until curl -fsS -o /dev/null --max-time 2 --unix-socket ${socket} http://localhost/config/ 2>/dev/null; do`,
        "  if [ \"$(date +%s)\" -ge \"$proxy_deadline\" ]; then",
        `    fail "the proxy $proxy_name did not answer on its admin socket "${socket}" within ${adminWaitSeconds} s; ` +
        "its last words: $(docker logs --tail 5 \"$proxy_name\" 2>&1 | tr '\\n' ' ')\"",
        "  fi",
        "  sleep 0.5",
        "done",
    ];
}

/**
 * Deploy-phase lines that make sure the proxy runs `ref` (registry/repo@sha256:…): creates the dir (0700),
 * and if no container of that name runs, pulls and starts it (docker run -d, --network host, restart
 * unless-stopped, the dir bind-mounted at /run/iac-proxy, a label marking it ours), then waits until the
 * admin socket answers (curl --unix-socket … /config/ with a bounded wait). If it runs another digest: calls
 * `fail "<message naming both digests and what to do>"` (the first workspace on a host deploys it; others
 * with another pin are refused). The lines run inside the deploy phase where `say MSG` and `fail REASON`
 * exist and `set -eu` holds; the docker login for the registry (if any) has already happened.
 */
export function ensureProxyRunning(spec: { deployRoot: string; ref: string }): string[] {
    const { ref, digest } = validateProxyRef(spec.ref);
    return [
        ...proxyContainerFunctions(spec.deployRoot),
        `proxy_ref=${shellQuote(ref)}`,
        `proxy_digest=${shellQuote(digest)}`,
        "proxy_start() {",
        // Pulled only when the host lacks it: a proxy recreated while the registry is away still comes back.
        "  if ! docker image inspect \"$proxy_ref\" >/dev/null 2>&1; then",
        "    proxy_out=$(docker pull -q \"$proxy_ref\" 2>&1) || fail \"could not pull the proxy's image $proxy_ref: $proxy_out\"",
        "  fi",
        `  if ! proxy_out=$(docker run -d --name "$proxy_name" --network host --restart unless-stopped --label "${dirLabel}=$proxy_dir" ` +
        `--mount "type=bind,source=$proxy_dir,target=${mountPoint}" "$proxy_ref" 2>&1); then`,
        // Another workspace's deploy on this host may have started the same one a moment before.
        "    proxy_runs_digest \"$proxy_digest\" || fail \"could not start the proxy $proxy_name from $proxy_ref: $proxy_out\"",
        "  fi",
        "}",
        // Only its owner (and root) may open the admin socket in it: the dir, not the socket, is the gate.
        "if [ -e \"$proxy_dir\" ] && [ ! -O \"$proxy_dir\" ]; then",
        "  fail \"the proxy's dir $proxy_dir belongs to another user: deploy as its owner, who alone can reach the proxy's admin socket\"",
        "fi",
        "mkdir -p \"$proxy_dir\" && chmod 0700 \"$proxy_dir\" || fail \"could not create the proxy's dir $proxy_dir (disk full or read-only?)\"",
        "proxy_found=$(proxy_state) || fail 'docker did not answer while looking for the proxy container'",
        "case $proxy_found in",
        "  '')",
        "    say \"starting the proxy $proxy_name from $proxy_ref\"",
        "    proxy_start",
        "    ;;",
        "  \"running $proxy_dir\")",
        "    if ! proxy_runs_digest \"$proxy_digest\"; then",
        "      proxy_running=$(proxy_running_ref) || fail 'docker did not answer while reading the proxy container'",
        "      fail \"the proxy $proxy_name on this host runs $proxy_running, and this workspace pins $proxy_ref: " +
        "pin the digest the host runs, or move the host to the new one: docker rm -f $proxy_name there, then deploy again " +
        "(the routes come back from $proxy_dir)\"",
        "    fi",
        "    ;;",
        "  *\" $proxy_dir\")",
        "    say \"the proxy $proxy_name is ${proxy_found%% *}: starting it again from $proxy_ref\"",
        "    docker rm -f \"$proxy_name\" >/dev/null || fail \"could not remove the stopped proxy container $proxy_name\"",
        "    proxy_start",
        "    ;;",
        "  *)",
        "    fail \"a container named $proxy_name that this program did not start holds the proxy's name: remove it, then deploy again\"",
        "    ;;",
        "esac",
        ...awaitAdminSocket(spec.deployRoot),
    ];
}

/** Lines that print the digest-pinned ref the proxy container runs, or nothing when none runs (for refresh). */
export function observeProxy(deployRoot: string): string[] {
    return [
        ...proxyContainerFunctions(deployRoot),
        "proxy_found=$(proxy_state) || exit 1",
        "if [ \"$proxy_found\" = \"running $proxy_dir\" ]; then proxy_running_ref || exit 1; fi",
    ];
}
