// StackIdentity: this stack's own id, made once and kept in its state: what `.owner` in every app dir it deploys
// names. A resource of its own, so the engine records the id before any deploy starts: a first deploy killed with
// its CLI leaves a mark that the next run presents again (the way Pulumi programs use random.RandomId), where an
// id made inside that deploy would be lost with it. The provider is components/providers/stack-identity.ts.
import type * as pulumi from "@pulumi/pulumi";
import { LoadedDynamicResource } from "./dynamic-resource";

export class StackIdentity extends LoadedDynamicResource {
    declare readonly value: pulumi.Output<string>;

    constructor(name: string, opts?: pulumi.CustomResourceOptions) {
        super("StackIdentity", name, { value: undefined }, opts);
    }
}
