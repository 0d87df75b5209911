// The auth layer between the client and its transport: anonymous until the registry challenges, then the
// first method (in the registry's order of challenges) that can answer. A new method is one module beside
// ./basic and ./bearer, listed in authMethods (or passed to the client).
import type { RegistryLocation, RegistryRequest } from "../errors";
import { anonymous } from "./anonymous";
import { basic } from "./basic";
import { bearer } from "./bearer";
import { parseChallenges } from "./challenge";
import type { AuthContext, AuthMethod, Authorizer } from "./method";

export const authMethods: readonly AuthMethod[] = [bearer, basic];

export class Authenticator {
    /** Learnt from the last challenge, so later requests authenticate up front instead of after a 401. */
    private current: Authorizer = anonymous;

    constructor(private readonly context: AuthContext, private readonly methods: readonly AuthMethod[] = authMethods) {}

    authorization(scope: string, location: RegistryLocation): Promise<string | undefined> {
        return this.current.authorization(scope, location);
    }

    /** After a 401: follows the registry's WWW-Authenticate; false when no method has anything it would accept. */
    follow(header: string | undefined, request: RegistryRequest): boolean {
        for (const challenge of parseChallenges(header ?? "")) {
            const method = this.methods.find((candidate) => candidate.scheme === challenge.scheme);
            const authorizer = method?.answer(challenge, this.context, request);
            if (authorizer) {
                this.current = authorizer;
                return true;
            }
        }
        return false;
    }
}
