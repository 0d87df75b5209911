// The workspace (this stack): its config read and checked, then per app a pinned image and its deployment.
import { all } from "@pulumi/pulumi/output";
import * as log from "@pulumi/pulumi/log";
import { createUrn } from "@pulumi/pulumi/resource";
import { AppDeployment, appDeploymentType } from "./components/pulumi/app-deployment";
import { formatDeployment, formatImageTable } from "./components/model/overview";
import { ImageDigest } from "./components/pulumi/image-digest";
import { loadWorkspaceConfig } from "./components/pulumi/program-workspace";
import { StackIdentity } from "./components/pulumi/stack-identity";

const workspace = loadWorkspaceConfig();
// One id for the stack, recorded before any deploy: the mark of every app dir it owns.
const identity = new StackIdentity("stack-identity");

// The host's proxy, pinned once for every app served through it.
const proxyImage = workspace.proxy && new ImageDigest("proxy-image", {
    access: workspace.registryAccess,
    repository: workspace.proxy.repository,
    tag: workspace.proxy.tag,
    digest: workspace.proxy.digest,
});

const apps = workspace.apps.map((app) => {
    const image = new ImageDigest(`${app.name}-image`, {
        access: workspace.registryAccess,
        repository: app.repository,
        tag: app.tag,
        digest: app.digest,
        // Said on the app's component, as everything else about its deploy.
        notice: { app: app.name, workspace: workspace.name, urn: createUrn(app.name, appDeploymentType) },
        listTags: true,
    });
    image.drift.apply((drift) => {
        if (drift) {
            log.warn(`${app.name}: tag ${drift.tag} now points at ${drift.currentDigest ?? "nothing (deleted)"}; ` +
                `the pinned ${drift.pinnedDigest} stays until you set ${app.name}:tag or ${app.name}:digest`, image);
        }
    });

    const deployment = new AppDeployment(app.name, {
        app: app.name,
        workspace: workspace.name,
        org: workspace.host.org,
        deployRoot: workspace.host.deployRoot,
        target: workspace.host.target,
        image,
        connection: { ...workspace.host, privateKey: workspace.privateKey },
        composeTemplate: app.composeTemplate,
        composeTemplateName: app.composeTemplateName,
        environment: app.secretEnvironment,
        healthTimeoutSeconds: app.healthTimeoutSeconds,
        access: workspace.registryAccess,
        repository: app.repository,
        owner: identity.value,
        proxy: app.proxy && proxyImage && {
            image: proxyImage,
            listen: { port: app.proxy.port, address: workspace.proxy?.address },
            hostName: app.proxy.host,
            healthPath: app.proxy.healthPath,
            colours: app.proxy.colours,
        },
    });
    deployment.drift.apply((drift) => {
        if (drift.length > 0) {
            log.warn(`${app.name}@${workspace.name}: the host differs from what this stack deployed: ${drift.join("; ")}; ` +
                "`pulumi up` deploys the configured version again", deployment);
        }
    });

    return { app: app.name, image, deployment };
});

/** Per app, the image pinned for this workspace. */
export const pinned = Object.fromEntries(apps.map(({ app, image }) => [app, {
    ref: image.ref,
    tag: image.tag,
    digest: image.digest,
    description: image.description,
    created: image.created,
    drift: image.drift,
}]));

/** Per app, the deploy-info.yml record its host holds (as of the last deploy or refresh). */
export const deployed = Object.fromEntries(apps.map(({ app, deployment }) => [app, deployment.deployed]));

/** Per app, how its host differs from what this stack deployed (empty when they agree), as of the last deploy or refresh. */
export const hostDrift = Object.fromEntries(apps.map(({ app, deployment }) => [app, deployment.drift]));

/** Per app, every tag of its repository with digest, created, description, revision, source and `deployed`. */
export const images = Object.fromEntries(apps.map(({ app, image, deployment }) => [app, {
    repository: image.repository,
    tags: deployment.tags,
}]));

/** The seed's application:overview: one table per app, newest first, → on what this workspace runs, then who deployed it and when. */
export const overview = all(apps.map(({ image, deployment }) => all([image.repository, deployment.tags, deployment.deployed, image.listedAt])))
    .apply((tables) => tables.map(([repository, tags, record, listedAt]) => [
        formatImageTable(repository, tags, record?.digest),
        ...(listedAt ? [] : ["  (the repository's other tags are listed by the next `pulumi refresh`)"]),
        ...(record ? ["", formatDeployment(record)] : []),
    ].join("\n")).join("\n\n"));
