// deploy-info.yml: what runs on a workspace, written on the host only after a successful deploy, in the
// spec's canonical schema and layout. Deploy state is historical truth: it is read back, never recomputed.
import * as os from "os";
import YAML = require("yaml");
import { ImageName, parseImageName } from "./image-name";
import { printable } from "./printable";
import { validateDigest, validateTag } from "../registry/reference";

export interface DeployInfo {
    app: string;
    workspace: string;
    /** registry/repository, without tag or digest. */
    image: string;
    tag: string | null;
    digest: string;
    description: string | null;
    /** UTC ISO-8601, from the host's clock at the end of the deploy. */
    deployed_at: string;
    /** Who ran the deploy: the operator's IAC_OPERATOR, else their user@host. */
    deployed_by: string;
}

export type DeployRecord = Omit<DeployInfo, "deployed_at">;

const maxOperatorLength = 128;

export class OperatorIdentityError extends Error {
    constructor(value: string, problem: string) {
        // Shown escaped and cut: the value is exactly what could not be trusted on a terminal.
        super(`IAC_OPERATOR "${printable([...value].slice(0, maxOperatorLength).join(""))}" ${problem}: set it to a name or e-mail address of at most ` +
            `${maxOperatorLength} printable characters (e.g. export IAC_OPERATOR=wander@rednaw.nl), or unset it for user@host`);
        this.name = "OperatorIdentityError";
    }
}

/**
 * Who is deploying, for deployed_by: IAC_OPERATOR when the operator set it (a shared stack's operators are told
 * apart by it, whatever account they log in with), else user@host. It lands in a record on the host and in the
 * shared state, so it must be one printable line of bounded length.
 */
export function operatorIdentity(env: NodeJS.ProcessEnv = process.env): string {
    const configured = env.IAC_OPERATOR;
    if (configured === undefined || configured === "") {
        return `${os.userInfo().username}@${os.hostname()}`;
    }
    if (configured.trim() !== configured) {
        throw new OperatorIdentityError(configured, "starts or ends with white space");
    }
    if ([...configured].length > maxOperatorLength) {
        throw new OperatorIdentityError(configured, `is longer than ${maxOperatorLength} characters`);
    }
    // Letters of any script are fine; control and format characters (newlines, escapes, bidi overrides) are not.
    if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(configured)) {
        throw new OperatorIdentityError(configured, "holds a control character");
    }
    return configured;
}

/** The canonical text: the spec's fields in its order, blank lines between its groups. */
export function renderDeployInfo(record: DeployInfo): string {
    const doc = new YAML.Document({
        app: record.app,
        workspace: record.workspace,
        image: record.image,
        tag: record.tag,
        digest: record.digest,
        description: record.description,
        deployed_at: record.deployed_at,
        deployed_by: record.deployed_by,
    });
    const map = doc.contents as YAML.YAMLMap<YAML.Scalar<string>, YAML.Scalar>;
    for (const pair of map.items) {
        const key = pair.key.value;
        if (key === "tag" || key === "description" || key === "deployed_at") {
            pair.key.spaceBefore = true;
        }
        if (key === "description" || key === "deployed_at" || key === "deployed_by") {
            pair.value!.type = YAML.Scalar.QUOTE_DOUBLE;
        }
    }
    // One line per field: double quotes escape newlines and control characters, so a label of any content
    // stays on its line and a line starting with `deployed_at:` can only be the field.
    return doc.toString({ lineWidth: 0 });
}

/**
 * The record around its deployed_at line, which the host writes from its clock at the moment the deploy
 * succeeded: head + `\ndeployed_at: "…"\n` + tail is renderDeployInfo's text. Split here rather than
 * substituted there, so no text of the labels can ever be mistaken for a placeholder.
 */
export function renderRecordParts(record: DeployRecord): { head: string; tail: string } {
    const text = renderDeployInfo({ ...record, deployed_at: "" });
    const match = /^\n?deployed_at: "".*\n/m.exec(text);
    if (!match) {
        throw new Error("the deploy record lacks its deployed_at line");
    }
    return { head: text.slice(0, match.index), tail: text.slice(match.index + match[0].length) };
}

export class DeployInfoError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeployInfoError";
    }
}

/** A deploy record with its image parsed. */
export interface DeployRecordAt {
    record: DeployInfo;
    image: ImageName;
}

const requiredKeys: (keyof DeployInfo)[] = ["app", "workspace", "image", "tag", "digest", "description", "deployed_at", "deployed_by"];

/** One record of a parsed document, every field checked; `where` names the file (host and path). */
function readRecord(document: YAML.Document, lines: YAML.LineCounter, where: string): DeployRecordAt {
    const lineOf = (node: unknown) => lines.linePos((node as YAML.Node | undefined)?.range?.[0] ?? document.range?.[0] ?? 0).line;
    const fail = (node: unknown, detail: string) => new DeployInfoError(`${where}, line ${lineOf(node)}: ${detail}`);
    const error = document.errors[0];
    if (error) {
        throw new DeployInfoError(`${where}, line ${error.linePos?.[0].line ?? "?"}: not valid YAML: ${error.message.split("\n")[0]}`);
    }
    const map = document.contents;
    if (!YAML.isMap(map)) {
        throw fail(map, "holds no deploy record (expected a map with app, image, digest, …)");
    }
    const missing = requiredKeys.filter((key) => !map.has(key));
    if (missing.length > 0) {
        throw fail(map, `the record lacks ${missing.join(", ")}`);
    }
    const field = (key: keyof DeployInfo, nullable: boolean, check: (value: string) => unknown = () => undefined): string | null => {
        const node = map.get(key, true);
        const value = YAML.isScalar(node) ? node.value : node;
        if (value === null && nullable) {
            return null;
        }
        // A short SHA of digits reads as a number when unquoted; anything else is not a scalar we wrote.
        if (typeof value !== "string" && typeof value !== "number") {
            throw fail(node, `${key} must be ${nullable ? "text or null" : "text"}, not ${JSON.stringify(value) ?? "a structure"}`);
        }
        try {
            check(String(value));
        } catch (invalid) {
            throw fail(node, (invalid as Error).message);
        }
        return String(value);
    };
    let image: ImageName | undefined;
    const record: DeployInfo = {
        app: field("app", false)!,
        workspace: field("workspace", false)!,
        image: field("image", false, (value) => (image = parseImageName(value)))!,
        tag: field("tag", true, validateTag),
        digest: field("digest", false, validateDigest)!,
        description: field("description", true),
        deployed_at: field("deployed_at", false)!,
        deployed_by: field("deployed_by", false)!,
    };
    return { record, image: image! };
}

/** Reads deploy-info.yml text, strictly: any YAML error, missing or invalid field is a DeployInfoError. */
export function parseDeployInfoAt(text: string, where: string): DeployRecordAt {
    const lines = new YAML.LineCounter();
    return readRecord(YAML.parseDocument(text, { lineCounter: lines }), lines, where);
}

export function parseDeployInfo(text: string, where: string): DeployInfo {
    return parseDeployInfoAt(text, where).record;
}

/** Reads deploy-history.yml (one `---` document per deploy or removal), oldest first, as strictly. */
export function parseDeployHistory(text: string, where: string): DeployRecordAt[] {
    const lines = new YAML.LineCounter();
    return YAML.parseAllDocuments(text, { lineCounter: lines }).map((document) => readRecord(document, lines, where));
}
