// Labels, tag lists and error bodies come from whoever built the image or runs the registry, so whatever of
// theirs reaches a terminal (tables, stack outputs and their diffs, preview messages, errors) goes through here.
// It imports nothing: the registry's own errors use it, so it sits beneath every other layer.

// Past C0: DEL, C1 (U+009B is a CSI of its own), line and paragraph separators, bidi overrides and isolates.
const unsafePastC0 = "\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
const unsafe = new RegExp(`[\\x00-\\x1f${unsafePastC0}]`, "g");
const unsafeLeftByJson = new RegExp(`[${unsafePastC0}]`, "g");
const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** Control characters and escape sequences become visible, harmless text. */
export function printable(text: string): string {
    return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "").replace(unsafe, escaped);
}

/**
 * JSON for a terminal: what JSON.stringify leaves raw becomes \u escapes too. Such characters only occur
 * inside strings, so the JSON still parses to exactly the same values.
 */
export function printableJson(value: unknown): string {
    return JSON.stringify(value, null, 2).replace(unsafeLeftByJson, escaped);
}
