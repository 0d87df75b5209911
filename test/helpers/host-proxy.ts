// The proxy's image built from images/caddy and pushed to the test registry, for a workspace to pin as
// iac:proxyImage; and requests to the admin API on the test host, for the tests' own checks and by-hand changes.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { ConfigMap } from "@pulumi/pulumi/automation";
import { AppLocation } from "../../components/remote/layout";
import { upstreamFile } from "../../components/remote/proxy";
import { proxyAdminOf, proxyContainerName } from "../../components/remote/proxy-host";
import { buildProxyImage } from "../../local/proxy-image";
import { DeployEnvironment } from "./deploy-environment";

export const proxyRepository = "iac/caddy";

export interface HostProxy {
    /** What the workspace's config says of the proxy: its image, pinned. */
    stackConfig: ConfigMap;
    request(method: string, path: string, body?: string): Promise<{ status: number; body: string }>;
    get(path: string): Promise<{ status: number; body: string }>;
    /** Removes the proxy's container, if a deploy started one. */
    stop(): Promise<void>;
}

/** The port the proxy sends the app at `location` to: what its route's file names, NaN when it names none. */
export function servingPort(location: AppLocation): number {
    const file = upstreamFile(proxyAdminOf(location.deployRoot), location).onHost;
    return fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim() || NaN) : NaN;
}

export function prepareHostProxy(env: DeployEnvironment): HostProxy {
    const image = buildProxyImage(env.dockerd.host, `${env.registry.address}/${proxyRepository}`);
    const socketPath = proxyAdminOf(env.ssh.deployRoot).socket;
    const request = (method: string, path: string, body?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ socketPath, path, method, headers: { "content-type": "application/json" } }, (res) => {
            let text = "";
            res.on("data", (chunk: Buffer) => (text += chunk.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on("error", reject);
        req.end(body);
    });
    return {
        stackConfig: { "iac:proxyImage": { value: `${proxyRepository}@${image.digest}` } },
        request,
        get: (path) => request("GET", path),
        stop: async () => {
            execFileSync("docker", ["rm", "-f", proxyContainerName(env.ssh.deployRoot)],
                { stdio: "ignore", env: { ...process.env, DOCKER_HOST: env.dockerd.host } });
        },
    };
}
