// A registry that answers whatever a test scripts: a real HTTP server on a loopback address and an ephemeral
// port, recording each request it receives with its Authorization header, so a test can prove where
// credentials went. Independent of components/registry on purpose: a test must not check the client with
// the client.
import * as crypto from "crypto";
import * as http from "http";
import { AddressInfo } from "net";

export interface ReceivedRequest {
    method: string;
    url: string;
    authorization: string | undefined;
}

export type Script = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export class ScriptedRegistry {
    readonly requests: ReceivedRequest[] = [];
    /** TCP connections accepted so far: a client that keeps its connections opens few. */
    connections = 0;

    private constructor(private readonly server: http.Server, public script: Script) {}

    /** Listens on `host` (another loopback address makes another origin) at a free port. */
    static async start(script: Script, host = "127.0.0.1"): Promise<ScriptedRegistry> {
        const server = http.createServer();
        const registry = new ScriptedRegistry(server, script);
        server.on("connection", () => registry.connections++);
        server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
            registry.requests.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
            registry.script(req, res);
        });
        await new Promise<void>((resolve) => server.listen(0, host, resolve));
        return registry;
    }

    /** host:port, as iac:registry takes it. */
    get address(): string {
        const { address, port } = this.server.address() as AddressInfo;
        return `${address}:${port}`;
    }

    get origin(): string {
        return `http://${this.address}`;
    }

    async stop(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise((resolve) => this.server.close(resolve));
    }
}

export const sha256 = (bytes: Buffer) => `sha256:${crypto.createHash("sha256").update(bytes).digest("hex")}`;

export const ociManifestType = "application/vnd.oci.image.manifest.v1+json";

export interface ScriptedImage {
    manifest: Buffer;
    digest: string;
    config: Buffer;
    configDigest: string;
}

/** An OCI image whose config is `config` as given (any JSON, or raw bytes), with a manifest naming it. */
export function imageWithConfig(config: unknown): ScriptedImage {
    const configBytes = Buffer.isBuffer(config) ? config : Buffer.from(JSON.stringify(config));
    const configDigest = sha256(configBytes);
    const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: ociManifestType,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBytes.length },
        layers: [],
    }));
    return { manifest, digest: sha256(manifest), config: configBytes, configDigest };
}

export function imageWithLabels(labels: Record<string, unknown>): ScriptedImage {
    return imageWithConfig({ architecture: "amd64", os: "linux", config: { Labels: labels }, rootfs: { type: "layers", diff_ids: [] } });
}

/** Serves one image honestly under any tag and its digest, and its config blob; 404 for anything else. */
export function serveImage(image: ScriptedImage): Script {
    return (req, res) => {
        const path = new URL(req.url!, "http://x").pathname;
        if (/^\/v2\/.+\/manifests\/[^/]+$/.test(path)) {
            res.writeHead(200, { "content-type": ociManifestType, "docker-content-digest": image.digest, "content-length": image.manifest.length });
            res.end(req.method === "HEAD" ? undefined : image.manifest);
        } else if (path.endsWith(`/blobs/${image.configDigest}`)) {
            res.writeHead(200, { "content-length": image.config.length }).end(image.config);
        } else {
            res.writeHead(404, { "content-type": "application/json" })
                .end(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN", message: "not scripted" }] }));
        }
    };
}

/** Sends headers, then one byte every `everyMs` until the client gives up: a body that never completes. */
export function drip(res: http.ServerResponse, everyMs: number, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(200, { "content-type": "application/json", ...headers });
    res.write("{");
    const timer = setInterval(() => res.write(" "), everyMs);
    res.on("close", () => clearInterval(timer));
}
