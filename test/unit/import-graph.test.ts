// No module of the program or the commands imports itself through others: a cycle makes the load order decide
// which of them sees the other's exports still undefined, and layers that import each other are one layer. And the
// layers the commands share never reach @pulumi/pulumi, which costs a command over a second to load.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findImportCycles, reachableFrom, readImports } from "../helpers/import-graph";

const projectRoot = path.resolve(__dirname, "..", "..");
// The folders of components/; its loose files (the TypeScript hook is JavaScript) are no layer of their own.
const componentFolders = (): string[] => fs.readdirSync(path.join(projectRoot, "components"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory()).map((entry) => entry.name);

describe("the import graph", () => {
    it("has no cycle in components/, cli/ and index.ts, type-only imports included", () => {
        const { graph } = readImports(projectRoot, ["index.ts", "components", "cli"]);
        const files = [...graph.keys()];
        // The walk saw the tree it is meant to check: every command, and modules of each folder of components/.
        for (const dir of componentFolders()) {
            assert.ok(files.some((file) => file.startsWith(`components${path.sep}${dir}${path.sep}`)), `nothing read under components/${dir}`);
        }
        assert.ok(files.includes(path.join("cli", "registry-cleanup.ts")));
        assert.ok(graph.get("index.ts")!.length > 0, "index.ts imports project modules");
        const cycles = findImportCycles(graph);
        assert.deepStrictEqual(cycles.map((cycle) => cycle.join(" → ")), []);
    });

    it("the commands and the Pulumi-free folders of components/ import nothing of @pulumi, even through others", () => {
        // Every folder of components/ but the resources and the providers' bodies.
        const pulumiFree = ["cli", ...componentFolders()
            .filter((dir) => dir !== "pulumi" && dir !== "providers").map((dir) => path.join("components", dir))];
        assert.ok(pulumiFree.length >= 5, pulumiFree.join(", "));
        const { graph, packages } = readImports(projectRoot, pulumiFree);
        const reached = reachableFrom(graph, [...graph.keys()]);
        assert.ok(reached.has(path.join("components", "model", "workspace.ts")));
        const loadingPulumi = [...reached].filter((file) => packages.get(file)!.some((name) => name.startsWith("@pulumi/")));
        assert.deepStrictEqual(loadingPulumi, []);
        // What the check would catch: the program's own modules do load it.
        const program = readImports(projectRoot, ["index.ts"]);
        assert.ok(program.packages.get("index.ts")!.some((name) => name.startsWith("@pulumi/pulumi")));
    });

    describe("the check itself", () => {
        let dir: string;
        const write = (files: Record<string, string>) => {
            for (const [name, text] of Object.entries(files)) {
                fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
                fs.writeFileSync(path.join(dir, name), text);
            }
        };
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-import-graph-"));
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("finds a cycle closed by a type-only import, a re-export or a require, through an index.ts", () => {
            write({
                "a.ts": "import type { B } from \"./b\";\nexport type A = B;\n",
                "b.ts": "export * from \"./lib\";\nexport type B = string;\n",
                "lib/index.ts": "const c = require(\"../c\");\nexport const d = c;\n",
                "c.ts": "import { A } from \"./a\";\nimport * as fs from \"fs\";\nexport const e: A | typeof fs = \"\";\n",
            });
            const { graph, packages } = readImports(dir, ["a.ts"]);
            assert.deepStrictEqual(graph.get("c.ts"), ["a.ts"], "a package (fs) is no edge");
            assert.deepStrictEqual(packages.get("c.ts"), ["fs"]);
            assert.deepStrictEqual([...reachableFrom(graph, ["c.ts"])].sort(), ["a.ts", "b.ts", "c.ts", path.join("lib", "index.ts")]);
            assert.deepStrictEqual(findImportCycles(graph), [[
                "a.ts", "b.ts", path.join("lib", "index.ts"), "c.ts", "a.ts",
            ]]);
        });

        it("finds a module importing itself, and nothing in a graph without cycles", () => {
            write({ "self.ts": "import { x } from \"./self\";\nexport const y = x;\n" });
            assert.deepStrictEqual(findImportCycles(readImports(dir, ["self.ts"]).graph), [["self.ts", "self.ts"]]);
            write({ "top.ts": "import \"./left\";\nimport \"./right\";\n", "left.ts": "import \"./leaf\";\n", "right.ts": "import \"./leaf\";\n", "leaf.ts": "" });
            const { graph } = readImports(dir, ["top.ts"]);
            assert.strictEqual(graph.size, 4);
            assert.deepStrictEqual(findImportCycles(graph), []);
        });

        it("refuses an import it cannot resolve, rather than leave an edge out", () => {
            write({ "a.ts": "import \"./missing\";\n" });
            assert.throws(() => readImports(dir, ["a.ts"]), /a\.ts imports \.\/missing/);
        });
    });
});
