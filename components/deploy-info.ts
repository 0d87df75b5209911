// deploy-info.yml: what runs on a workspace, written on the host only after a successful deploy, in the
// spec's canonical schema and layout. Deploy state is historical truth: it is read back, never recomputed.
import * as os from "os";
import YAML = require("yaml");

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
    /** The operator's user@host. */
    deployed_by: string;
}

export type DeployRecord = Omit<DeployInfo, "deployed_at">;

export function operatorIdentity(): string {
    return `${os.userInfo().username}@${os.hostname()}`;
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

const requiredKeys: (keyof DeployInfo)[] = ["app", "workspace", "image", "tag", "digest", "description", "deployed_at", "deployed_by"];

/** Reads deploy-info.yml text; `where` names the file in errors (host and path). */
export function parseDeployInfo(text: string, where: string): DeployInfo {
    let parsed: unknown;
    try {
        parsed = YAML.parse(text);
    } catch (error) {
        throw new DeployInfoError(`${where} is not valid YAML: ${(error as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null) {
        throw new DeployInfoError(`${where} holds no deploy record`);
    }
    const missing = requiredKeys.filter((key) => !(key in parsed!));
    if (missing.length > 0) {
        throw new DeployInfoError(`${where} lacks ${missing.join(", ")}`);
    }
    const record = parsed as DeployInfo;
    return {
        app: String(record.app), workspace: String(record.workspace), image: String(record.image),
        tag: record.tag === null ? null : String(record.tag), digest: String(record.digest),
        description: record.description === null ? null : String(record.description),
        deployed_at: String(record.deployed_at), deployed_by: String(record.deployed_by),
    };
}
