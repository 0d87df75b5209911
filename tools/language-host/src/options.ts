// The `runtime.options` of Pulumi.yaml, and what follows from them: node's arguments and the package manager.

import * as fs from "fs";
import * as path from "path";

export type PackageManager = "npm" | "yarn" | "pnpm" | "bun";

export interface NodeOptions {
    typescript: boolean;
    tsconfigpath: string;
    nodeargs: string;
    packagemanager: PackageManager | "auto";
    /** `pulumi install` leaves devDependencies out. */
    production: boolean;
}

const packageManagers: readonly string[] = ["auto", "npm", "yarn", "pnpm", "bun"];

/** Validated as upstream's parseOptions does; the messages are upstream's. */
export function parseOptions(raw: Record<string, unknown> | undefined): NodeOptions {
    raw ??= {};
    const opts: NodeOptions = { typescript: true, tsconfigpath: "", nodeargs: "", packagemanager: "auto", production: false };
    if ("typescript" in raw) {
        if (typeof raw.typescript !== "boolean") {
            throw new Error("typescript option must be a boolean");
        }
        opts.typescript = raw.typescript;
    }
    if ("tsconfig" in raw) {
        if (typeof raw.tsconfig !== "string") {
            throw new Error("tsconfigpath option must be a string");
        }
        opts.tsconfigpath = raw.tsconfig;
    }
    if ("nodeargs" in raw) {
        if (typeof raw.nodeargs !== "string") {
            throw new Error("nodeargs option must be a string");
        }
        opts.nodeargs = raw.nodeargs;
    }
    if ("production" in raw) {
        if (typeof raw.production !== "boolean") {
            throw new Error("production option must be a boolean");
        }
        opts.production = raw.production;
    }
    if ("packagemanager" in raw) {
        const pm = raw.packagemanager;
        if (typeof pm !== "string") {
            throw new Error("packagemanager option must be a string");
        }
        if (!packageManagers.includes(pm)) {
            throw new Error(`packagemanager option must be one of auto, npm, yarn, pnpm or bun, got ${JSON.stringify(pm)}`);
        }
        opts.packagemanager = pm as NodeOptions["packagemanager"];
    }
    return opts;
}

/** Splits a command line like a POSIX shell would (quotes, backslash escapes, # comments), for `nodeargs`. */
export function shellSplit(s: string): string[] {
    const words: string[] = [];
    let word: string | undefined;
    let quote: "'" | '"' | undefined;
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (quote === "'") {
            if (c === "'") {
                quote = undefined;
            } else {
                word += c;
            }
        } else if (quote === '"') {
            if (c === '"') {
                quote = undefined;
            } else if (c === "\\" && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1])) {
                word += s[++i];
            } else {
                word += c;
            }
        } else if (/\s/.test(c)) {
            if (word !== undefined) {
                words.push(word);
                word = undefined;
            }
        } else if (c === "#" && word === undefined) {
            while (i < s.length && s[i] !== "\n") {
                i++;
            }
        } else {
            word ??= "";
            if (c === "'" || c === '"') {
                quote = c;
            } else if (c === "\\") {
                if (i + 1 >= s.length) {
                    throw new Error("EOF found after escape character");
                }
                word += s[++i];
            } else {
                word += c;
            }
        }
    }
    if (quote !== undefined) {
        throw new Error("EOF found when expecting closing quote");
    }
    if (word !== undefined) {
        words.push(word);
    }
    return words;
}

/** npm.ResolvePackageManager: "auto" is decided by the nearest lock file up from `dir`, npm without one. */
export function resolvePackageManager(pm: NodeOptions["packagemanager"], dir: string): PackageManager {
    if (pm !== "auto") {
        return pm;
    }
    const has = (d: string, f: string) => fs.existsSync(path.join(d, f));
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
        if (has(d, "package-lock.json")) return "npm";
        if (has(d, "yarn.lock")) return "yarn";
        if (has(d, "pnpm-lock.yaml")) return "pnpm";
        if (has(d, "bun.lockb") || has(d, "bun.lock")) return "bun";
        if (path.dirname(d) === d) return "npm";
    }
}
