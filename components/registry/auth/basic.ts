// HTTP basic (RFC 7617): the credentials on every request to the registry, once it has asked for them.
import type { Credentials } from "./credentials";
import type { AuthMethod } from "./method";

export function basicAuthorization(credentials: Credentials): string {
    return "Basic " + Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
}

export const basic: AuthMethod = {
    scheme: "basic",
    answer(_challenge, { credentials }) {
        if (!credentials) {
            return undefined;
        }
        const authorization = basicAuthorization(credentials);
        return { authorization: async () => authorization };
    },
};
