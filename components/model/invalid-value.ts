// A value of the workspace's config (a name, a path, an environment entry) that cannot be used, named with
// what was expected. Registry references have their own error (registry/errors.ts): they name a registry.
import { printable } from "./printable";

export class InvalidValueError extends Error {
    constructor(public readonly kind: string, public readonly value: string, expected: string) {
        const message = `invalid ${kind} ${printable(JSON.stringify(value))}: ${expected}`;
        super(message);
        // Dynamic providers are serialized with classes turned into functions, where `super(message)` on
        // Error leaves the instance untouched: set what it would have set.
        this.message = message;
        this.name = "InvalidValueError";
    }
}
