// The HostDeployment provider: an app as it runs on its workspace's Docker host. create/update deploy (one SSH
// session, the deploy itself detached from it on the host), read observes the host — deploy-info.yml and the
// digests the app's containers run — so `pulumi refresh` sees what changed by hand or by an interrupted run, and
// diff treats any difference from the recorded deploy as a change the next `pulumi up` converges. It takes the
// image ImageDigest pinned and never asks the registry (what a change means is said there). Run by the engine's
// dynamic-provider process (components/providers/load.js).
import type * as pulumi from "@pulumi/pulumi";
import { randomUUID } from "crypto";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import type { VersionFacts } from "../model/change-notice";
import { DeployInfo, renderRecordParts } from "../model/deploy-info";
import { changedEnvironmentNames } from "../model/environment-change";
import { Severity, engineLog } from "./engine-log";
import { stamped } from "./interface-version";
import { changingHost, observeOnHost } from "./shared-host-observations";
import { AppLocation, DeployTarget, appDir } from "../remote/layout";
import type { AppProxy } from "../remote/proxy";
import { HostObservation, driftOf, parseObservation } from "../remote/observation";
import { buildDeployPhase } from "../remote/deploy-phase";
import { buildDeployScript, buildRemoveScript, encodeBundle } from "../remote/scripts";
import { SshConnection, runRemote } from "../remote/ssh";
import { defaultTarget } from "../remote/targets/registry";

/** The pinned image, from ImageDigest; unknown during a preview that changes it. */
export interface PinnedImage extends VersionFacts {
    /** The description label exactly as the image carries it (UTF-8, base64), for deploy-info.yml. */
    descriptionBase64?: string | null;
}

/** deploy-info.yml holds the label exactly; states pinned before the exact form existed only have the shown one. */
function exactDescription(image: PinnedImage): string | null {
    return typeof image.descriptionBase64 === "string" ? Buffer.from(image.descriptionBase64, "base64").toString("utf8") : image.description;
}

/** The provider's plain inputs, as the engine hands them over. */
export interface HostDeploymentInputs {
    connection: SshConnection;
    location: AppLocation;
    /** Absent in states written before targets existed: compose. */
    target?: DeployTarget;
    registry: string;
    repository: string;
    platform: string;
    insecure: boolean;
    username?: string;
    password?: string;
    image: PinnedImage;
    /** The rendered compose file, pinned by digest. */
    compose: string;
    /** The compose services that run the image. */
    services: string[];
    /** The env file; secret. */
    env: string;
    deployedBy: string;
    healthTimeoutSeconds: number;
    /** Where the engine shows progress and notices: the component this deployment belongs to. */
    logUrn?: string;
    /** The stack's id (StackIdentity), which the app dir's `.owner` names. */
    owner?: string;
    /** Served through the host's proxy (the proxied target): the proxy's pinned image, the route, the colours' ports. */
    proxy?: AppProxy;
}

export interface HostDeploymentOutputs extends HostDeploymentInputs {
    /**
     * The id the app dir's `.owner` names, as the last deploy wrote it, so a same-named stack elsewhere cannot pass
     * for this one. Absent in states from before owner marks: their next deploy makes it.
     */
    owner?: string;
    /** What the host held at the last deploy or refresh. */
    observed: HostObservation;
    /** The record this stack's last deploy left. */
    written: DeployInfo | null;
    /** How `observed` differs from the last deploy, in words; empty when they agree. */
    drift: string[];
}

function where(inputs: HostDeploymentInputs): string {
    return `${inputs.connection.user}@${inputs.connection.host}:${appDir(inputs.location)}`;
}

const imageName = (inputs: HostDeploymentInputs) => `${inputs.registry}/${inputs.repository}`;

function say(inputs: HostDeploymentInputs, severity: Severity, message: string, ephemeral = false): Promise<void> {
    return engineLog(severity, message, { urn: inputs.logUrn, ephemeral });
}

const targetKind = (inputs: HostDeploymentInputs): DeployTarget => inputs.target ?? defaultTarget.name;

/** Where the app lives: a change of it is a move, never a second copy. */
function placeOf(inputs: HostDeploymentInputs): string {
    return JSON.stringify([inputs.connection.host, inputs.connection.port, appDir(inputs.location)]);
}

/**
 * What decides whether the host must be deployed to again; credentials and who deploys are not among it. The
 * target kind counts only when it is not the default, so states from before targets existed compare as they did.
 */
function targetOf(inputs: HostDeploymentInputs): string {
    const { host, port, user } = inputs.connection;
    return JSON.stringify([host, port, user, appDir(inputs.location), inputs.image.digest, inputs.compose, inputs.env, inputs.services,
        ...(targetKind(inputs) === defaultTarget.name ? [] : [targetKind(inputs)]), ...(inputs.proxy === undefined ? [] : [inputs.proxy])]);
}

const isKnown = (inputs: HostDeploymentInputs) => typeof inputs.image?.digest === "string" && inputs.image.digest !== unknownValue;

/** What the outputs say of the host: what it holds, and how that differs from the record the last deploy left. */
function observedState(inputs: HostDeploymentInputs, observed: HostObservation, written: DeployInfo | null, owner: string | undefined):
    Pick<HostDeploymentOutputs, "observed" | "written" | "drift"> {
    const drift = written === null ? ["the stack holds no record of a deploy"]
        : driftOf(observed, { record: written, services: inputs.services, owner, proxy: inputs.proxy });
    return { observed, written, drift };
}

const parseAnswer = (inputs: HostDeploymentInputs, stdout: string) =>
    parseObservation(stdout, imageName(inputs), inputs.image.digest, where(inputs), inputs.location);

async function deploy(inputs: HostDeploymentInputs, owner: string): Promise<HostDeploymentOutputs> {
    const spec = {
        ...inputs.location, owner, target: targetKind(inputs), registry: inputs.registry, repository: inputs.repository, digest: inputs.image.digest,
        services: inputs.services, healthTimeoutSeconds: inputs.healthTimeoutSeconds,
        registryUsername: inputs.username && inputs.password ? inputs.username : undefined, proxy: inputs.proxy,
    };
    const record = renderRecordParts({
        app: inputs.location.app, workspace: inputs.location.workspace, image: imageName(inputs), tag: inputs.image.tag,
        digest: inputs.image.digest, description: exactDescription(inputs.image), deployed_by: inputs.deployedBy,
    });
    const { stdout } = await changingHost(inputs.connection, () => runRemote(inputs.connection, buildDeployScript(spec), encodeBundle({
        password: spec.registryUsername ? inputs.password! : "",
        phase: buildDeployPhase(spec), compose: inputs.compose, env: inputs.env, recordHead: record.head, recordTail: record.tail,
    }), (line) => void say(inputs, "info", line, true)));
    // What the deploy just wrote is, by definition, the record it left.
    const observed = parseAnswer(inputs, stdout);
    const outs = { ...inputs, owner, ...observedState(inputs, observed, observed.record, owner) };
    if (outs.drift.length > 0) {
        await say(inputs, "warning", `the deploy finished but ${where(inputs)} shows: ${outs.drift.join("; ")}; ` +
            "run pulumi up --refresh once it has settled");
    }
    return outs;
}

export const hostDeploymentProvider: pulumi.dynamic.ResourceProvider<HostDeploymentInputs, HostDeploymentOutputs> = stamped("HostDeployment", {
    async diff(_id, olds, news) {
        if (placeOf(olds) !== placeOf(news)) {
            // A move: one copy at a time, never two, and the old dir's history closed by its removal.
            const sameHost = olds.connection.host === news.connection.host && olds.connection.port === news.connection.port;
            await say(news, "warning", `${news.location.app}@${news.location.workspace} moves from ${where(olds)} to ${where(news)}: ` +
                (sameHost ? "it is taken down there first (on one host the two copies could not share their ports), then deployed here"
                    : "it is deployed there first, then taken down here"));
            return { changes: true, replaces: ["location"], deleteBeforeReplace: sameHost };
        }
        const changed = !isKnown(news) || targetOf(olds) !== targetOf(news);
        const environment = typeof olds.env === "string" && typeof news.env === "string" ? changedEnvironmentNames(olds.env, news.env) : [];
        if (environment.length > 0) {
            // Names only: the values are secrets, and what a preview prints is shared.
            await say(news, "info", `${news.location.app}@${news.location.workspace}: environment changed: ${environment.join(", ")}`);
        }
        if (!changed && olds.drift.length > 0) {
            await say(news, "warning", `${where(news)} differs from the stack: ${olds.drift.join("; ")}; ` +
                `pulumi up deploys ${news.image.tag ?? news.image.digest} again`);
        }
        // A state from before owner marks: its next run marks the dir (changing nothing else there).
        return { changes: changed || olds.drift.length > 0 || olds.owner === undefined, replaces: [], deleteBeforeReplace: false };
    },

    async create(inputs) {
        const { host, port } = inputs.connection;
        return { id: `${host}:${port}${appDir(inputs.location)}`, outs: await deploy(inputs, inputs.owner ?? randomUUID()) };
    },

    async update(_id, olds, news) {
        return { outs: await deploy(news, olds.owner ?? news.owner ?? randomUUID()) };
    },

    async read(id, props) {
        if (!props) {
            throw new Error(`HostDeployment ${id} cannot be imported: declare the app in iac:apps and run pulumi up`);
        }
        const stdout = await observeOnHost(props.connection, props.location, targetKind(props));
        return { id, props: { ...props, ...observedState(props, parseAnswer(props, stdout), props.written, props.owner) } };
    },

    async delete(_id, props) {
        await changingHost(props.connection, () => runRemote(props.connection, buildRemoveScript(props.location, props.owner)));
    },
});
