// Messages from a dynamic provider to the Pulumi engine: the change a preview is about to make, a deploy's
// progress while it waits on the host. The stock provider host wires no logger, but like every plugin it
// is started with the engine's address as its first argument, and the engine's Log call is public.
import * as grpc from "@grpc/grpc-js";
import * as engineRpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engineProto from "@pulumi/pulumi/proto/engine_pb";

export type Severity = "info" | "warning";

/** The engine this provider process was started by, or null outside one (unit tests, the program itself). */
function engineAddress(): string | null {
    const [, entry, address] = process.argv;
    return entry?.includes("dynamic-provider") && address ? address : null;
}

let client: engineRpc.EngineClient | null = null;

/**
 * Says `message` in the engine's output, attached to `urn` when given; `ephemeral` messages are status lines
 * that the progress display replaces with the next one. Never fails: a message is not worth a failed deploy.
 */
export function engineLog(severity: Severity, message: string, options: { urn?: string; ephemeral?: boolean } = {}): Promise<void> {
    const address = engineAddress();
    if (address === null) {
        return Promise.resolve();
    }
    client ??= new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
    const request = new engineProto.LogRequest();
    request.setSeverity(severity === "info" ? engineProto.LogSeverity.INFO : engineProto.LogSeverity.WARNING);
    request.setMessage(message);
    request.setUrn(options.urn ?? "");
    request.setEphemeral(options.ephemeral ?? false);
    return new Promise((resolve) => client!.log(request, () => resolve()));
}
