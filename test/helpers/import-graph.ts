// The project's own import graph, read the way TypeScript reads imports (import, import type, export … from,
// require, import()), for the checks that no module imports itself through others and that the Pulumi-free layers
// stay free of Pulumi. Packages are named, not followed.
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/** Each project file reached from the roots, with the project files it imports; paths relative to `root`. */
export type ImportGraph = Map<string, string[]>;

export interface Imports {
    graph: ImportGraph;
    /** Per file of the graph, the packages it imports, as written (`@pulumi/pulumi/output`). */
    packages: Map<string, string[]>;
}

function resolveSpecifier(from: string, specifier: string): string | undefined {
    const base = path.resolve(path.dirname(from), specifier);
    // The project's few JavaScript modules (what the TypeScript hook needs before TypeScript loads) are read too.
    return [`${base}.ts`, path.join(base, "index.ts"), `${base}.js`, base]
        .find((candidate) => /\.[tj]s$/.test(candidate) && fs.existsSync(candidate));
}

/** Every `.ts` file under each of `entries` (files or directories, relative to `root`), then what they import. */
export function readImports(root: string, entries: string[]): Imports {
    const listed = (entry: string): string[] => {
        const absolute = path.join(root, entry);
        return fs.statSync(absolute).isDirectory()
            ? fs.readdirSync(absolute).flatMap((name) => listed(path.join(entry, name)))
            : entry.endsWith(".ts") ? [absolute] : [];
    };
    const graph: ImportGraph = new Map();
    const packages = new Map<string, string[]>();
    const pending = entries.flatMap(listed);
    while (pending.length > 0) {
        const file = pending.pop()!;
        const key = path.relative(root, file);
        if (graph.has(key)) {
            continue;
        }
        const specifiers = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true).importedFiles.map(({ fileName }) => fileName);
        packages.set(key, specifiers.filter((specifier) => !specifier.startsWith(".")));
        const imported = specifiers
            .filter((specifier) => specifier.startsWith("."))
            .map((fileName) => {
                const resolved = resolveSpecifier(file, fileName);
                if (resolved === undefined) {
                    throw new Error(`${key} imports ${fileName}, which is no .ts or .js file of the project`);
                }
                return resolved;
            });
        graph.set(key, [...new Set(imported.map((resolved) => path.relative(root, resolved)))]);
        pending.push(...imported);
    }
    return { graph, packages };
}

/** `files` and every project file they import, directly or through others. */
export function reachableFrom(graph: ImportGraph, files: string[]): Set<string> {
    const reached = new Set<string>();
    const visit = (file: string) => {
        if (!reached.has(file)) {
            reached.add(file);
            (graph.get(file) ?? []).forEach(visit);
        }
    };
    files.forEach(visit);
    return reached;
}

/** One path `a → b → … → a` for each import cycle found, by a depth-first walk in file order. */
export function findImportCycles(graph: ImportGraph): string[][] {
    const done = new Set<string>();
    const onPath: string[] = [];
    const cycles: string[][] = [];
    const visit = (file: string) => {
        const at = onPath.indexOf(file);
        if (at >= 0) {
            cycles.push([...onPath.slice(at), file]);
            return;
        }
        if (done.has(file)) {
            return;
        }
        onPath.push(file);
        for (const imported of graph.get(file) ?? []) {
            visit(imported);
        }
        onPath.pop();
        done.add(file);
    };
    [...graph.keys()].sort().forEach(visit);
    return cycles;
}
