// StackIdentity: this stack's own id, made once and kept in its state: what `.owner` in every app dir it deploys
// names. A resource of its own, so the engine records the id before any deploy starts: a first deploy killed with
// its CLI leaves a mark that the next run presents again (the way Pulumi programs use random.RandomId), where an
// id made inside that deploy would be lost with it.
import type * as pulumi from "@pulumi/pulumi";
import { randomUUID } from "crypto";
import { CachedDynamicResource } from "./dynamic-resource";

export interface StackIdentityOutputs {
    value: string;
}

export const stackIdentityProvider: pulumi.dynamic.ResourceProvider<Record<string, never>, StackIdentityOutputs> = {
    async create() {
        const value = randomUUID();
        return { id: value, outs: { value } };
    },

    // Never replaced: a new id would disown every app dir this stack deployed.
    async diff() {
        return { changes: false };
    },

    async read(id, props) {
        return { id, props };
    },
};

export class StackIdentity extends CachedDynamicResource {
    declare readonly value: pulumi.Output<string>;

    constructor(name: string, opts?: pulumi.CustomResourceOptions) {
        super(stackIdentityProvider, name, { value: undefined }, opts, "iac", "StackIdentity");
    }
}
