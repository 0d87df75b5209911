// RemoteCommand: a script run on a host over SSH on create, on update and on delete — the shape of
// @pulumi/command's remote.Command, as a dynamic provider, because the command provider's plugin cannot be
// built here (its Go module is not served). Inputs that change run `update` (or `create` again); nothing
// is ever replaced, so a deployed app is never taken down to be put back up.
import * as pulumi from "@pulumi/pulumi";
import { SshConnection, runRemote } from "./ssh";

export interface RemoteCommandArgs {
    connection: pulumi.Input<{
        host: pulumi.Input<string>;
        port: pulumi.Input<number>;
        user: pulumi.Input<string>;
        hostKey?: pulumi.Input<string>;
        privateKey: pulumi.Input<string>;
        dialErrorLimit?: pulumi.Input<number>;
        perDialTimeout?: pulumi.Input<number>;
    }>;
    create: pulumi.Input<string>;
    /** Run when an input changes; `create` when absent. */
    update?: pulumi.Input<string>;
    delete?: pulumi.Input<string>;
    /** Sent to the script's standard input (secrets welcome: never in argv, never in the script). */
    stdin?: pulumi.Input<string>;
    /** Values whose change alone makes the command run again. */
    triggers?: pulumi.Input<unknown[]>;
}

export interface RemoteCommandInputs {
    connection: SshConnection;
    create: string;
    update?: string;
    delete?: string;
    stdin?: string;
    triggers?: unknown[];
}

export interface RemoteCommandOutputs extends RemoteCommandInputs {
    stdout: string;
    stderr: string;
}

/** What decides whether the command runs again; the key and how we dial are not among them. */
export function commandChanged(olds: RemoteCommandInputs, news: RemoteCommandInputs): boolean {
    const identity = (i: RemoteCommandInputs) => JSON.stringify([
        i.connection.host, i.connection.port, i.connection.user, i.create, i.update ?? null, i.delete ?? null,
        i.stdin ?? null, i.triggers ?? [],
    ]);
    return identity(olds) !== identity(news);
}

export const remoteCommandProvider: pulumi.dynamic.ResourceProvider<RemoteCommandInputs, RemoteCommandOutputs> = {
    async diff(_id, olds, news) {
        return { changes: commandChanged(olds, news), replaces: [], deleteBeforeReplace: false };
    },

    async create(inputs) {
        const { stdout, stderr } = await runRemote(inputs.connection, inputs.create, inputs.stdin);
        return { id: `${inputs.connection.host}:${inputs.connection.port}/${Date.now().toString(36)}`, outs: { ...inputs, stdout, stderr } };
    },

    async update(_id, _olds, news) {
        const { stdout, stderr } = await runRemote(news.connection, news.update ?? news.create, news.stdin);
        return { outs: { ...news, stdout, stderr } };
    },

    async delete(_id, props) {
        if (props.delete) {
            await runRemote(props.connection, props.delete, props.stdin);
        }
    },
};

export class RemoteCommand extends pulumi.dynamic.Resource {
    declare readonly stdout: pulumi.Output<string>;
    declare readonly stderr: pulumi.Output<string>;

    constructor(name: string, args: RemoteCommandArgs, opts?: pulumi.CustomResourceOptions) {
        super(remoteCommandProvider, name, { ...args, stdout: undefined, stderr: undefined },
            { ...opts, additionalSecretOutputs: ["connection", "stdin"] }, "iac", "RemoteCommand");
    }
}
