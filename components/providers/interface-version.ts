// Which version of the providers wrote a record. The providers' code is not in the state: the engine runs the code
// of the checkout that runs `pulumi` (components/providers/load.js), so a teammate whose checkout is older than
// the one that last deployed would otherwise read and rewrite a newer record with older code. Every record a
// provider creates or updates carries the interface version of the providers that wrote it, and a provider
// meeting a record of a later version refuses before it reads or changes anything, saying to pull.
import type * as pulumi from "@pulumi/pulumi";

/**
 * Bump it when a provider starts writing a record that an earlier provider would misread or spoil (a new meaning
 * of an output, a new input that must not be dropped). A change that older code handles as it is needs no bump.
 */
export const providerInterface = 1;

export class NewerRecordError extends Error {
    constructor(type: string, id: string, recorded: number) {
        super(`${type} ${id} was last written by providers of interface version ${recorded}, and this checkout's ` +
            `providers are version ${providerInterface}: pull the project's latest code (git pull && npm ci), then run ` +
            "pulumi again. Nothing was read or changed");
        this.name = "NewerRecordError";
    }
}

interface Stamp {
    providerInterface?: number;
}

function refuseNewer(type: string, id: string, record: Stamp | undefined): void {
    const recorded = record?.providerInterface;
    if (typeof recorded === "number" && recorded > providerInterface) {
        throw new NewerRecordError(type, id, recorded);
    }
}

/**
 * The provider, refusing records of later providers, and stamping what it creates and updates with this
 * version. A refresh keeps the stamp it found (a record from before stamps stays without one), so that
 * `pulumi refresh --expect-no-changes` after an upgrade reports only what changed on the hosts.
 */
export function stamped<Inputs, Outputs>(type: string, provider: pulumi.dynamic.ResourceProvider<Inputs, Outputs>):
    pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
    const stamp = <T>(outs: T): T => ({ ...outs, providerInterface });
    const { diff, create, update, read, delete: remove } = provider;
    return {
        ...provider,
        ...(diff && {
            diff: async (id, olds, news) => {
                refuseNewer(type, id, olds as Stamp);
                return diff(id, olds, news);
            },
        }),
        create: async (inputs) => {
            const result = await create(inputs);
            return { ...result, outs: stamp(result.outs) };
        },
        ...(update && {
            update: async (id, olds, news) => {
                refuseNewer(type, id, olds as Stamp);
                const result = await update(id, olds, news);
                return { ...result, outs: stamp(result.outs) };
            },
        }),
        ...(read && {
            read: async (id, props) => {
                refuseNewer(type, id, props as Stamp | undefined);
                const result = await read(id, props);
                const found = (props as Stamp | undefined)?.providerInterface;
                return found === undefined ? result : { ...result, props: { ...result.props, providerInterface: found } as Outputs };
            },
        }),
        ...(remove && {
            delete: async (id, props) => {
                refuseNewer(type, id, props as Stamp);
                return remove(id, props);
            },
        }),
    };
}
