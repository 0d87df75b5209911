// Runs index.ts under pulumi.runtime.setMocks with a given stack config, recording the resources it declares.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";

export interface MockedResource {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

const projectRoot = path.resolve(__dirname, "..", "..");

/** What every mocked host holds: a fixed record, whatever the program asked for, so tests see what the program does with it. */
export const mockHostRecord = {
    app: "hello-world", workspace: "dev", image: "127.0.0.1:5000/rednaw/hello-world", tag: "t", digest: `sha256:${"1".repeat(64)}`,
    description: "d", deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa",
};

/** A registry where each tag's digest is derived from the tag, so a tag change is a digest change. */
export const digestOf = (tag: string) => `sha256:${crypto.createHash("sha256").update(tag).digest("hex")}`;

/** A stack file's config as the engine hands it to a program: objects and arrays as JSON text. */
export function stackConfig(stack: string): Record<string, string> {
    const file = YAML.parse(fs.readFileSync(path.join(projectRoot, `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Record<string, unknown>;
    };
    return {
        ...Object.fromEntries(Object.entries(file.config).map(([key, value]) =>
            [key, typeof value === "string" ? value : JSON.stringify(value)])),
        // The demo sets the key as a secret; the mocks only need one to be there.
        "iac:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n",
    };
}

/**
 * The stack's config with its apps served directly, not through the host's proxy (Pulumi.dev.yaml serves hello-world
 * through it): for what the proxy does not take, a swarm target or a PORT of the app's own.
 */
export function directStackConfig(stack: string): Record<string, string> {
    return Object.fromEntries(Object.entries(stackConfig(stack)).filter(([key]) => !key.endsWith(":proxy")));
}

export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

const listedRow = (repository: string, tag: string, digest: string, created: string, description: string) =>
    ({ repository, tag, digest, created, description, revision: null, source: null });

/** Loads index.ts afresh with `config`; a test awaits the outputs it reads. */
export async function runProgram(config: Record<string, string>, stack = "dev"):
    Promise<{ resources: MockedResource[]; exports: Record<string, unknown> }> {
    const resources: MockedResource[] = [];
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            resources.push({ type: args.type, name: args.name, inputs: args.inputs });
            if (args.type === "pulumi-nodejs:dynamic/iac:HostDeployment") {
                const observed = { record: mockHostRecord, recordProblem: null, containers: [{ service: "web", state: "running", digest: mockHostRecord.digest }] };
                return { id: `${args.name}-id`, state: { ...args.inputs, observed, written: mockHostRecord, drift: [] } };
            }
            const digest = args.inputs.digest ?? digestOf(String(args.inputs.tag));
            return {
                id: `${args.name}-id`,
                state: {
                    ...args.inputs, digest, ref: `${args.inputs.registry}/${args.inputs.repository}@${digest}`,
                    description: `built from ${args.inputs.tag}`, created: "2026-01-25T01:10:00Z", revision: null, source: null, descriptionBase64: null, drift: null,
                    // An app's pin keeps its repository's listing; the host's record names the first row's digest.
                    ...(args.inputs.listTags ? { listedAt: "2026-01-25T02:00:00Z", tags: [
                        listedRow(args.inputs.repository, "6350192", mockHostRecord.digest, "2026-01-25T01:10:00Z", "add healthcheck + fix nginx proxy header"),
                        listedRow(args.inputs.repository, "eb53023", `sha256:${"0".repeat(64)}`, "2026-01-25T01:01:00Z", "initial deploy"),
                    ] } : { tags: null, listedAt: null }),
                },
            };
        },
        call: (args) => args.inputs,
    }, "iac", stack, true, "organization");
    pulumi.runtime.setAllConfig(config);
    const entry = require.resolve(path.join(projectRoot, "index.ts"));
    delete require.cache[entry];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const programExports = require(entry) as Record<string, unknown>;
    return { resources, exports: programExports };
}
