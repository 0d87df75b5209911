// pulumi-language-nodejs for this checkout: the Node.js language host, a gRPC server implementing
// pulumirpc.LanguageRuntime with @pulumi/pulumi's own generated stubs. The upstream host is a Go program
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs) that the Go module proxy here does not
// serve; this one does what it does for the methods the CLI calls to run a Node.js program. scripts/install-tools
// bundles this directory with what it requires into .tools/language-host/main.js, writes V8's code cache for it,
// and installs .tools/bin/pulumi-language-nodejs, a wrapper that runs it through launch.js: the engine starts a
// host 2-3 times per command, so it must start fast.
//
//   pulumi-language-nodejs [-flag[=value]]... [<engine address>]
//
// It binds 127.0.0.1:0 and prints the port on stdout, the one line the engine reads before it connects.
// -version prints the version and exits.

import * as grpc from "@grpc/grpc-js";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as langrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as langproto from "@pulumi/pulumi/proto/language_pb";

import { parseArgs } from "./args";
import { interrupt } from "./processes";
import { NodeLanguageHost, running, sdkVersion } from "./host";

type UnaryHandler<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

/** Adapts an (async) function to a grpc-js unary handler; a thrown error becomes the call's error. */
function unary<Req, Res>(fn: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
        Promise.resolve()
            .then(() => fn(call.request, call))
            .then(
                (res) => callback(null, res),
                (err: any) => callback({ code: grpc.status.UNKNOWN, details: String(err?.message ?? err) }),
            );
    };
}

/** The server side of InstallDependencies: the install's output as response messages, its failure as the status. */
function installDependencies(host: NodeLanguageHost): grpc.handleServerStreamingCall<langproto.InstallDependenciesRequest, langproto.InstallDependenciesResponse> {
    return (call) => {
        const abort = new AbortController();
        call.on("cancelled", () => abort.abort());
        const out = {
            stdout: (chunk: Buffer) => call.write(new langproto.InstallDependenciesResponse().setStdout(chunk)),
            stderr: (chunk: Buffer) => call.write(new langproto.InstallDependenciesResponse().setStderr(chunk)),
        };
        host.installDependencies(call.request, out, abort.signal).then(
            () => call.end(),
            (err: Error) => call.emit("error", { code: grpc.status.UNKNOWN, details: err.message }),
        );
    };
}

async function main(argv: string[]): Promise<void> {
    const args = parseArgs(argv);
    if (args.showVersion) {
        console.log(sdkVersion());
        return;
    }

    const server = new grpc.Server({
        "grpc.max_receive_message_length": 400 * 1024 * 1024, // as @pulumi/pulumi's grpcChannelOptions
    });
    let shuttingDown = false;
    const shutdown = () => {
        if (shuttingDown) {
            return;
        }
        shuttingDown = true;
        for (const child of running) {
            interrupt(child);
        }
        server.forceShutdown();
        const exitWhenIdle = () => (running.size === 0 ? process.exit(0) : setTimeout(exitWhenIdle, 50));
        exitWhenIdle();
    };
    process.on("SIGINT", shutdown);
    process.on("SIGTERM", shutdown);

    const host = new NodeLanguageHost(args.engineAddress, args.tracing, shutdown);
    const impl: Partial<langrpc.ILanguageRuntimeServer> = {
        handshake: unary((req) => host.handshake(req)),
        getPluginInfo: unary(() => host.getPluginInfo()),
        getRequiredPackages: unary((req) => host.getRequiredPackages(req)),
        // GetRequiredPlugins is UNIMPLEMENTED upstream too: engines of this age call GetRequiredPackages.
        run: unary((req, call) => host.run(req, call)),
        installDependencies: installDependencies(host),
        runtimeOptionsPrompts: unary(() => new langproto.RuntimeOptionsResponse()),
        template: unary(() => new langproto.TemplateResponse()),
        about: unary((req) => host.about(req)),
        getProgramDependencies: unary((req) => host.getProgramDependencies(req)),
        cancel: unary(() => {
            host.cancel();
            return new emptyproto.Empty();
        }),
    };
    server.addService(langrpc.LanguageRuntimeService, impl as grpc.UntypedServiceImplementation);

    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    // The one line the engine waits for. A string, so that Node does not colorize it.
    console.log(port.toString());
}

main(process.argv.slice(2)).catch((err: any) => {
    console.error(`fatal: ${err?.stack ?? err}`);
    process.exit(1);
});
