// The dynamic provider as the engine runs it: serialized by the SDK's closure serializer, then loaded from
// text the way @pulumi/pulumi's cmd/dynamic-provider does (require-from-string), in this process.
import * as pulumi from "@pulumi/pulumi";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString: (code: string) => { handler: () => unknown } = require("require-from-string");

export async function serializedProvider<T>(provider: T): Promise<{ provider: T; text: string }> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    return { provider: requireFromString(serialized.text).handler() as T, text: serialized.text };
}
