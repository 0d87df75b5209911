// A workspace's settings read straight from Pulumi.<stack>.yaml, for the commands that run without Pulumi.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** The plain (non-secret) values of a stack's config, keyed `namespace:key`. */
export function readStackConfig(stack: string, projectDir: string): Record<string, unknown> {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new StackFileError(`no workspace ${stack}: ${file} does not exist (create it with \`pulumi stack init ${stack}\`)`);
    }
    const config = (YAML.parse(text) as { config?: Record<string, unknown> } | null)?.config ?? {};
    return Object.fromEntries(Object.entries(config).filter(([, value]) =>
        !(typeof value === "object" && value !== null && "secure" in value)));
}
