// The one place a registry client is made, from the workspace's registry access.
import { DigestCache } from "../registry/cache";
import { RegistryClient } from "../registry/client";
import type { RegistryAccess } from "./registry-access";

/** `cache`: where manifests and config blobs fetched by digest are kept between runs (verified on every read). */
export function registryClient(access: RegistryAccess, cache?: DigestCache): RegistryClient {
    return new RegistryClient({ registry: access.registry, insecure: access.insecure, credentials: access.credentials, cache });
}
