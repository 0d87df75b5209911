// An app's environment from a SOPS-encrypted file of the repository (`<app>:environmentFile`), decrypted by the
// sops binary with the operator's own key, found the way sops itself finds it (SOPS_AGE_KEY_FILE, SOPS_AGE_KEY,
// the user's keys.txt). sops's own words are never passed on: its parser quotes the input it could not read, and a
// file that is not encrypted holds the secrets in clear.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { envEntryProblem } from "./compose";
import { InvalidValueError } from "./invalid-value";

export class SopsFileError extends Error {
    readonly __pulumiRunError = true;

    constructor(readonly file: string, reason: string) {
        super(`${file}: ${reason}`);
        this.name = "SopsFileError";
    }
}

/** sops's exit codes (cmd/sops/codes) that have something to tell the operator. */
const exitReasons: Record<number, string> = {
    128: "no key could decrypt it: the age key sops found (SOPS_AGE_KEY_FILE, else ~/.config/sops/age/keys.txt) is not " +
        "one of the file's recipients, or there is none; ask a teammate whose key is to add yours " +
        "(.sops.yaml, then `sops updatekeys FILE`)",
    25: "a value cannot be decrypted: it was edited without sops or is damaged; restore it from git and edit it with `sops FILE`",
    51: "its MAC does not match: it was edited without sops; restore it from git and edit it with `sops FILE`",
    52: "it has no MAC: it was not written by sops; encrypt it with `sops --encrypt --in-place FILE`",
};

/** The forms whose values keep their types, by the file's extension, as sops infers it. */
const formats: Record<string, "yaml" | "json"> = { ".yaml": "yaml", ".yml": "yaml", ".json": "json" };
const expectedFormats = "a .yaml, .yml or .json SOPS file";

const formatOf = (file: string): "yaml" | "json" | undefined => formats[path.extname(file).toLowerCase()];

/** `<app>:environmentFile`: a YAML or JSON file inside the project, named relative to it. */
export function validateProjectPath(file: string): string {
    if (path.isAbsolute(file) || file.split(/[\\/]/).includes("..") || /[\0-\x1f]/.test(file)) {
        throw new InvalidValueError("environment file", file, "expected a path inside the project, relative to it, " +
            "e.g. apps/hello-world/secrets.prod.sops.yaml");
    }
    if (formatOf(file) === undefined) {
        throw new InvalidValueError("environment file", file, `expected ${expectedFormats}`);
    }
    return file;
}

/** Parsed here rather than by sops, so that nothing of a file in clear ever reaches a message. */
function assertEncrypted(file: string, text: string): void {
    let document: unknown;
    try {
        document = parse(text);
    } catch {
        throw new SopsFileError(file, "is not valid YAML or JSON, so not a SOPS file");
    }
    if (typeof document !== "object" || document === null || Array.isArray(document) || !("sops" in document)) {
        throw new SopsFileError(file, "is not a SOPS file (it has no sops metadata): if it holds secrets in clear, " +
            "never commit it; encrypt it with `sops --encrypt --in-place FILE`");
    }
}

/** The decrypted map, every value checked as an environment entry; a problem names the key, never the value. */
function environmentOf(file: string, decrypted: unknown): Record<string, string> {
    if (typeof decrypted !== "object" || decrypted === null || Array.isArray(decrypted)) {
        throw new SopsFileError(file, "expected a map of variable names to values at the top level");
    }
    const problems: string[] = [];
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries(decrypted)) {
        if (typeof value !== "string") {
            problems.push(`${JSON.stringify(key)} is ${value === null ? "null" : Array.isArray(value) ? "a list" : `a ${typeof value}`}: ` +
                "every value is a string (quote it in the file: \"8080\")");
            continue;
        }
        const problem = envEntryProblem(key, value);
        if (problem) {
            problems.push(problem);
            continue;
        }
        environment[key] = value;
    }
    if (problems.length > 0) {
        throw new SopsFileError(file, problems.join("; "));
    }
    return environment;
}

export interface SopsOptions {
    /** The sops binary; by default the one on PATH (scripts/install-tools builds it). */
    sops?: string;
    /** Where sops looks for keys; by default this process's environment. */
    env?: NodeJS.ProcessEnv;
}

/**
 * The environment a SOPS file holds. `file` is as the operator wrote it (relative to `root`), and is what every
 * message names.
 */
export function decryptEnvironmentFile(root: string, file: string, options: SopsOptions = {}): Record<string, string> {
    const format = formatOf(file);
    if (format === undefined) {
        throw new SopsFileError(file, `expected ${expectedFormats} (a map of variable names to values)`);
    }
    let text: string;
    try {
        text = fs.readFileSync(path.resolve(root, file), "utf8");
    } catch (error) {
        throw new SopsFileError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}): ` +
            "the path is relative to the project, e.g. apps/<app>/secrets.sops.yaml");
    }
    assertEncrypted(file, text);
    const result = spawnSync(options.sops ?? "sops",
        ["--decrypt", "--input-type", format, "--output-type", "json", path.resolve(root, file)],
        { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
    if (result.error) {
        throw new SopsFileError(file, `sops could not be run (${(result.error as NodeJS.ErrnoException).code}): ` +
            "run scripts/install-tools, which builds it, and source scripts/tools-env");
    }
    if (result.status !== 0) {
        throw new SopsFileError(file, `cannot be decrypted: ${exitReasons[result.status ?? -1]?.replace(/FILE/g, file)
            ?? `sops exited ${result.status ?? result.signal}; run \`sops --decrypt ${file}\` to see why`}`);
    }
    return environmentOf(file, JSON.parse(result.stdout));
}
