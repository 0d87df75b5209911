// What a host holds for an app — deploy-info.yml and the app's containers with the digests they run — read
// from the observe script's output, and how that differs from what the stack recorded.
import { DeployInfo, parseDeployInfo } from "../model/deploy-info";
import { printable } from "../model/printable";
import { AppLocation } from "./layout";
import { AppProxy, ObservedProxyRoute, parseProxyRoute } from "./proxy";
import { proxyAdminOf } from "./proxy-host";
import { observationMarkers } from "./scripts";

export interface ContainerState {
    service: string;
    /** docker's State.Status: running, exited, restarting, … */
    state: string;
    /** The digest of the app's repository the container's image carries; null when it carries none. */
    digest: string | null;
    /** Behind the proxy: the colour (blue, green) whose compose project the container belongs to. */
    colour?: string;
}

/** Behind the proxy: the app's route as the proxy holds it. */
export interface ProxyObservation {
    /** null when the proxy has no route for the app, or could not be read (then `problem` says why). */
    route: ObservedProxyRoute | null;
    problem: string | null;
}

export interface HostObservation {
    /**
     * deploy-info.yml as read, every field printable (it reaches terminals as a stack output and in diffs; the
     * file keeps labels exactly); null when it is missing or unreadable (then `recordProblem` says why).
     */
    record: DeployInfo | null;
    recordProblem: string | null;
    containers: ContainerState[];
    /**
     * On a swarm: each service's spec — what Swarm converges its tasks to — with the digest it names and, for a
     * replicated service, how many tasks it wants.
     */
    specs?: { service: string; digest: string | null; replicas: number | null }[];
    /** The app dir's own files, where the host reported them. */
    files?: DirFiles;
    /** Behind the proxy: its route for the app. */
    proxy?: ProxyObservation;
}

/** What the app dir's files say beside the record: they change only together with it, so any difference is drift. */
export interface DirFiles {
    /** The id `.owner` names; null when the dir has no owner mark (a dir from before them, or none at all). */
    owner: string | null;
    /** The job dir of a deploy decided but not all linked into place (`.commit`); null when none. */
    pending: string | null;
    /** The digests of the app's repository that compose.yml names, sorted; null when there is no compose.yml. */
    composeDigests: string[] | null;
}

function parseFiles(text: string, image: string): DirFiles {
    const entries = text.split("\n").filter(Boolean).map((line) => [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)]);
    const first = (kind: string) => entries.find(([key]) => key === kind)?.[1] ?? null;
    const compose = entries.filter(([key]) => key === "compose").map(([, ref]) => ref);
    return {
        owner: first("owner"),
        pending: first("pending") === null ? null : printable(first("pending")!),
        composeDigests: compose.length === 0 ? null
            : [...new Set(compose.filter((ref) => ref.startsWith(`${image}@`)).map((ref) => ref.slice(image.length + 1)))].sort(),
    };
}

/** The text under the marker `from`, up to the next marker of any kind. */
function section(output: string, from: string): string {
    const start = output.indexOf(`${from}\n`);
    if (start < 0) {
        throw new Error(`the host's answer lacks ${from}`);
    }
    const body = output.slice(start + from.length + 1);
    const ends = Object.values(observationMarkers).map((marker) => body.indexOf(`${marker}\n`)).filter((at) => at >= 0);
    return ends.length === 0 ? body : body.slice(0, Math.min(...ends));
}

function parseProxySection(text: string, location: AppLocation): ProxyObservation {
    try {
        return { route: parseProxyRoute(proxyAdminOf(location.deployRoot), location, text.trim()) ?? null, problem: null };
    } catch (error) {
        return { route: null, problem: printable((error as Error).message) };
    }
}

/**
 * `image` is registry/repository: of an image's repo digests, the one of this repository counts, the target's
 * when it carries several.
 */
export function parseObservation(output: string, image: string, targetDigest: string, where: string, location?: AppLocation): HostObservation {
    const has = (marker: string) => output.includes(`${marker}\n`);
    const files = has(observationMarkers.files) ? { files: parseFiles(section(output, observationMarkers.files), image) } : {};
    const proxy = has(observationMarkers.proxy) && location !== undefined
        ? { proxy: parseProxySection(section(output, observationMarkers.proxy), location) } : {};
    const recordText = section(output, observationMarkers.deployInfo);
    let record: DeployInfo | null = null;
    let recordProblem: string | null = null;
    if (recordText.trim() === "") {
        recordProblem = `${where}/deploy-info.yml is missing`;
    } else {
        try {
            const exact = parseDeployInfo(recordText, `${where}/deploy-info.yml`);
            record = Object.fromEntries(Object.entries(exact).map(([key, value]) =>
                [key, typeof value === "string" ? printable(value) : value])) as unknown as DeployInfo;
        } catch (error) {
            recordProblem = printable((error as Error).message);
        }
    }
    const digestsOf = new Map<string, string[]>();
    for (const line of section(output, observationMarkers.images).split("\n").filter(Boolean)) {
        const [id, ...refs] = line.split(" ");
        digestsOf.set(id, refs.filter((ref) => ref.startsWith(`${image}@`)).map((ref) => ref.slice(image.length + 1)).sort());
    }
    const containers = section(output, observationMarkers.containers).split("\n").filter(Boolean)
        .map((line) => {
            const [service, state, imageId, colour] = line.split(" ");
            const digests = digestsOf.get(imageId) ?? [];
            return { service, state, digest: digests.includes(targetDigest) ? targetDigest : digests[0] ?? null, ...(colour ? { colour } : {}) };
        })
        .sort((a, b) => `${a.service} ${a.state} ${a.digest} ${a.colour}`.localeCompare(`${b.service} ${b.state} ${b.digest} ${b.colour}`));
    if (!has(observationMarkers.services)) {
        return { record, recordProblem, containers, ...files, ...proxy };
    }
    const specs = section(output, observationMarkers.services).split("\n").filter(Boolean).map((line) => {
        const [service, spec, replicas] = line.split(" ");
        return {
            service, digest: spec?.startsWith(`${image}@`) ? spec.slice(image.length + 1) : null,
            replicas: /^\d+$/.test(replicas ?? "") ? Number(replicas) : null,
        };
    }).sort((a, b) => a.service.localeCompare(b.service));
    return { record, recordProblem, containers, specs, ...files, ...proxy };
}

/** What a deploy left: its record, the services that must run the digest, and the stack's owner id. */
export interface DeployedState {
    record: DeployInfo;
    services: string[];
    /** Absent in states from before owner marks. */
    owner?: string;
    /** Behind the proxy: the route the deploy set. */
    proxy?: Pick<AppProxy, "colours" | "healthPath" | "hostName">;
}

/** Every way the host differs from what the stack recorded, in words; empty when they agree. */
export function driftOf(observed: HostObservation, expected: DeployedState): string[] {
    const differences: string[] = [];
    const want = expected.record.digest;
    if (observed.record === null) {
        differences.push(observed.recordProblem ?? "deploy-info.yml is missing");
    } else {
        if (observed.record.digest !== want) {
            differences.push(`deploy-info.yml names ${observed.record.digest}, the stack deployed ${want}`);
        }
        const changed = (Object.keys(expected.record) as (keyof DeployInfo)[])
            .filter((key) => key !== "digest" && observed.record![key] !== expected.record[key]);
        if (changed.length > 0) {
            differences.push(`deploy-info.yml was changed on the host (${changed.join(", ")})`);
        }
    }
    differences.push(...filesDrift(observed.files, observed.record !== null, expected));
    const serving = expected.proxy === undefined ? { containers: observed.containers, differences: [] } : proxyDrift(observed, expected.proxy);
    differences.push(...serving.differences);
    for (const service of expected.services) {
        const spec = observed.specs?.find((candidate) => candidate.service === service);
        if (spec && spec.digest !== want) {
            differences.push(`service ${service}'s spec names ${spec.digest ?? "an image not from this repository"}, the stack deployed ${want}`);
        }
        const ours = serving.containers.filter((container) => container.service === service);
        if (ours.length === 0) {
            differences.push(`service ${service} has no container`);
        } else if (spec?.replicas && ours.length < spec.replicas) {
            differences.push(`service ${service} has ${ours.length} of its ${spec.replicas} tasks`);
        }
        for (const container of ours) {
            if (container.state !== "running") {
                differences.push(`service ${service} is ${container.state}`);
            }
            if (container.digest !== want) {
                differences.push(`service ${service} runs ${container.digest ?? "an image not from this repository"}, the stack deployed ${want}`);
            }
        }
    }
    return differences;
}

/**
 * Behind the proxy: how its route differs from the one the deploy set, and the containers of the colour it sends
 * traffic to (what must run the deployed digest); the other colour running is a switch cut short.
 */
function proxyDrift(observed: HostObservation, expected: NonNullable<DeployedState["proxy"]>): { containers: ContainerState[]; differences: string[] } {
    const route = observed.proxy?.route;
    if (!route) {
        return {
            containers: [],
            differences: [observed.proxy === undefined ? "the proxy's route was not read"
                : observed.proxy.problem ?? "the proxy has no route for the app (removed by hand?): nothing serves its traffic"],
        };
    }
    const differences: string[] = [];
    const live = (Object.keys(expected.colours) as (keyof typeof expected.colours)[])
        .find((colour) => expected.colours[colour] === route.upstreamPort);
    if (live === undefined) {
        differences.push(`the proxy sends the app to 127.0.0.1:${route.upstreamPort}, neither of its colours ` +
            `(${expected.colours.blue}, ${expected.colours.green}): changed by hand?`);
    }
    if (route.healthPath !== expected.healthPath || route.hostName !== expected.hostName) {
        differences.push(`the proxy's route was changed (health path ${route.healthPath}, host ${route.hostName ?? "any"}; ` +
            `the stack set ${expected.healthPath}, ${expected.hostName ?? "any"})`);
    }
    const idle = observed.containers.filter((container) => container.colour !== live && container.state === "running");
    if (live !== undefined && idle.length > 0) {
        differences.push(`the ${idle[0].colour} colour runs beside the serving ${live} one (a switch cut short?)`);
    }
    return { containers: observed.containers.filter((container) => container.colour === live), differences };
}

/** How the app dir's own files differ from the deploy the stack recorded; beside a missing record, only a commit left. */
function filesDrift(observed: DirFiles | undefined, recorded: boolean, expected: DeployedState): string[] {
    if (observed === undefined) {
        return [];
    }
    const differences: string[] = [];
    if (observed.pending !== null) {
        differences.push(`a deploy was decided but not all its files were put in place (${observed.pending}): pulumi up finishes it`);
    }
    if (!recorded) {
        return differences;
    }
    if (observed.composeDigests === null) {
        differences.push("compose.yml is missing");
    } else if (observed.composeDigests.length === 0 || observed.composeDigests.some((digest) => digest !== expected.record.digest)) {
        differences.push(`compose.yml names ${observed.composeDigests.join(", ") || "no image of this repository"}, ` +
            `the stack deployed ${expected.record.digest}`);
    }
    if (expected.owner !== undefined && observed.owner !== expected.owner) {
        differences.push(observed.owner === null ? "the dir's .owner mark is missing"
            : `the dir's .owner names another stack (${printable(observed.owner)})`);
    }
    return differences;
}
