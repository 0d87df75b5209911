// The seed's overview table: one block per image, newest first, → on what a workspace runs. Labels come
// from whoever built the image, so nothing in them reaches a terminal raw.
import { DeployInfo } from "./deploy-info";
import { printable } from "./printable";
import { TagRow } from "../registry/listing";
import { ImageLabels } from "../registry/types";

const descriptionWidth = 60;
const createdWidth = 21;

function truncate(text: string, width: number): string {
    const chars = [...text];
    return chars.length <= width ? text : chars.slice(0, width - 1).join("") + "…";
}

/** `2026-01-25T01:10:00Z` → `2026-01-25 01:10` (UTC); anything unparseable is shown as it is, made printable. */
export function formatCreated(created: string | null): string {
    if (!created) {
        return "-";
    }
    const time = new Date(created);
    return Number.isNaN(time.getTime()) ? truncate(printable(created), createdWidth - 2) : time.toISOString().slice(0, 16).replace("T", " ");
}

/** A listed tag, or the deployed digest that no tag names any more (`untagged`); `moved` when the deployed tag left it. */
export type TableRow = TagRow & { untagged?: boolean; moved?: boolean };

function shownTag(row: TableRow): string {
    return row.untagged ? row.digest!.slice(0, "sha256:".length + 12) : printable(row.tag);
}

/** Deleted between listing and reading; an unreadable image's row has no digest either when its manifest is what is broken. */
const isGone = (row: TableRow) => row.digest === null && row.unreadable === undefined;

/** Created is the image's label: a row that could not read it leaves the column empty. */
function shownCreated(row: TableRow): string {
    return isGone(row) ? "(gone)" : row.unreadable !== undefined ? "" : formatCreated(row.created);
}

function shownDescription(row: TableRow): string {
    if (isGone(row)) {
        return "tag deleted while listing";
    }
    const description = row.unreadable !== undefined ? `(${row.unreadable})` : row.description ?? "";
    const note = row.untagged ? "(untagged) " : row.moved ? "(tag moved off the deployed image) " : "";
    return truncate(`${note}${printable(description)}`, descriptionWidth);
}

export function formatImageTable(repository: string, rows: TableRow[], deployedDigest?: string | null): string {
    const tagWidth = Math.max(7, ...rows.map((row) => shownTag(row).length));
    const line = (marker: string, tag: string, created: string, description: string) =>
        `${marker} ${tag.padEnd(tagWidth)}  ${created.padEnd(createdWidth)}${description}`.trimEnd();
    const header = [
        `IMAGE: ${printable(repository)}`,
        "",
        `${"TAG".padEnd(tagWidth + 4)}${"CREATED".padEnd(createdWidth)}DESCRIPTION`,
        `${"---".padEnd(tagWidth + 4)}${"-------".padEnd(createdWidth)}-----------`,
    ];
    const body = rows.map((row) => line(
        deployedDigest && row.digest === deployedDigest ? "→" : " ",
        shownTag(row),
        shownCreated(row),
        shownDescription(row),
    ));
    return [...header, ...body].join("\n");
}

/**
 * A table cell of GitHub-flavoured Markdown: labels come from whoever built the image, so what would end the cell,
 * format the text or open HTML in a job summary is written as a character reference instead.
 */
function markdownCell(text: string): string {
    return text.replace(/[\\`*_[\]<>|&#!~]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The same rows as formatImageTable, as a Markdown table (a CI job summary), → on the image with `markedDigest`. */
export function formatImageMarkdown(repository: string, rows: TableRow[], markedDigest?: string | null): string {
    const body = rows.map((row) => {
        const marker = markedDigest && row.digest === markedDigest ? "→" : "";
        return `| ${marker} | ${[shownTag(row), shownCreated(row), shownDescription(row)].map(markdownCell).join(" | ")} |`;
    });
    return [`#### ${markdownCell(printable(repository))}`, "", "| | Tag | Created | Description |", "|---|---|---|---|", ...body].join("\n");
}

/**
 * Under a workspace's table: who deployed what runs, and when. On a shared stack this is how the next operator
 * sees whose deploy they are looking at; the record is the host's deploy-info.yml.
 */
export function formatDeployment(record: DeployInfo): string {
    const what = record.tag === null ? record.digest.slice(0, "sha256:".length + 12) : printable(record.tag);
    return `DEPLOYED: ${what} at ${formatCreated(record.deployed_at)} by ${printable(record.deployed_by)}`;
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
