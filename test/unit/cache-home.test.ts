// The registry's reads and the compiled TypeScript are kept where XDG says a user's caches go, and nowhere relative
// to the working dir: a command run from a checkout would otherwise leave a cache in it.
import * as assert from "assert";
import * as path from "path";
import { userCacheDir } from "../../components/cache-home";
import { DigestCache, defaultCacheDir } from "../../components/registry/cache";

describe("the user's cache dirs", () => {
    let saved: Pick<NodeJS.ProcessEnv, "HOME" | "XDG_CACHE_HOME">;
    beforeEach(() => {
        saved = { HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    });
    afterEach(() => {
        for (const [name, value] of Object.entries(saved)) {
            if (value === undefined) {
                delete process.env[name];
            } else {
                process.env[name] = value;
            }
        }
    });

    it("are under an absolute XDG_CACHE_HOME, else under ~/.cache, else nowhere", () => {
        const cases: [string | undefined, string, string | null][] = [
            ["/var/cache/someone", "/home/someone", "/var/cache/someone/iac/registry"],
            [undefined, "/home/someone", "/home/someone/.cache/iac/registry"],
            ["", "/home/someone", "/home/someone/.cache/iac/registry"],
            ["relative/cache", "/home/someone", "/home/someone/.cache/iac/registry"],
            ["", "", null],
            ["relative/cache", "relative-home", null],
        ];
        for (const [xdg, home, expected] of cases) {
            if (xdg === undefined) {
                delete process.env.XDG_CACHE_HOME;
            } else {
                process.env.XDG_CACHE_HOME = xdg;
            }
            process.env.HOME = home;
            assert.strictEqual(defaultCacheDir(), expected, JSON.stringify({ xdg, home }));
            assert.strictEqual(userCacheDir("typescript"), expected && path.join(path.dirname(expected), "typescript"));
        }
    });

    it("without one, the registry's cache keeps nothing and finds nothing", () => {
        const cache = new DigestCache(null);
        const bytes = Buffer.from("{}");
        const digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        cache.put(digest, bytes);
        assert.strictEqual(cache.get(digest), undefined);
    });
});
