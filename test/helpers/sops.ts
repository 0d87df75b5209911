// Age keys and SOPS files for tests, made with the sops and age-keygen that scripts/install-tools builds.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

function tool(name: string): string {
    try {
        return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    } catch {
        throw new Error(`${name} is not on PATH: run scripts/install-tools, which builds it, and source scripts/tools-env`);
    }
}

export interface AgeKey {
    file: string;
    recipient: string;
}

/** A new age identity in `dir`, as `age-keygen -o` writes it. */
export function newAgeKey(dir: string, name: string): AgeKey {
    const file = path.join(dir, `${name}.txt`);
    const printed = execFileSync(tool("age-keygen"), ["-o", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const recipient = /age1[0-9a-z]+/.exec(fs.readFileSync(file, "utf8"))?.[0];
    if (!recipient) {
        throw new Error(`age-keygen wrote no public key: ${printed}`);
    }
    return { file, recipient };
}

/** `text` (YAML) encrypted by sops for `recipients`, written to `file` as a team commits it. */
export function writeSopsFile(file: string, text: string, recipients: AgeKey[]): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    execFileSync(tool("sops"), ["--encrypt", "--age", recipients.map((key) => key.recipient).join(","), "--in-place", file],
        { stdio: ["ignore", "ignore", "pipe"] });
}
