import * as assert from "assert";

import { parseArgs } from "../src/args";

describe("language host: command line", () => {
    it("takes the engine address and -tracing in every form Go's flag package accepts", () => {
        for (const argv of [
            ["-tracing=file:/t", "127.0.0.1:4000"],
            ["--tracing=file:/t", "127.0.0.1:4000"],
            ["-tracing", "file:/t", "127.0.0.1:4000"],
        ]) {
            assert.deepStrictEqual(parseArgs(argv), { engineAddress: "127.0.0.1:4000", tracing: "file:/t", showVersion: false }, argv.join(" "));
        }
    });

    it("accepts -root and -runtime with their values, and unknown flags, without taking them as the address", () => {
        const args = parseArgs(["-root", "/prog", "-runtime=nodejs", "-logtostderr", "-v=9", "127.0.0.1:4000"]);
        assert.strictEqual(args.engineAddress, "127.0.0.1:4000");
        assert.strictEqual(args.tracing, "");
    });

    it("reads -version as a boolean flag", () => {
        assert.strictEqual(parseArgs(["-version"]).showVersion, true);
        assert.strictEqual(parseArgs(["--version=true"]).showVersion, true);
        assert.strictEqual(parseArgs(["-version=false", "127.0.0.1:1"]).showVersion, false);
    });

    it("takes everything after -- as positional, and no address as empty (Handshake supplies it)", () => {
        assert.strictEqual(parseArgs(["--", "-odd:1"]).engineAddress, "-odd:1");
        assert.strictEqual(parseArgs([]).engineAddress, "");
    });
});
