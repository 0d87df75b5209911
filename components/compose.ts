// An app's compose template (apps/<app>/compose.yml) rendered for one deploy: every service whose image is
// `${IMAGE}` runs the pinned `registry/repository@sha256:…` — never a tag — and reads the app's env file.
import * as YAML from "yaml";
import { InvalidReferenceError } from "./registry/errors";
import { files } from "./remote/layout";

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

export function renderCompose(templateName: string, template: string, ref: string): RenderedCompose {
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
            service.set("image", ref);
            service.set("env_file", [files.env]);
            pinned.push(name);
        }
    }
    if (pinned.length === 0) {
        throw new ComposeTemplateError(templateName, `no service has image: ${imagePlaceholder}, so nothing would run the pinned image`);
    }
    return { content: doc.toString(), services: pinned };
}

/**
 * KEY='value' lines for docker compose's env_file; values may be secrets. Single quotes keep `#`, `"`, `$`
 * and spaces as they are (bare, compose would cut ` #…` and strip quotes); a quote inside is `\'`.
 */
export function renderEnvFile(environment: Record<string, unknown>): string {
    return Object.entries(environment).sort(([a], [b]) => a.localeCompare(b)).map(([key, raw]) => {
        // Structured config turns `PORT: 8080` into a number; the container sees text either way.
        const value = String(raw);
        if (!envKeyPattern.test(key)) {
            throw new InvalidReferenceError("environment variable name", key, "expected [A-Za-z_][A-Za-z0-9_]*");
        }
        if (/[\r\n\0]/.test(value) || value.endsWith("\\")) {
            throw new InvalidReferenceError("environment value of", key,
                "a value on one line that does not end with a backslash (compose env files cannot carry those unchanged)");
        }
        return `${key}='${value.replace(/'/g, "\\'")}'\n`;
    }).join("");
}
