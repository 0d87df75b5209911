// Labels, tag lists and error bodies come from whoever built the image or runs the registry, so whatever of
// theirs reaches a terminal (tables, stack outputs and their diffs, preview messages, errors) goes through here.
import type { ImageLabels } from "./registry/types";

/** Control characters and escape sequences become visible, harmless text. */
export function printable(text: string): string {
    return text
        .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "")
        // eslint-disable-next-line no-control-regex
        .replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** An image's labels as shown: printable, and still null where the image has none. */
export function printableLabels(labels: ImageLabels): ImageLabels {
    const shown = (value: string | null) => value === null ? null : printable(value);
    return {
        description: shown(labels.description),
        created: shown(labels.created),
        revision: shown(labels.revision),
        source: shown(labels.source),
    };
}
