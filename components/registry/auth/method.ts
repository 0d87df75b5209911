// What an authentication method is to the client: it answers a registry's challenge with an Authorizer, which
// then puts an Authorization header on every request. Each method (./anonymous, ./basic, ./bearer) is one module
// implementing this; ./authenticator picks among them by the challenge, as go-containerregistry's transport picks
// its basic or bearer RoundTripper from the registry's ping.
import type { Exchange } from "../body";
import type { RegistryLocation, RegistryRequest } from "../errors";
import type { Challenge } from "./challenge";
import type { Credentials } from "./credentials";

/** What a method may use: the credentials, and the client's own way to send a request. */
export interface AuthContext {
    credentials?: Credentials;
    /** The registry speaks plain http (the operator's choice): a token service may then be http too. */
    insecure: boolean;
    /**
     * One GET through the client's transport, with its deadline; a failure to get an answer is already the
     * client's typed error (timeout, unreachable, bad redirect), so a method has no error path of its own for it.
     */
    get(url: URL, headers: Record<string, string>, location: RegistryLocation): Promise<Exchange>;
}

/** Puts the method's Authorization header on a request needing `scope`; undefined: the request goes without. */
export interface Authorizer {
    authorization(scope: string, location: RegistryLocation): Promise<string | undefined>;
}

export interface AuthMethod {
    /** The challenge's scheme it answers, lower-case as parseChallenges gives it: "basic", "bearer". */
    readonly scheme: string;
    /**
     * An authorizer for this challenge, or undefined when we hold nothing the registry would accept. Throws (naming
     * `request`) when the challenge asks for something no credential may be sent to.
     */
    answer(challenge: Challenge, context: AuthContext, request: RegistryRequest): Authorizer | undefined;
}
