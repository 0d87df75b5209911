// The checkout this code belongs to: where Pulumi.yaml and apps/ are.
import * as fs from "fs";
import * as path from "path";

let found: string | undefined;

/**
 * The nearest directory up from this module that holds Pulumi.yaml: components/.. when run as TypeScript (the
 * program, ts-node), bin/components/../.. when the operator commands run compiled (tsconfig.cli.json).
 */
export function projectRoot(): string {
    if (found === undefined) {
        let dir = __dirname;
        while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
            const parent = path.dirname(dir);
            if (parent === dir) {
                throw new Error(`no Pulumi.yaml in ${__dirname} or above: this module belongs in a checkout of the project`);
            }
            dir = parent;
        }
        found = dir;
    }
    return found;
}
