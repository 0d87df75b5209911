// A dynamic resource whose provider is loaded, not serialized. @pulumi/pulumi's dynamic.Resource serializes its
// provider's closure into the `__provider` input on every run (about 2 s for our providers, and the whole code
// in the state); the engine's dynamic-provider process only needs a text whose `handler()` returns the provider.
// Ours is a require of the providers' entry (components/providers/load.js) from the directory that process runs
// in, the project's root: the state keeps a few lines, and the code comes from the checkout that runs it
// (components/providers/interface-version.ts says what guards a record against an older checkout).
import type * as pulumi from "@pulumi/pulumi";
import { CustomResource } from "@pulumi/pulumi/resource";

/** The resource types components/providers/load.js serves. */
export type ProviderType = "ImageDigest" | "HostDeployment" | "StackIdentity";

/** The project-relative entry the provider process loads the providers through. */
export const providersEntry = "components/providers/load.js";

/** The `__provider` text of a type: what the engine stores, and hands back to its provider process. */
export function providerText(type: ProviderType): string {
    return "// The provider is the code of the checkout that runs pulumi, loaded from the project's root.\n" +
        `exports.handler = () => require(require("path").resolve(${JSON.stringify(providersEntry)})).provider(${JSON.stringify(type)});\n`;
}

/**
 * pulumi.dynamic.Resource with a loaded provider: the same type token (`pulumi-nodejs:dynamic/iac:<type>`), so
 * the engine runs it with the same default dynamic provider, and stacks deployed with serialized providers keep
 * their resources.
 */
export abstract class LoadedDynamicResource extends CustomResource {
    protected constructor(type: ProviderType, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions | undefined) {
        if ("__provider" in props) {
            throw new Error("A dynamic resource must not define the __provider key");
        }
        super(`pulumi-nodejs:dynamic/iac:${type}`, name, { ...props, __provider: providerText(type) }, opts);
    }
}
