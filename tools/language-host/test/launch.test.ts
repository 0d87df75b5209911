// The language host as the engine starts it: the installed wrapper (.tools/bin/pulumi-language-nodejs, written by
// scripts/install-tools), which runs the bundle from its code cache. A real process, spoken to over gRPC.
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
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

    before(async function () {
        if (!fs.existsSync(wrapper)) {
            throw new Error(`${wrapper} is missing: run scripts/install-tools`);
        }
        host = spawn(wrapper, [], { stdio: ["ignore", "pipe", "inherit"] });
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
});
