// Where this project keeps what it may lose: the program's compiled TypeScript (./typescript-require.js) and the
// registry's content-addressed reads (./registry/cache.ts). JavaScript, since the TypeScript hook needs it before
// any TypeScript can load.
"use strict";
const os = require("os");
const path = require("path");

/**
 * The dir of the cache `name`, or null where there is none. XDG's rule: an unset, empty or relative XDG_CACHE_HOME
 * means ~/.cache; never a dir relative to wherever the process runs, and no absolute home (HOME empty or relative,
 * or unset with no passwd entry to fall back on) means no cache.
 */
exports.userCacheDir = (name) => {
    const xdg = process.env.XDG_CACHE_HOME;
    if (xdg && path.isAbsolute(xdg)) {
        return path.join(xdg, "iac", name);
    }
    let home;
    try {
        home = os.homedir();
    } catch {
        return null;
    }
    return path.isAbsolute(home) ? path.join(home, ".cache", "iac", name) : null;
};
