// AppDeployment: one app on one workspace's Docker host. The compose file is staged and deployed over SSH
// with the image pinned by digest; deploy-info.yml is written on the host only after the deploy succeeded.
// Rollback is a config change: another tag or digest, another pinned ref, another deploy.
import * as pulumi from "@pulumi/pulumi";
import { contentHash, renderCompose, renderEnvFile } from "./compose";
import { DeployInfo, operatorIdentity, parseDeployInfo, renderDeployInfo } from "./deploy-info";
import { ImageDigest } from "./image-digest";
import { ImageOverview, OverviewRow } from "./image-overview";
import { RemoteCommand } from "./remote/command";
import { AppLocation, appDir, buildDeployScript, buildRemoveScript, buildStageScript } from "./remote/scripts";

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
    /** When set, the host logs in to the registry before pulling; the password travels on stdin. */
    registryUsername?: string;
    registryPassword?: pulumi.Input<string>;
}

export class AppDeployment extends pulumi.ComponentResource {
    /** The record written to deploy-info.yml by this deploy. */
    readonly deployed: pulumi.Output<DeployInfo>;
    /** registry/repository@sha256:…, what runs. */
    readonly ref: pulumi.Output<string>;
    /** Every tag of the app's repository, newest first, `deployed` on the digest just recorded. */
    readonly tags: pulumi.Output<OverviewRow[]>;

    constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("iac:deploy:AppDeployment", name, {}, opts);

        const location: AppLocation = {
            app: args.app, workspace: args.workspace, org: args.org, deployRoot: args.deployRoot ?? "/opt",
        };
        const dir = appDir(location);
        const connection = {
            host: args.connection.host,
            port: args.connection.port ?? 22,
            user: args.connection.user,
            hostKey: args.connection.hostKey,
            privateKey: pulumi.secret(args.connection.privateKey),
            // An unreachable host should fail the run within about half a minute, not after ten retries.
            dialErrorLimit: 3,
            perDialTimeout: 10,
        };
        const envFile = pulumi.output(args.environment ?? {}).apply((environment) => renderEnvFile(environment));
        const rendered = args.image.ref.apply((ref) => renderCompose(args.composeTemplateName, args.composeTemplate, ref));
        // Not secret: keyed, the hash reveals nothing of the environment, and the scripts stay readable in diffs.
        const hash = pulumi.unsecret(pulumi.all([rendered, envFile, connection.privateKey])
            .apply(([compose, env, key]) => contentHash(compose.content, env, key)));

        const stage = new RemoteCommand(`${name}-stage`, {
            connection,
            create: pulumi.all([rendered, hash]).apply(([compose, contentHashValue]) =>
                buildStageScript(location, contentHashValue, compose.content)),
            stdin: envFile,
        }, { parent: this });

        const deployedBy = operatorIdentity();
        const deployScript = pulumi.all([args.image.registry, args.image.repository, args.image.digest, args.image.tag,
            args.image.description, rendered, hash]).apply(([registry, repository, digest, tag, description, compose, contentHashValue]) =>
            buildDeployScript({
                ...location,
                registry, repository, digest,
                services: compose.services,
                contentHash: contentHashValue,
                deployInfoYaml: renderDeployInfo({
                    app: args.app, workspace: args.workspace, image: `${registry}/${repository}`,
                    tag, digest, description, deployed_by: deployedBy,
                }),
                healthTimeoutSeconds: args.healthTimeoutSeconds ?? 120,
                registryUsername: args.registryUsername,
            }));

        const deploy = new RemoteCommand(`${name}-deploy`, {
            connection,
            create: deployScript,
            update: deployScript,
            delete: buildRemoveScript(location),
            triggers: [args.image.digest, hash],
            stdin: args.registryUsername && args.registryPassword ? pulumi.secret(args.registryPassword) : undefined,
        }, { parent: this, dependsOn: [stage] });

        this.deployed = deploy.stdout.apply((stdout) => parseDeployInfo(stdout, `${dir}/deploy-info.yml on ${args.workspace}'s host`));
        this.ref = args.image.ref;

        const overview = new ImageOverview(`${name}-overview`, {
            registry: args.image.registry,
            repository: args.image.repository,
            deployedDigest: this.deployed.digest,
            platform: args.image.platform,
            insecure: args.image.insecure,
            username: args.registryUsername,
            password: args.registryPassword,
        }, { parent: this });
        this.tags = overview.tags;
        this.registerOutputs({ deployed: this.deployed, ref: this.ref, tags: this.tags });
    }
}
