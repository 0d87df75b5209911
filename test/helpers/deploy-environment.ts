// Everything a deploy needs, real and on loopback: dockerd (with `swarm`, a single-node Swarm manager), Registry
// v3, an SSH test host whose docker is that dockerd, and hello-world built three times (A, B, and C whose
// healthcheck fails).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigMap } from "@pulumi/pulumi/automation";
import { DockerEngine, startDockerd } from "../../local/dockerd";
import { RegistryServer, startRegistry } from "../../local/registry";
import { SshHost, freePort, startSshHost } from "../../local/sshd";
import { SwarmWorker, startSwarm } from "../../local/swarm";
import { AppRepository, BuiltImage } from "../../local/app-repository";

export const repository = "rednaw/hello-world";

export interface DeployEnvironment {
    dockerd: DockerEngine;
    registry: RegistryServer;
    ssh: SshHost;
    /** Where hello-world listens (host networking). */
    port: number;
    images: { a: BuiltImage; b: BuiltImage; c: BuiltImage };
    /** Per running container of the compose project or swarm stack `name`, the digest its image was pulled by. */
    runningDigests(name: string): string[];
    /** The dev workspace's config for deploying hello-world `tag` here. */
    stackConfig(tag: string): ConfigMap;
    /** The page hello-world serves, or the error. */
    page(): Promise<string>;
    /** With `swarm: "two-node"`: the worker, in a network namespace of its own. */
    worker?: SwarmWorker;
    /** With `registryAuth`: the registry's one user; it refuses anonymous requests. */
    registryAuth?: RegistryAuth;
    stop(): Promise<void>;
}

export interface RegistryAuth {
    username: string;
    password: string;
}

/**
 * `registryAuth`: the registry takes only that user (htpasswd); images are pushed with a login of their own.
 * `swarm`: the engine is a Swarm manager, and the stack config targets it: alone on loopback (true), or with a
 * worker in a network namespace ("two-node"; the manager then advertises a private address, see local/swarm.ts).
 */
export async function startDeployEnvironment(options: { swarm?: boolean | "two-node"; registryAuth?: RegistryAuth } = {}):
    Promise<DeployEnvironment> {
    const stops: (() => Promise<void>)[] = [];
    const stopAll = async () => {
        for (const stop of stops.reverse()) {
            await stop().catch(() => undefined);
        }
    };
    try {
        let dockerd: DockerEngine;
        const registry = await startRegistry({ flavour: "v3", htpasswd: options.registryAuth });
        stops.push(registry.stop);
        let worker: SwarmWorker | undefined;
        if (options.swarm) {
            // Only one swarm per machine (port 7946): wait for another run's to finish rather than fail at once.
            const swarm = await startSwarm({ gossipPortWaitMs: 180_000, multiNode: options.swarm === "two-node" });
            stops.push(swarm.stop);
            dockerd = swarm.engine;
            if (options.swarm === "two-node") {
                worker = await swarm.addWorker({ registries: [registry] });
            }
        } else {
            dockerd = await startDockerd();
            stops.push(dockerd.stop);
        }
        const ssh = await startSshHost({ dockerHost: dockerd.host });
        stops.push(ssh.stop);
        let pushConfig: string | undefined;
        if (options.registryAuth) {
            pushConfig = fs.mkdtempSync(path.join(os.tmpdir(), "iac-push-"));
            const config = pushConfig;
            stops.push(async () => fs.rmSync(config, { recursive: true, force: true }));
            execFileSync("docker", ["--config", pushConfig, "login", "--username", options.registryAuth.username, "--password-stdin", registry.address],
                { input: options.registryAuth.password, env: { ...process.env, DOCKER_HOST: dockerd.host }, stdio: ["pipe", "ignore", "pipe"] });
        }
        const app = new AppRepository(dockerd.host, undefined, pushConfig);
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
            dockerd, registry, ssh, port, images, worker, registryAuth: options.registryAuth,
            runningDigests: (name: string) => {
                const ids = ["com.docker.compose.project", "com.docker.stack.namespace"]
                    .flatMap((label) => docker("ps", "-q", "--filter", `label=${label}=${name}`).split("\n").filter(Boolean));
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
                ...(options.registryAuth ? {
                    "iac:registryUsername": { value: options.registryAuth.username },
                    "iac:registryPassword": { value: options.registryAuth.password, secret: true },
                } : {}),
                "iac:sshHost": { value: ssh.host },
                "iac:sshPort": { value: String(ssh.port) },
                "iac:sshUser": { value: ssh.user },
                "iac:sshHostKey": { value: ssh.hostKey },
                "iac:sshPrivateKey": { value: ssh.privateKey, secret: true },
                "iac:org": { value: "rednaw" },
                "iac:deployRoot": { value: ssh.deployRoot },
                ...(options.swarm ? { "iac:target": { value: "swarm" } } : {}),
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
