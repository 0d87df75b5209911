// The entry through which the engine's dynamic-provider process loads a provider. The `__provider` text the
// program records for each dynamic resource (components/pulumi/dynamic-resource.ts) is a require of this file
// from the process's working directory, the project's root, where the engine starts its plugins (the stock
// dynamic-provider shim finds @pulumi/pulumi there too): the code that runs is the checkout's, never a copy
// kept in the state. That process is plain node, so the providers' TypeScript is compiled as it is required, by
// the swc that `pulumi up` already compiles the program with (ts-node, tsconfig.pulumi.json), with the same
// target and module format.
"use strict";
const fs = require("fs");

/** Per resource type (the token's last part), its provider's module and export. */
const providers = {
    ImageDigest: () => require("./image-digest").imageDigestProvider,
    HostDeployment: () => require("./host-deployment").hostDeploymentProvider,
    ImageOverview: () => require("./image-overview").imageOverviewProvider,
    StackIdentity: () => require("./stack-identity").stackIdentityProvider,
};

/**
 * Compiles `.ts` on require, unless something already does: the program and the tests run under ts-node, whose
 * hook (and its settings) must stay the one in force there.
 */
function compileTypeScript() {
    if (require.extensions[".ts"]) {
        return;
    }
    const swc = require("@swc/core");
    require.extensions[".ts"] = (module, filename) => {
        const { code } = swc.transformSync(fs.readFileSync(filename, "utf8"), {
            filename,
            // Inline, for the stack traces that the shim's source-map-support prints with the file's own lines.
            sourceMaps: "inline",
            module: { type: "commonjs" },
            jsc: { parser: { syntax: "typescript" }, target: "es2022" },
        });
        module._compile(code, filename);
    };
}

exports.provider = (type) => {
    const load = Object.hasOwn(providers, type) ? providers[type] : undefined;
    if (load === undefined) {
        throw new Error(`no dynamic provider for resource type ${JSON.stringify(type)} in ${__dirname}: ` +
            "this checkout is older than the stack's program, pull the project's latest code");
    }
    compileTypeScript();
    return load();
};
