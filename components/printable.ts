// Labels, tag lists and error bodies come from whoever built the image or runs the registry, so whatever of
// theirs reaches a terminal (tables, stack outputs and their diffs, preview messages, errors) goes through here.

/** Control characters and escape sequences become visible, harmless text. */
export function printable(text: string): string {
    return text
        .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "")
        // eslint-disable-next-line no-control-regex
        .replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A label as shown: printable, and still null when the image has none. */
export function printableLabel(value: string | null): string | null {
    return value === null ? null : printable(value);
}
