// Starts the language host that scripts/install-tools bundles into main.js beside this file, compiled from
// V8's code cache for it (main.js.cache, also written there). Made when Node 20, which has no compile cache of its
// own, ran the host (module.enableCompileCache came with Node 22 and is not measured against this one yet):
// compiling what the host loads (@grpc/grpc-js, google-protobuf, Pulumi's generated messages) was the larger part
// of its start. The cache only saves work:
// V8 checks it against the source, its own version and its flags, and compiles from source when it does not
// match (after a Node upgrade, until install-tools runs again), so the host behaves the same either way.
"use strict";
// The wrapper (scripts/install-tools) set NODE_EXTRA_CA_CERTS aside so that this process starts without reading
// it: the programs and package managers the host runs get it back, the environment as the engine gave it.
if (process.env.IAC_LANGUAGE_HOST_NODE_EXTRA_CA_CERTS !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = process.env.IAC_LANGUAGE_HOST_NODE_EXTRA_CA_CERTS;
    delete process.env.IAC_LANGUAGE_HOST_NODE_EXTRA_CA_CERTS;
}
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const Module = require("module");

const file = path.join(__dirname, "main.js");
const cacheFile = `${file}.cache`;
let cachedData;
try {
    cachedData = fs.readFileSync(cacheFile);
} catch {
    cachedData = undefined; // not built: compile from source
}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
const host = { exports: {}, filename: file };
// The bundle's own require: what it leaves out (package.json files, the program's modules) resolves from here.
script.runInThisContext()(host.exports, Module.createRequire(file), host, file, __dirname);
// install-tools runs `-version` once with this set: by then every bundled module has loaded, so the cache
// holds their compiled top-level code as well as the source's.
if (process.env.IAC_LANGUAGE_HOST_WRITE_CODE_CACHE === "1") {
    fs.writeFileSync(cacheFile, script.createCachedData());
}
