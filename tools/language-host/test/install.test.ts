import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { installCommand, installDependencies } from "../src/install";

/** Collects what the host would stream back to the engine. */
function capture() {
    const out = { stdout: "", stderr: "" };
    return {
        out,
        sink: { stdout: (b: Buffer) => (out.stdout += b.toString()), stderr: (b: Buffer) => (out.stderr += b.toString()) },
    };
}

describe("language host: pulumi install (InstallDependencies)", function () {
    this.timeout(120_000);
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-install-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("runs npm install in the program directory, framed by upstream's messages", async () => {
        // A local file dependency: a real install that needs no registry.
        fs.mkdirSync(path.join(dir, "dep"));
        fs.writeFileSync(path.join(dir, "dep", "package.json"), JSON.stringify({ name: "dep", version: "1.0.0" }));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "prog", version: "1.0.0", dependencies: { dep: "file:dep" } }));
        const { out, sink } = capture();
        await installDependencies("npm", false, dir, sink);
        assert.ok(fs.existsSync(path.join(dir, "node_modules", "dep", "package.json")), "dep installed");
        assert.ok(fs.existsSync(path.join(dir, "package-lock.json")), "lock file written");
        assert.ok(out.stdout.startsWith("Installing dependencies...\n\n"), out.stdout);
        assert.ok(out.stdout.endsWith("Finished installing dependencies\n\n"), out.stdout);
    });

    it("fails with the package manager's name and its output when the install fails", async () => {
        fs.writeFileSync(path.join(dir, "package.json"), "{ not json");
        const { out, sink } = capture();
        await assert.rejects(installDependencies("npm", false, dir, sink), /^Error: npm install failed: exit status \d+$/);
        assert.match(out.stderr, /JSON/);
        assert.ok(!out.stdout.includes("Finished"));
    });

    it("leaves devDependencies out with the production option, as upstream installs then", async () => {
        for (const name of ["dep", "devdep"]) {
            fs.mkdirSync(path.join(dir, name));
            fs.writeFileSync(path.join(dir, name, "package.json"), JSON.stringify({ name, version: "1.0.0" }));
        }
        const manifest = { name: "prog", version: "1.0.0", dependencies: { dep: "file:dep" }, devDependencies: { devdep: "file:devdep" } };
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest));
        await installDependencies("npm", true, dir, capture().sink);
        assert.ok(fs.existsSync(path.join(dir, "node_modules", "dep", "package.json")), "dependency installed");
        assert.ok(!fs.existsSync(path.join(dir, "node_modules", "devdep")), "devDependency left out");
    });

    it("passes --production to every package manager but bun, whose flag also freezes the lock file", () => {
        for (const pm of ["npm", "yarn", "pnpm"] as const) {
            assert.ok(installCommand(pm, true)[1].includes("--production"), pm);
            assert.ok(!installCommand(pm, false)[1].includes("--production"), pm);
        }
        assert.deepStrictEqual(installCommand("bun", true), installCommand("bun", false));
    });

});
