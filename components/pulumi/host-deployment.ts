// HostDeployment: an app as it runs on its workspace's Docker host, deployed over SSH and observed on refresh. The
// provider is components/providers/host-deployment.ts.
import type * as pulumi from "@pulumi/pulumi";
import { secret } from "@pulumi/pulumi/output";
import type { DeployInfo } from "../model/deploy-info";
import type { PinnedImage } from "../providers/host-deployment";
import type { AppLocation, DeployTarget } from "../remote/layout";
import type { AppProxy } from "../remote/proxy";
import type { HostObservation } from "../remote/observation";
import type { SshConnection } from "../remote/ssh";
import { LoadedDynamicResource } from "./dynamic-resource";
import { RegistryAccessInput, registryAccessInputs } from "./registry-access-inputs";

export interface HostDeploymentArgs {
    connection: pulumi.Input<SshConnection>;
    location: AppLocation;
    target: DeployTarget;
    /** The workspace's registry access; with credentials, the host logs in before pulling (the password on stdin). */
    access: RegistryAccessInput;
    repository: pulumi.Input<string>;
    image: pulumi.Input<PinnedImage>;
    compose: pulumi.Input<string>;
    services: pulumi.Input<string[]>;
    env: pulumi.Input<string>;
    deployedBy: string;
    healthTimeoutSeconds: number;
    logUrn?: pulumi.Input<string>;
    owner: pulumi.Input<string>;
    /** Served through the host's proxy (the proxied target). */
    proxy?: pulumi.Input<AppProxy>;
}

export class HostDeployment extends LoadedDynamicResource {
    declare readonly observed: pulumi.Output<HostObservation>;
    declare readonly written: pulumi.Output<DeployInfo | null>;
    declare readonly drift: pulumi.Output<string[]>;

    constructor(name: string, args: HostDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
        const { access, ...deployment } = args;
        super("HostDeployment", name, {
            ...deployment,
            ...registryAccessInputs(access),
            env: secret(args.env),
            observed: undefined,
            written: undefined,
            drift: undefined,
        }, { ...opts, additionalSecretOutputs: ["connection", "env", "password"] });
    }
}
