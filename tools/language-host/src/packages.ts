// What the program depends on: the resource plugins in node_modules (GetRequiredPackages) and the declared
// or installed packages with their versions (GetProgramDependencies), read as upstream reads them.

import * as fs from "fs";
import * as path from "path";

import * as langproto from "@pulumi/pulumi/proto/language_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";

/** GetRequiredPackages: the resource plugins of the packages under `dir`'s node_modules. */
export function requiredPackages(dir: string): plugproto.PackageDependency[] {
    const pulumiVersions = new Map<string, string>();
    const packages = getPackagesFromDir(dir, pulumiVersions, false, new Set());
    warnIncompatiblePulumiVersions(pulumiVersions);
    return packages;
}

/** The dependencies in package.json (all installed packages when transitive), with installed versions. */
export function programDependencies(dir: string, transitive: boolean): langproto.DependencyInfo[] {
    const deps: langproto.DependencyInfo[] = [];
    const add = (name: string, version: unknown) => {
        if (name && typeof version === "string") {
            deps.push(new langproto.DependencyInfo().setName(name).setVersion(version));
        }
    };
    if (transitive) {
        const lock = readJson(path.join(dir, "package-lock.json"));
        for (const [key, entry] of Object.entries<any>(lock?.packages ?? {})) {
            const idx = key.lastIndexOf("node_modules/");
            if (idx >= 0) {
                add(key.slice(idx + "node_modules/".length), entry?.version);
            }
        }
    } else {
        const pkg = readJson(path.join(dir, "package.json")) ?? {};
        for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
            add(name, readJson(path.join(dir, "node_modules", name, "package.json"))?.version);
        }
    }
    return deps;
}

export function readJson(file: string): any {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
        return undefined;
    }
}

function getPackagesFromDir(
    dir: string,
    pulumiVersions: Map<string, string>,
    inNodeModules: boolean,
    visited: Set<string>,
): plugproto.PackageDependency[] {
    dir = path.resolve(dir);
    if (visited.has(dir)) {
        return [];
    }
    visited.add(dir);
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
        return [];
    }
    const packages: plugproto.PackageDependency[] = [];
    for (const entry of entries) {
        let curr = path.join(dir, entry.name);
        let isDir = entry.isDirectory();
        if (entry.isSymbolicLink()) {
            try {
                curr = fs.realpathSync(curr);
                isDir = fs.statSync(curr).isDirectory();
            } catch {
                continue;
            }
        }
        if (isDir) {
            // Policy packs carry their own plugins; they are not the program's.
            if ([".json", ".yaml", ".yml"].some((ext) => isFile(path.join(curr, "PulumiPolicy" + ext)))) {
                continue;
            }
            packages.push(...getPackagesFromDir(curr, pulumiVersions, inNodeModules || path.basename(dir) === "node_modules", visited));
        } else if (inNodeModules && entry.name === "package.json") {
            const info = readJson(curr);
            if (!info || typeof info !== "object") {
                continue;
            }
            if (info.name === "@pulumi/pulumi" && typeof info.version === "string") {
                pulumiVersions.set(curr, info.version);
            }
            const dep = packageDependency(info);
            if (dep) {
                packages.push(dep);
            }
        }
    }
    return packages;
}

function isFile(p: string): boolean {
    try {
        return fs.statSync(p).isFile();
    } catch {
        return false;
    }
}

/** getPackageInfo: a package.json with pulumi.resource names a resource plugin. */
function packageDependency(info: any): plugproto.PackageDependency | undefined {
    const pulumi = info.pulumi;
    if (!pulumi || pulumi.resource !== true) {
        return undefined;
    }
    let name: string | undefined = pulumi.name || undefined;
    if (!name) {
        if (typeof info.name !== "string" || !info.name.startsWith("@pulumi/")) {
            return undefined; // third-party packages must name their plugin
        }
        name = info.name.slice("@pulumi/".length);
    }
    let version: string | undefined = pulumi.version || info.version;
    if (!version) {
        return undefined;
    }
    if (!version.startsWith("v")) {
        version = "v" + version;
    }
    const dep = new plugproto.PackageDependency().setName(name!).setKind("resource").setVersion(version).setServer(pulumi.server ?? "");
    const replacement = parameterization(pulumi.parameterization);
    if (replacement) {
        dep.setParameterization(replacement);
    }
    // A package that extends its base plugin in place instead of replacing it.
    const extension = parameterization(pulumi.extensionParameterization);
    if (extension) {
        dep.setExtension$(extension);
    }
    return dep;
}

/** A package.json's parameterization (PulumiParameterizationJSON: the value is base64, as Go writes bytes). */
function parameterization(param: any): plugproto.PackageParameterization | undefined {
    if (!param || typeof param !== "object") {
        return undefined;
    }
    return new plugproto.PackageParameterization()
        .setName(param.name ?? "")
        .setVersion(param.version ?? "")
        .setValue(Buffer.from(param.value ?? "", "base64"));
}

/** The warning upstream prints when node_modules holds @pulumi/pulumi of different major versions. */
function warnIncompatiblePulumiVersions(versions: Map<string, string>): void {
    const entries = [...versions.entries()];
    if (entries.length < 2) {
        return;
    }
    const [firstPath, firstVersion] = entries[0];
    const major = (v: string) => parseInt(v, 10);
    for (const [p, v] of entries.slice(1)) {
        const a = major(v);
        const b = major(firstVersion);
        if ((a > 2 || b > 2) && a !== b) {
            process.stderr.write(
                `Found incompatible versions of @pulumi/pulumi. Differing major versions are not supported.\n` +
                    `  Version ${firstVersion} referenced at ${firstPath}\n  Version ${v} referenced at ${p}\n`,
            );
            return;
        }
    }
}
