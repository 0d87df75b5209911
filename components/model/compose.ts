// An app's compose template (apps/<app>/compose.yml) rendered for one deploy: every service whose image is
// `${IMAGE}` runs the pinned `registry/repository@sha256:…` — never a tag — and reads the app's env file.
import * as YAML from "yaml";
import { InvalidValueError } from "./invalid-value";
import { DeployTarget, files, validateServiceName } from "../remote/layout";
import { defaultTarget, targetNamed } from "../remote/targets/registry";

export const imagePlaceholder = "${IMAGE}";
const envKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface RenderedCompose {
    content: string;
    /** The services that run the app's image. */
    services: string[];
}

export class ComposeTemplateError extends Error {
    constructor(template: string, detail: string) {
        super(`compose template ${template}: ${detail}`);
        this.name = "ComposeTemplateError";
    }
}

/** Translated to the form the target takes (a swarm target: what `docker stack deploy` takes). */
export function renderCompose(templateName: string, template: string, ref: string, target: DeployTarget = defaultTarget.name): RenderedCompose {
    if (!/@sha(256|512):[a-f0-9]+$/.test(ref)) {
        throw new ComposeTemplateError(templateName, `refusing to render a reference that is not pinned by digest: ${ref}`);
    }
    const doc = YAML.parseDocument(template);
    if (doc.errors.length > 0) {
        throw new ComposeTemplateError(templateName, doc.errors[0].message);
    }
    const services = doc.get("services");
    if (!YAML.isMap(services)) {
        throw new ComposeTemplateError(templateName, "no services: mapping");
    }
    const pinned: string[] = [];
    for (const pair of services.items) {
        const name = String((pair.key as YAML.Scalar).value);
        const service = pair.value;
        if (YAML.isMap(service) && service.get("image") === imagePlaceholder) {
            try {
                validateServiceName(name);
            } catch (error) {
                throw new ComposeTemplateError(templateName, (error as Error).message);
            }
            service.set("image", ref);
            service.set("env_file", [files.env]);
            pinned.push(name);
        }
    }
    if (pinned.length === 0) {
        throw new ComposeTemplateError(templateName, `no service has image: ${imagePlaceholder}, so nothing would run the pinned image`);
    }
    const problem = targetNamed(target).translateTemplate(doc, pinned);
    if (problem) {
        throw new ComposeTemplateError(templateName, `${problem} (iac:target is ${target})`);
    }
    return { content: doc.toString(), services: pinned };
}

/**
 * The path the template's healthcheck asks over HTTP (`wget … http://127.0.0.1:$${PORT}/health` → /health), of
 * the first service running the image that has one; undefined when none asks a URL.
 */
export function healthcheckHttpPath(template: string): string | undefined {
    const services = YAML.parse(template)?.services as Record<string, { image?: unknown; healthcheck?: { test?: unknown } }> | undefined;
    for (const service of Object.values(services ?? {})) {
        const test = service?.image === imagePlaceholder ? service.healthcheck?.test : undefined;
        const text = Array.isArray(test) ? test.join(" ") : typeof test === "string" ? test : "";
        const path = text.match(/https?:\/\/[^/\s'"]*(\/[^\s'"]*)/)?.[1];
        if (path !== undefined) {
            return path;
        }
    }
    return undefined;
}

/**
 * Why compose's env-file format cannot carry this entry unchanged, or undefined when it can. Names the key,
 * never the value: values may be secrets. Shared by the config check (before any resource) and the renderer.
 */
export function envEntryProblem(key: string, value: unknown): string | undefined {
    if (!envKeyPattern.test(key)) {
        return `environment variable name ${JSON.stringify(key)} is not [A-Za-z_][A-Za-z0-9_]*, the names compose accepts`;
    }
    if (!["string", "number", "boolean"].includes(typeof value)) {
        return `the value of ${key} must be text, a number or a boolean`;
    }
    const text = String(value);
    // compose reads `\'` inside single quotes as a quote, so a backslash right before a quote cannot be written.
    if (/[\r\n\0]/.test(text) || text.endsWith("\\") || text.includes("\\'")) {
        return `the value of ${key} holds a line break or NUL, ends with a backslash or has a backslash right before a quote; ` +
            "compose env files cannot carry those unchanged";
    }
    return undefined;
}

/** The env_file in the form the target's engine reads (its envLine); values may be secrets. */
export function renderEnvFile(environment: Record<string, unknown>, target: DeployTarget = defaultTarget.name): string {
    const { envLine } = targetNamed(target);
    return Object.entries(environment).sort(([a], [b]) => a.localeCompare(b)).map(([key, raw]) => {
        const problem = envEntryProblem(key, raw);
        if (problem) {
            throw new InvalidValueError("environment entry", key, problem);
        }
        // Structured config turns `PORT: 8080` into a number; the container sees text either way.
        return envLine(key, String(raw));
    }).join("");
}
