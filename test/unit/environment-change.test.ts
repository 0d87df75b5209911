import * as assert from "assert";
import { changedEnvironmentNames } from "../../components/model/environment-change";
import { renderEnvFile } from "../../components/model/compose";

describe("changedEnvironmentNames", () => {
    for (const target of ["compose", "swarm"] as const) {
        it(`names what was added, removed or changed in a ${target} env file, nothing else`, () => {
            const before = renderEnvFile({ API_KEY: "old", KEEP: "same", GONE: "x", QUOTED: "a='b'" }, target);
            const after = renderEnvFile({ API_KEY: "new", KEEP: "same", ADDED: "y", QUOTED: "a='b'" }, target);
            assert.deepStrictEqual(changedEnvironmentNames(before, after), ["ADDED", "API_KEY", "GONE"]);
            assert.deepStrictEqual(changedEnvironmentNames(after, after), []);
        });
    }

    it("tells a value that only gained a trailing '=' from the one before", () => {
        assert.deepStrictEqual(changedEnvironmentNames(renderEnvFile({ A: "x" }), renderEnvFile({ A: "x=" })), ["A"]);
    });
});
