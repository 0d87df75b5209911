// The entry through which the engine's dynamic-provider process loads a provider. The `__provider` text the
// program records for each dynamic resource (components/pulumi/dynamic-resource.ts) is a require of this file
// from the process's working directory, the project's root, where the engine starts its plugins (the stock
// dynamic-provider shim finds @pulumi/pulumi there too): the code that runs is the checkout's, never a copy
// kept in the state. That process is plain node, so the providers' TypeScript is compiled as it is required, as
// the program's is (../typescript-require.js).
"use strict";

/** Per resource type (the token's last part), its provider's module and export. */
const providers = {
    ImageDigest: () => require("./image-digest").imageDigestProvider,
    HostDeployment: () => require("./host-deployment").hostDeploymentProvider,
    // Retired: an app's listing is now kept by its ImageDigest. Stacks deployed before still hold these resources,
    // which the engine deletes (or refreshes, before that `pulumi up`) through this entry; they held nothing else.
    ImageOverview: () => ({}),
    StackIdentity: () => require("./stack-identity").stackIdentityProvider,
};

exports.provider = (type) => {
    const load = Object.hasOwn(providers, type) ? providers[type] : undefined;
    if (load === undefined) {
        throw new Error(`no dynamic provider for resource type ${JSON.stringify(type)} in ${__dirname}: ` +
            "this checkout is older than the stack's program, pull the project's latest code");
    }
    require("../typescript-require");
    return load();
};
