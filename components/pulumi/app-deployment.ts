// AppDeployment: one app on one workspace's Docker host. The compose file is staged and deployed over SSH
// with the image pinned by digest; deploy-info.yml is written on the host only after the deploy succeeded.
// Rollback is a config change: another tag or digest, another pinned ref, another deploy.
import type * as pulumi from "@pulumi/pulumi";
import { ComponentResource } from "@pulumi/pulumi/resource";
import { all, output } from "@pulumi/pulumi/output";
import { healthcheckHttpPath, renderCompose, renderEnvFile } from "../model/compose";
import { DeployInfo, operatorIdentity } from "../model/deploy-info";
import { OverviewRow, deployedLabels, markDeployed } from "../model/overview-listing";
import { HostDeployment } from "./host-deployment";
import { RegistryAccessInput } from "./registry-access-inputs";
import { ImageDigest } from "./image-digest";
import { AppLocation, DeployTarget } from "../remote/layout";
import { AppProxy, ColourPorts, ProxyListen, validateHealthPath } from "../remote/proxy";
import { proxiedTarget } from "../remote/targets/proxied";
import { defaultTarget } from "../remote/targets/registry";

export interface HostConnection {
    host: pulumi.Input<string>;
    port?: pulumi.Input<number>;
    user: pulumi.Input<string>;
    /** The host's public key; when set, any other host is refused. */
    hostKey?: pulumi.Input<string>;
    /** OpenSSH private key text; kept secret. */
    privateKey: pulumi.Input<string>;
}

export interface AppDeploymentArgs {
    app: string;
    /** The workspace (stack) this deployment belongs to. */
    workspace: string;
    /** The deploy dir is `<deployRoot>/<org>/<app>`. */
    org: string;
    /** Default /opt. */
    deployRoot?: string;
    /** compose (the default): docker compose on the host; swarm: a stack on the swarm the host manages. */
    target?: DeployTarget;
    image: ImageDigest;
    connection: HostConnection;
    /** The app's compose template text; services with `image: ${IMAGE}` run the pinned image. */
    composeTemplate: string;
    /** Names the template in errors, e.g. apps/hello-world/compose.yml. */
    composeTemplateName: string;
    /** The containers' environment; values may be secrets. */
    environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** How long `docker compose up --wait` may take to report healthy. Default 120 s. */
    healthTimeoutSeconds?: number;
    /** The workspace's registry access, as ImageDigest got it; with credentials, the host logs in before pulling. */
    access: RegistryAccessInput;
    /** The app's repository as the config names it (known at preview, unlike the pinned image). */
    repository: string;
    /** The stack's id (StackIdentity): the app dir's `.owner` names it. */
    owner: pulumi.Input<string>;
    /** Serve the app through the host's proxy, each deploy a health-gated switch between two colours. */
    proxy?: AppDeploymentProxy;
}

export interface AppDeploymentProxy {
    /** The proxy's image, pinned (the host runs it, or is made to). */
    image: ImageDigest;
    /** The port (and address: unset, every one) the proxy serves the app on. */
    listen: ProxyListen;
    /** Route by host name, so several apps share one port. */
    hostName?: string;
    /** What the proxy checks before switching; default the template's healthcheck URL path, else /up. */
    healthPath?: string;
    colours: ColourPorts;
}

/** The health path behind the proxy: the one configured, else the template's healthcheck URL path, else /up. */
function healthPathOf(proxy: AppDeploymentProxy, template: string): string {
    const fromTemplate = healthcheckHttpPath(template);
    try {
        return proxy.healthPath ?? (fromTemplate === undefined ? "/up" : validateHealthPath(fromTemplate));
    } catch {
        return "/up";
    }
}

export const appDeploymentType = "iac:deploy:AppDeployment";

export class AppDeployment extends ComponentResource {
    /** deploy-info.yml as the host holds it (at the last deploy or refresh); null when it is missing there. */
    readonly deployed: pulumi.Output<DeployInfo | null>;
    /** How the host differs from the last deploy, in words; empty when they agree. */
    readonly drift: pulumi.Output<string[]>;
    /** registry/repository@sha256:…, what runs. */
    readonly ref: pulumi.Output<string>;
    /** Every tag of the app's repository, newest first, `deployed` on the digest the host records. */
    readonly tags: pulumi.Output<OverviewRow[]>;

    constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super(appDeploymentType, name, {}, opts);

        const location: AppLocation = {
            app: args.app, workspace: args.workspace, org: args.org, deployRoot: args.deployRoot ?? "/opt",
        };
        const connection = output({
            host: args.connection.host,
            port: args.connection.port ?? 22,
            user: args.connection.user,
            hostKey: args.connection.hostKey,
            privateKey: args.connection.privateKey,
            // An unreachable host should fail the run within about half a minute, not after ten retries.
            dialErrorLimit: 3,
            perDialTimeout: 10,
        });
        const target = args.proxy === undefined ? args.target ?? defaultTarget.name : proxiedTarget.name;
        const rendered = args.image.ref.apply((ref) => renderCompose(args.composeTemplateName, args.composeTemplate, ref, target));
        const image = args.image;

        const deployment = new HostDeployment(`${name}-deploy`, {
            connection,
            location,
            target,
            access: args.access,
            repository: args.repository,
            image: all([image.digest, image.tag, image.description, image.descriptionBase64, image.created])
                .apply(([digest, tag, description, descriptionBase64, created]) => ({ digest, tag, description, descriptionBase64, created })),
            compose: rendered.content,
            services: rendered.services,
            env: output(args.environment ?? {}).apply((environment) => renderEnvFile(environment, target)),
            deployedBy: operatorIdentity(),
            healthTimeoutSeconds: args.healthTimeoutSeconds ?? 120,
            // The URN's value without the dependency on this component, which would make the child wait for itself.
            logUrn: output(new Promise<string>((resolve) => this.urn.apply(resolve))),
            owner: args.owner,
            ...(args.proxy === undefined ? {} : {
                proxy: args.proxy.image.ref.apply((image): AppProxy => ({
                    image, listen: args.proxy!.listen, ...(args.proxy!.hostName === undefined ? {} : { hostName: args.proxy!.hostName }),
                    healthPath: healthPathOf(args.proxy!, args.composeTemplate), colours: args.proxy!.colours,
                })),
            }),
        }, { parent: this });

        this.deployed = deployment.observed.apply((observed) => observed.record);
        this.drift = deployment.drift;
        this.ref = args.image.ref;

        // The pin's listing, marked here rather than by a resource of its own: what the host records changes no
        // registry read, and each resource an app declares costs every run of the workspace.
        this.tags = all([image.tags, this.deployed, image.tag, image.digest, image.description, image.created, image.revision, image.source])
            .apply(([rows, record, tag, digest, description, created, revision, source]) => markDeployed(args.repository,
                // A pin from before listings were kept here knows its own tag until a refresh lists the others.
                rows ?? [{ repository: args.repository, tag: tag ?? "", digest, description, created, revision, source }],
                record && { digest: record.digest, tag: record.tag }, deployedLabels(record, { digest, description, created, revision, source })));
        this.registerOutputs({ deployed: this.deployed, drift: this.drift, ref: this.ref, tags: this.tags });
    }
}
