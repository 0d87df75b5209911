// Whether an image still pulls, the way a Docker engine pulls it: the manifest by digest, for an index every
// child manifest, and every config and layer blob, each verified against its digest. Independent of
// components/registry on purpose: a test must not check the client with the client.
import * as crypto from "crypto";

const accept = [
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

async function fetchVerified(url: string, digest: string, headers: Record<string, string> = {}): Promise<Buffer> {
    const response = await fetch(url, { headers });
    if (response.status !== 200) {
        throw new Error(`${url}: HTTP ${response.status}`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    const actual = `sha256:${crypto.createHash("sha256").update(bytes).digest("hex")}`;
    if (actual !== digest) {
        throw new Error(`${url}: served ${actual}`);
    }
    return bytes;
}

/** Resolves when every piece of `repository@digest` can be fetched intact; rejects naming the first that cannot. */
export async function pullCompletely(address: string, repository: string, digest: string): Promise<void> {
    const base = `http://${address}/v2/${repository}`;
    const manifest = JSON.parse((await fetchVerified(`${base}/manifests/${digest}`, digest, { accept })).toString("utf8")) as {
        manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[];
    };
    for (const child of manifest.manifests ?? []) {
        await pullCompletely(address, repository, child.digest);
    }
    for (const blob of [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])]) {
        await fetchVerified(`${base}/blobs/${blob.digest}`, blob.digest);
    }
}
