// Pushes images straight through the Distribution API (blob uploads, manifests, indexes), so registry tests
// need no Docker engine. Independent of components/registry on purpose: a test must not check the client
// with the client.
import * as crypto from "crypto";
import * as zlib from "zlib";

export interface PushedImage {
    digest: string;
    configDigest: string;
    manifest: Buffer;
    platform: string;
}

export interface ImageSpec {
    labels?: Record<string, string>;
    platform?: string;
    /** Docker v2 media types instead of OCI. */
    docker?: boolean;
    /** Makes otherwise equal images distinct. */
    seed?: string;
}

const sha256 = (bytes: Buffer) => `sha256:${crypto.createHash("sha256").update(bytes).digest("hex")}`;

export class TestPusher {
    constructor(private readonly address: string, private readonly credentials?: { username: string; password: string }) {}

    private headers(extra: Record<string, string> = {}): Record<string, string> {
        return this.credentials
            ? { ...extra, authorization: "Basic " + Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64") }
            : extra;
    }

    private async check(response: Response, what: string): Promise<Response> {
        if (!response.ok) {
            throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
        }
        return response;
    }

    async pushBlob(repository: string, bytes: Buffer): Promise<string> {
        const digest = sha256(bytes);
        const start = await this.check(await fetch(`http://${this.address}/v2/${repository}/blobs/uploads/`,
            { method: "POST", headers: this.headers() }), `start upload to ${repository}`);
        const location = new URL(start.headers.get("location")!, `http://${this.address}`);
        location.searchParams.set("digest", digest);
        await this.check(await fetch(location, {
            method: "PUT", body: bytes,
            headers: this.headers({ "content-type": "application/octet-stream" }),
        }), `upload ${digest} to ${repository}`);
        return digest;
    }

    async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
        const response = await this.check(await fetch(`http://${this.address}/v2/${repository}/manifests/${reference}`, {
            method: "PUT", body: bytes, headers: this.headers({ "content-type": mediaType }),
        }), `put manifest ${repository}:${reference}`);
        await response.body?.cancel();
        return sha256(bytes);
    }

    /** One image (config with labels, one small layer), tagged with each of `tags`. */
    async pushImage(repository: string, tags: string[], spec: ImageSpec = {}): Promise<PushedImage> {
        const platform = spec.platform ?? "linux/amd64";
        const [os, architecture, variant] = platform.split("/");
        const layer = zlib.gzipSync(Buffer.from(`layer of ${repository} ${spec.seed ?? crypto.randomUUID()}`));
        const layerDigest = await this.pushBlob(repository, layer);
        const config = Buffer.from(JSON.stringify({
            architecture, os, ...(variant ? { variant } : {}),
            config: { Labels: spec.labels ?? {} },
            rootfs: { type: "layers", diff_ids: [sha256(zlib.gunzipSync(layer))] },
        }));
        const configDigest = await this.pushBlob(repository, config);
        const mediaTypes = spec.docker
            ? { manifest: "application/vnd.docker.distribution.manifest.v2+json", config: "application/vnd.docker.container.image.v1+json", layer: "application/vnd.docker.image.rootfs.diff.tar.gzip" }
            : { manifest: "application/vnd.oci.image.manifest.v1+json", config: "application/vnd.oci.image.config.v1+json", layer: "application/vnd.oci.image.layer.v1.tar+gzip" };
        const manifest = Buffer.from(JSON.stringify({
            schemaVersion: 2,
            mediaType: mediaTypes.manifest,
            config: { mediaType: mediaTypes.config, digest: configDigest, size: config.length },
            layers: [{ mediaType: mediaTypes.layer, digest: layerDigest, size: layer.length }],
        }));
        const digest = await this.putManifest(repository, tags[0] ?? sha256(manifest), mediaTypes.manifest, manifest);
        for (const tag of tags.slice(1)) {
            await this.putManifest(repository, tag, mediaTypes.manifest, manifest);
        }
        return { digest, configDigest, manifest, platform };
    }

    /** A multi-platform OCI index over `images` (pushed first, untagged), tagged with each of `tags`. */
    async pushIndex(repository: string, tags: string[], images: PushedImage[]): Promise<string> {
        const index = Buffer.from(JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: images.map((image) => {
                const [os, architecture, variant] = image.platform.split("/");
                return {
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    digest: image.digest, size: image.manifest.length,
                    platform: { os, architecture, ...(variant ? { variant } : {}) },
                };
            }),
        }));
        let digest = sha256(index);
        for (const tag of tags.length > 0 ? tags : [digest]) {
            digest = await this.putManifest(repository, tag, "application/vnd.oci.image.index.v1+json", index);
        }
        return digest;
    }
}
