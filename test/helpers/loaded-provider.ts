// A dynamic provider as the engine runs it: the `__provider` text its resource records, loaded the way
// @pulumi/pulumi's cmd/dynamic-provider does (require-from-string, requires resolved from the working directory,
// which for the engine's provider process is the project's root).
import * as fs from "fs";
import * as path from "path";
import { ProviderType, providerText, providersEntry } from "../../components/pulumi/dynamic-resource";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => { handler: () => unknown } = require("require-from-string");

export function loadedProvider<T>(type: ProviderType): T {
    if (!fs.existsSync(path.resolve(providersEntry))) {
        throw new Error(`${process.cwd()} holds no ${providersEntry}: run the tests from the project's root, where the engine starts its providers`);
    }
    return requireFromString(providerText(type)).handler() as T;
}
