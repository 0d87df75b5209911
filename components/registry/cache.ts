// Content addressed by digest never changes, so manifests fetched by digest and config blobs are kept on
// disk and served again without a request. Every read is verified against its digest: a damaged entry is
// a miss, never a wrong answer.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { userCacheDir } from "../cache-home";
import { validateDigest } from "./reference";

/** The user's registry cache, or null where the user has no cache dir (then every read asks the registry). */
export function defaultCacheDir(): string | null {
    return userCacheDir("registry");
}

export class DigestCache {
    constructor(readonly dir: string | null = defaultCacheDir()) {}

    private file(digest: string): string | null {
        const [algorithm, hex] = validateDigest(digest).split(":");
        return this.dir === null ? null : path.join(this.dir, algorithm, hex.slice(0, 2), hex);
    }

    get(digest: string): Buffer | undefined {
        const file = this.file(digest);
        if (file === null) {
            return undefined;
        }
        let bytes: Buffer;
        try {
            bytes = fs.readFileSync(file);
        } catch {
            return undefined;
        }
        const [algorithm, hex] = digest.split(":");
        return crypto.createHash(algorithm).update(bytes).digest("hex") === hex ? bytes : undefined;
    }

    put(digest: string, bytes: Buffer): void {
        const file = this.file(digest);
        if (file === null) {
            return;
        }
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
