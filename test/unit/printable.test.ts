// What reaches a terminal from labels and registries: never a control character, and JSON that still
// means exactly what it meant.
import * as assert from "assert";
import * as fc from "fast-check";
import { printable, printableJson } from "../../components/model/printable";

const terminalControls = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// Strings full of what terminals act on: ESC sequences, C1, NUL, bidi, mixed with any other character.
const hostileText = fc.array(fc.oneof(
    fc.constantFrom("\x1b[2J", "\x1b]0;title\x07", "\u009b31m", "\0", "\r", "\u202e", "\u2028", "\x7f", "\\u001b"),
    fc.string({ unit: "binary", maxLength: 8 })), { maxLength: 12 }).map((parts) => parts.join(""));

describe("printable text", () => {
    it("leaves no control character, and changes nothing that has none", () => {
        fc.assert(fc.property(hostileText, (text) => {
            assert.ok(!terminalControls.test(printable(text)), JSON.stringify(printable(text)));
            assert.strictEqual(printable(printable(text)), printable(text));
        }));
        assert.strictEqual(printable("add healthcheck + fix nginx proxy header ✓"), "add healthcheck + fix nginx proxy header ✓");
    });

    it("prints JSON with no control character that parses back to the exact values", () => {
        fc.assert(fc.property(fc.array(fc.record({ tag: hostileText, description: fc.oneof(hostileText, fc.constant(null)), size: fc.integer() })), (value) => {
            const text = printableJson(value);
            assert.ok(!terminalControls.test(text.replace(/\n/g, "")), "only the layout's own line breaks");
            assert.deepStrictEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
        }));
    });
});
