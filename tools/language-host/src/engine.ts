// The host's calls to the engine: the health check that ends a host outliving its CLI, and the debugger request.

import * as grpc from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";

/** Interval of the engine health check (upstream: rpcutil.Healthcheck, 5 minutes). */
const healthCheckIntervalMs = 5 * 60_000;
/** First port tried for --inspect-brk when the engine asks to attach a debugger. */
export const preferredDebugPort = 9229;

let healthTimer: NodeJS.Timeout | undefined;

/**
 * rpcutil.Healthcheck: every 5 minutes ask the engine's grpc.health.v1.Health/Check (UNIMPLEMENTED counts
 * as alive); when the engine is gone, shut down so no host outlives its CLI.
 */
export function startHealthCheck(address: string, onGone: () => void): void {
    if (healthTimer) {
        clearInterval(healthTimer);
    }
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    healthTimer = setInterval(() => {
        client.makeUnaryRequest(
            "/grpc.health.v1.Health/Check",
            () => Buffer.alloc(0), // HealthCheckRequest{} encodes as no bytes
            (b: Buffer) => b,
            Buffer.alloc(0),
            (err: grpc.ServiceError | null) => {
                if (err && err.code !== grpc.status.UNIMPLEMENTED) {
                    onGone();
                }
            },
        );
    }, healthCheckIntervalMs);
    healthTimer.unref();
}

/** Engine.StartDebugging: asks the CLI to attach a debugger to the program (pulumi up --attach-debugger). */
export async function startDebugging(engineAddress: string, pid: number, port: number): Promise<void> {
    // Loaded on demand: only --attach-debugger needs the engine client.
    const enginerpc: typeof import("@pulumi/pulumi/proto/engine_grpc_pb") = require("@pulumi/pulumi/proto/engine_grpc_pb");
    const engineproto: typeof import("@pulumi/pulumi/proto/engine_pb") = require("@pulumi/pulumi/proto/engine_pb");
    const cfg: Record<string, structproto.JavaScriptValue> = {
        name: "Pulumi: Program (nodejs)",
        type: "node",
        request: "attach",
        processId: pid,
        continueOnAttach: true,
        skipFiles: ["<node_internals>/**"],
    };
    let message = `on process id ${pid}`;
    if (port !== preferredDebugPort) {
        cfg.port = port;
        message += ` and port ${port}`;
    }
    const req = new engineproto.StartDebuggingRequest();
    req.setConfig(structproto.Struct.fromJavaScript(cfg));
    req.setMessage(message);
    const client = new enginerpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
    try {
        await new Promise<void>((resolve, reject) =>
            client.startDebugging(req, (err) => (err ? reject(new Error(`unable to start debugging: ${err.message}`)) : resolve())),
        );
    } finally {
        client.close();
    }
}
