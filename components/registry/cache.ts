// Content addressed by digest never changes, so manifests fetched by digest and config blobs are kept on
// disk and served again without a request. Every read is verified against its digest: a damaged entry is
// a miss, never a wrong answer.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateDigest } from "./reference";

export function defaultCacheDir(): string {
    return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "iac", "registry");
}

export class DigestCache {
    constructor(readonly dir: string = defaultCacheDir()) {}

    private file(digest: string): string {
        const [algorithm, hex] = validateDigest(digest).split(":");
        return path.join(this.dir, algorithm, hex.slice(0, 2), hex);
    }

    get(digest: string): Buffer | undefined {
        let bytes: Buffer;
        try {
            bytes = fs.readFileSync(this.file(digest));
        } catch {
            return undefined;
        }
        const [algorithm, hex] = digest.split(":");
        return crypto.createHash(algorithm).update(bytes).digest("hex") === hex ? bytes : undefined;
    }

    put(digest: string, bytes: Buffer): void {
        const file = this.file(digest);
        try {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
            fs.writeFileSync(temp, bytes);
            fs.renameSync(temp, file);
        } catch {
            // A cache that cannot be written only costs requests.
        }
    }
}
