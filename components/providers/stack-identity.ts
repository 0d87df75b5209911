// The StackIdentity provider: the stack's id, made once and never replaced. Run by the engine's dynamic-provider
// process (components/providers/load.js).
import type * as pulumi from "@pulumi/pulumi";
import { randomUUID } from "crypto";
import { stamped } from "./interface-version";

export interface StackIdentityOutputs {
    value: string;
}

export const stackIdentityProvider: pulumi.dynamic.ResourceProvider<Record<string, never>, StackIdentityOutputs> = stamped<Record<string, never>, StackIdentityOutputs>("StackIdentity", {
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
});
