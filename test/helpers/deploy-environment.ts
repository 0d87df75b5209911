// Everything a deploy needs, real and on loopback: dockerd, Registry v3, an SSH test host whose docker is
// that dockerd, and hello-world built three times (A, B, and C whose healthcheck fails).
import { execFileSync } from "child_process";
import { ConfigMap } from "@pulumi/pulumi/automation";
import { DockerEngine, startDockerd } from "../../local/dockerd";
import { RegistryServer, startRegistry } from "../../local/registry";
import { SshHost, freePort, startSshHost } from "../../local/sshd";
import { AppRepository, BuiltImage } from "../../local/app-repository";

export const repository = "rednaw/hello-world";

export interface DeployEnvironment {
    dockerd: DockerEngine;
    registry: RegistryServer;
    ssh: SshHost;
    /** Where hello-world listens (host networking). */
    port: number;
    images: { a: BuiltImage; b: BuiltImage; c: BuiltImage };
    /** The digest of the image the running hello-world container was started from, per the engine. */
    runningDigests(app: string): string[];
    /** The dev workspace's config for deploying hello-world `tag` here. */
    stackConfig(tag: string): ConfigMap;
    /** The page hello-world serves, or the error. */
    page(): Promise<string>;
    stop(): Promise<void>;
}

export async function startDeployEnvironment(): Promise<DeployEnvironment> {
    const stops: (() => Promise<void>)[] = [];
    const stopAll = async () => {
        for (const stop of stops.reverse()) {
            await stop().catch(() => undefined);
        }
    };
    try {
        const dockerd = await startDockerd();
        stops.push(dockerd.stop);
        const registry = await startRegistry({ flavour: "v3" });
        stops.push(registry.stop);
        const ssh = await startSshHost({ dockerHost: dockerd.host });
        stops.push(ssh.stop);
        const app = new AppRepository(dockerd.host);
        stops.push(async () => app.remove());
        const image = `${registry.address}/${repository}`;
        const images = {
            a: app.build(image, "initial deploy"),
            b: app.build(image, "add healthcheck + fix nginx proxy header"),
            c: app.build(image, "break the healthcheck", ["HEALTHY=no"]),
        };
        const port = await freePort();
        const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerd.host } }).trim();
        return {
            dockerd, registry, ssh, port, images,
            runningDigests: (project: string) => {
                const ids = docker("ps", "-q", "--filter", `label=com.docker.compose.project=${project}`).split("\n").filter(Boolean);
                return ids.map((id) => {
                    const imageId = docker("inspect", "--format", "{{.Image}}", id);
                    return docker("image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", imageId)
                        .split("\n").filter(Boolean).map((ref) => ref.split("@")[1]).join(",");
                });
            },
            stackConfig: (tag: string) => ({
                "iac:apps[0]": { value: "hello-world" },
                "iac:registry": { value: registry.address },
                "iac:registryInsecure": { value: "true" },
                "iac:sshHost": { value: ssh.host },
                "iac:sshPort": { value: String(ssh.port) },
                "iac:sshUser": { value: ssh.user },
                "iac:sshHostKey": { value: ssh.hostKey },
                "iac:sshPrivateKey": { value: ssh.privateKey, secret: true },
                "iac:org": { value: "rednaw" },
                "iac:deployRoot": { value: ssh.deployRoot },
                "hello-world:image": { value: repository },
                "hello-world:tag": { value: tag },
                "hello-world:environment.PORT": { value: String(port) },
            }),
            page: async () => {
                try {
                    return await (await fetch(`http://127.0.0.1:${port}/`)).text();
                } catch (error) {
                    return `unreachable: ${(error as Error).message}`;
                }
            },
            stop: stopAll,
        };
    } catch (error) {
        await stopAll();
        throw error;
    }
}
