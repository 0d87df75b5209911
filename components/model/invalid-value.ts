// A value of the workspace's config (a name, a path, an environment entry) that cannot be used, named with
// what was expected. Registry references have their own error (registry/errors.ts): they name a registry.
import { printable } from "./printable";

export class InvalidValueError extends Error {
    constructor(public readonly kind: string, public readonly value: string, expected: string) {
        super(`invalid ${kind} ${printable(JSON.stringify(value))}: ${expected}`);
        this.name = "InvalidValueError";
    }
}
