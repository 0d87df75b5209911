// The language host as the engine starts it: the installed wrapper (.tools/bin/pulumi-language-nodejs, written by
// scripts/install-tools), which runs the bundle from its code cache. A real process, spoken to over gRPC.
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import * as grpc from "@grpc/grpc-js";
import * as emptyproto from "google-protobuf/google/protobuf/empty_pb";
import * as langrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";

const root = path.resolve(__dirname, "..", "..", "..");
const wrapper = path.join(root, ".tools", "bin", "pulumi-language-nodejs");
const bundle = path.join(root, ".tools", "language-host", "main.js");

describe("language host: the installed wrapper", function () {
    this.timeout(30_000);
    let host: ChildProcess;
    let client: langrpc.LanguageRuntimeClient;
    // Any file: node only reads it (and warns if it holds no certificate).
    const caFile = path.join(root, "package.json");

    before(async function () {
        if (!fs.existsSync(wrapper)) {
            throw new Error(`${wrapper} is missing: run scripts/install-tools`);
        }
        // Scripts allowed, whatever npm config the suite runs under (this project's .npmrc ignores them), for the
        // preinstall script below.
        host = spawn(wrapper, [], { stdio: ["ignore", "pipe", "inherit"],
            env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, npm_config_ignore_scripts: "false" } });
        const port = await new Promise<string>((resolve, reject) => {
            host.stdout!.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
            host.once("exit", (code) => reject(new Error(`the host exited (${code}) before printing its port`)));
        });
        assert.match(port, /^\d+$/, "the first line is the port alone");
        client = new langrpc.LanguageRuntimeClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });
    after(() => {
        client?.close();
        host?.kill("SIGTERM");
    });

    /** A unary call as a promise. */
    const call = <Req, Res>(method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req) =>
        new Promise<Res>((resolve, reject) => method.call(client, req, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res))));

    it("runs the bundle with the code cache install-tools wrote for it", () => {
        assert.ok(fs.statSync(`${bundle}.cache`).size > 0);
    });

    it("answers GetPluginInfo with the SDK version from node_modules, as -version prints it", async () => {
        const info = await call<emptyproto.Empty, plugproto.PluginInfo>(client.getPluginInfo, new emptyproto.Empty());
        const sdk = JSON.parse(fs.readFileSync(path.join(root, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")).version;
        assert.strictEqual(info.getVersion(), sdk);
    });

    it("answers Handshake and GetRequiredPackages", async () => {
        await call(client.handshake, new langproto.LanguageHandshakeRequest().setEngineAddress("127.0.0.1:1"));
        const packages = await call<langproto.GetRequiredPackagesRequest, langproto.GetRequiredPackagesResponse>(client.getRequiredPackages,
            new langproto.GetRequiredPackagesRequest().setInfo(new langproto.ProgramInfo().setProgramDirectory(root)));
        assert.ok(Array.isArray(packages.getPackagesList()));
    });

    it("answers About with the node on PATH, the package manager and the TypeScript the program would load", async () => {
        const about = await call<langproto.AboutRequest, langproto.AboutResponse>(client.about,
            new langproto.AboutRequest().setInfo(new langproto.ProgramInfo().setProgramDirectory(root)));
        assert.strictEqual(about.getVersion(), spawnSync("node", ["--version"], { encoding: "utf8" }).stdout.trim());
        assert.strictEqual(about.getMetadataMap().get("packagemanager"), "npm");
        const typescript = JSON.parse(fs.readFileSync(path.join(root, "node_modules", "typescript", "package.json"), "utf8")).version;
        assert.strictEqual(about.getMetadataMap().get("typescriptVersion"), typescript);
        const bare = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-about-"));
        try {
            const none = await call<langproto.AboutRequest, langproto.AboutResponse>(client.about,
                new langproto.AboutRequest().setInfo(new langproto.ProgramInfo().setProgramDirectory(bare)));
            assert.strictEqual(none.getMetadataMap().has("typescriptVersion"), false, "no TypeScript, no entry");
        } finally {
            fs.rmSync(bare, { recursive: true, force: true });
        }
    });

    it("names a package's extension parameterization apart from a replacing one in GetRequiredPackages", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-packages-"));
        try {
            const pkg = path.join(dir, "node_modules", "@acme", "ext");
            fs.mkdirSync(pkg, { recursive: true });
            const value = Buffer.from("params").toString("base64");
            fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "@acme/ext", version: "1.2.3",
                pulumi: { resource: true, name: "base", extensionParameterization: { name: "ext", version: "0.1.0", value } } }));
            const packages = await call<langproto.GetRequiredPackagesRequest, langproto.GetRequiredPackagesResponse>(client.getRequiredPackages,
                new langproto.GetRequiredPackagesRequest().setInfo(new langproto.ProgramInfo().setProgramDirectory(dir)));
            const [dep] = packages.getPackagesList();
            assert.strictEqual(packages.getPackagesList().length, 1);
            assert.strictEqual(dep.getName(), "base");
            assert.strictEqual(dep.getVersion(), "v1.2.3");
            assert.strictEqual(dep.hasParameterization(), false);
            const ext = dep.getExtension$()!;
            assert.deepStrictEqual([ext.getName(), ext.getVersion(), Buffer.from(ext.getValue_asU8()).toString()], ["ext", "0.1.0", "params"]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("starts without NODE_EXTRA_CA_CERTS and hands it back to what it runs, the environment otherwise as given", async () => {
        const started = fs.readFileSync(`/proc/${host.pid}/environ`, "utf8").split("\0");
        assert.ok(!started.some((entry) => entry.startsWith("NODE_EXTRA_CA_CERTS=")), "node started without the variable");
        // pulumi install of a package whose preinstall script writes the environment npm got from the host.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-env-"));
        try {
            fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "prog", version: "1.0.0",
                scripts: { preinstall: "node -e \"require('fs').writeFileSync('env.json', JSON.stringify(process.env))\"" } }));
            const stream = client.installDependencies(new langproto.InstallDependenciesRequest().setDirectory(dir));
            await new Promise<void>((resolve, reject) => {
                stream.on("data", () => undefined);
                stream.on("end", resolve);
                stream.on("error", reject);
            });
            const seen = JSON.parse(fs.readFileSync(path.join(dir, "env.json"), "utf8"));
            assert.strictEqual(seen.NODE_EXTRA_CA_CERTS, caFile);
            assert.deepStrictEqual(Object.keys(seen).filter((name) => name.startsWith("IAC_LANGUAGE_HOST")), []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("starts through a linked bin dir, finding the bundle where the wrapper really is", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "langhost-link-"));
        try {
            fs.mkdirSync(path.join(dir, ".tools"));
            fs.symlinkSync(path.dirname(wrapper), path.join(dir, ".tools", "bin"));
            const linked = spawn(path.join(dir, ".tools", "bin", "pulumi-language-nodejs"), ["-version"], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            linked.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
            let err = "";
            linked.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
            const code = await new Promise<number | null>((resolve) => linked.once("exit", resolve));
            assert.strictEqual(code, 0, err);
            assert.match(out.trim(), /^\d+\.\d+\.\d+/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
