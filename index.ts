// The workspace (this stack): its config read and checked, one pinned image per app.
import * as pulumi from "@pulumi/pulumi";
import { loadWorkspaceConfig } from "./components/config";
import { ImageDigest } from "./components/image-digest";

const workspace = loadWorkspaceConfig();

const images = workspace.apps.map((app) => {
    const image = new ImageDigest(`${app.name}-image`, {
        registry: workspace.registry.address,
        repository: app.image,
        tag: app.tag,
        digest: app.digest,
        platform: workspace.platform,
        insecure: workspace.registry.insecure,
        username: workspace.registry.username,
        password: workspace.registry.password,
    });
    image.drift.apply((drift) => {
        if (drift) {
            pulumi.log.warn(`${app.name}: tag ${drift.tag} now points at ${drift.currentDigest ?? "nothing (deleted)"}; ` +
                `the pinned ${drift.pinnedDigest} stays until you set ${app.name}:tag or ${app.name}:digest`, image);
        }
    });
    return { app: app.name, image };
});

/** Per app, the image pinned for this workspace. */
export const pinned = Object.fromEntries(images.map(({ app, image }) => [app, {
    ref: image.ref,
    tag: image.tag,
    digest: image.digest,
    description: image.description,
    created: image.created,
    drift: image.drift,
}]));
