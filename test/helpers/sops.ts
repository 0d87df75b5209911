// Age keys and SOPS files for tests, made with the sops and age-keygen that scripts/install-tools builds.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireExecutable } from "../../local/process";

const projectRoot = path.resolve(__dirname, "..", "..");

/** sops and age-keygen as scripts/install-tools builds them. */
function tool(name: "sops" | "age-keygen"): string {
    return requireExecutable(path.join(projectRoot, ".tools", "bin", name), "run scripts/install-tools (builds it from tools/sops)");
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

/** `file` encrypted again under a new data key, its values unchanged (`sops --rotate`). */
export function rotateSopsFile(file: string): void {
    execFileSync(tool("sops"), ["--rotate", "--in-place", file], { stdio: ["ignore", "ignore", "pipe"] });
}
