// patches/ keeps @pulumi/pulumi from formatting a stack trace for every promise the program makes (several per
// resource property): only the leak report with PULUMI_DEBUG_PROMISE_LEAKS prints them. Under ts-node each one
// went through source-map-support, a third of a no-op's program CPU for twenty apps.
import * as assert from "assert";

/** The runtime's promise wrapper and its switch, internal to @pulumi/pulumi (so not in its typings). */
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
    debugPromiseLeaks: boolean;
    debuggablePromise<T>(promise: Promise<T>, context: string): Promise<T>;
};

describe("the program's promises", () => {
    /** How many stack traces were formatted while a promise was wrapped. */
    async function stacksFormattedWrapping(): Promise<number> {
        const previous = Error.prepareStackTrace;
        let formatted = 0;
        Error.prepareStackTrace = (error, frames) => {
            formatted++;
            return previous ? previous(error, frames) : `${error}\n${frames.map((frame) => `    at ${frame}`).join("\n")}`;
        };
        try {
            assert.strictEqual(await debuggable.debuggablePromise(Promise.resolve(1), "a resource's input"), 1);
        } finally {
            Error.prepareStackTrace = previous;
        }
        return formatted;
    }

    it("format no stack trace unless the leak report is asked for", async () => {
        assert.strictEqual(debuggable.debugPromiseLeaks, false, "PULUMI_DEBUG_PROMISE_LEAKS is not set for the tests");
        assert.strictEqual(await stacksFormattedWrapping(), 0);
    });

    it("keep where they were made when the leak report is asked for", async () => {
        debuggable.debugPromiseLeaks = true;
        try {
            assert.strictEqual(await stacksFormattedWrapping(), 1);
        } finally {
            debuggable.debugPromiseLeaks = false;
        }
    });
});
