// What runs an app on its host, as one interface: each target (compose, swarm, …) is a module implementing it,
// the way pulumi-command keeps each resource's controller apart from the connection. The shared shell (the
// deploy phase's transaction, observation, removal, cleanup's reading of a host) asks the target for its part
// and never compares its name; the registration (registry.ts) is the one list of targets.
import type * as YAML from "yaml";
import { AppLocation } from "../layout";
import type { AppProxy } from "../proxy";

/** What a target's shell knows of the deploy it takes part in. */
export interface TargetSpec extends AppLocation {
    /** The compose services that run the app's image. */
    services: string[];
    healthTimeoutSeconds: number;
    /** The registry needs credentials: the host has logged in to it for this deploy. */
    withRegistryAuth: boolean;
    /** The app is served through the host's proxy (`<app>:proxy.port`). */
    proxy?: AppProxy;
}

/** The markers observation prints its sections under (scripts.ts's observationMarkers). */
export interface ObservationMarkers {
    images: string;
    services: string;
    proxy: string;
}

/**
 * A deploy target. Its shell lines run inside the host scripts, where `say MESSAGE` reports, `fail REASON`
 * (in the deploy phase) ends the deploy restoring the recorded one, and `missing` (in the preflight) collects
 * what the host lacks. Every value interpolated in them is validated and quoted by the target.
 */
export interface TargetController {
    /** As `iac:target` names it and the app dir's deploy-target file records it; it names shell functions, so [a-z][a-z0-9_]*. */
    readonly name: string;

    /**
     * The target's checks of a host where docker is on PATH, around `engineCheck` (the engine's own, which they
     * may overlap): each missing piece appended to $missing as a line `  - what`.
     */
    preflight(engineCheck: string[]): string[];

    /**
     * Rewrites the rendered compose template (`doc`, whose services `pinned` run the pinned image) into the form
     * the target takes; a problem in words when the template asks for what the target cannot give.
     */
    translateTemplate(doc: YAML.Document, pinned: string[]): string | undefined;
    /** One line of the env file for a key and value already checked by envEntryProblem; values may be secrets. */
    envLine(key: string, value: string): string;

    /**
     * Shell functions run in the app's dir: `<name>_up REF` (up and healthy on REF within the health timeout,
     * from the compose file in the current dir), `<name>_running REF` (runs REF now), `<name>_down` (taken down,
     * whatever form the compose file in the dir has). Every target's are defined in a deploy: an app moving
     * between targets is taken down from the one it leaves, and brought back there by a restore.
     */
    functions(spec: TargetSpec): string[];
    /** Deploy steps before the switch, run in the app dir: a failure here (`fail`) changes nothing. */
    prepare(spec: TargetSpec): string[];
    /** The first deploy steps once the switch has begun: taking over what older deploys left under other names. */
    takeOver(spec: TargetSpec): string[];
    /** What the deploy waits for after `<name>_up`, in words: "waiting up to … for …". */
    waiting(timeoutSeconds: number): string;
    /** Why the deploy failed when `<name>_up` did, with where to look. */
    upFailure(spec: TargetSpec): string;

    /** Takes down the app whose dir records this target (run in the app dir, under its lock). */
    remove(location: AppLocation): string[];
    /**
     * Removes what deploys of this target from before left under other names, whatever target the dir records
     * now; run by every removal.
     */
    removeLeftovers(location: AppLocation): string[];

    /**
     * Host-wide reads, run once per observation script before the `observe` of every app it reads (a refresh
     * observes a host's apps in one script): shell variables their `observe` takes its answers from, so twenty
     * apps cost one listing, not twenty. Targets whose lines are the same share one run of them.
     */
    observeHost(): string[];

    /**
     * The shell variables `observeHost` sets and `observe` reads: a later script of the same refresh is handed
     * their values instead of listing the host again (providers/shared-host-observations.ts).
     */
    hostVariables: readonly string[];

    /**
     * Prints what runs the app (in a subshell of its own, after `observeHost`): `service state image-id` per container or task, then the images marker and
     * `image-id repo-digest…` per image, then optionally the services marker and `service spec-image replicas`,
     * or the proxy marker and the app's route as the proxy holds it (proxy.ts's readProxyRoute).
     */
    observe(location: AppLocation, markers: ObservationMarkers): string[];

    /**
     * For cleanup, on any host (whatever its workspaces' targets): prints `service REF…` per thing the target keeps
     * running or may return to, `task REF` per thing it runs, beyond the host's own containers (read anyway).
     */
    keptReferences(): string[];
}
