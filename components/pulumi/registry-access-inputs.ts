// The workspace's registry access as a dynamic resource's inputs: the fields its state has always held (so that
// stacks deployed before the value existed see no change), the password a secret.
import type * as pulumi from "@pulumi/pulumi";
import { secret } from "@pulumi/pulumi/output";
import type { RegistryAccess } from "../access/registry-access";

export type RegistryAccessInput = RegistryAccess<pulumi.Input<string>>;

export function registryAccessInputs(access: RegistryAccessInput): {
    registry: string; insecure: boolean; platform: string; username?: string; password?: pulumi.Output<string>;
} {
    return {
        registry: access.registry,
        insecure: access.insecure,
        platform: access.platform,
        username: access.credentials?.username,
        password: access.credentials ? secret(access.credentials.password) : undefined,
    };
}
