// The distribution token spec's bearer challenge: a token per scope from the token service the challenge names
// (the credentials go there, as Basic auth, never to the registry), kept until shortly before it expires.
import { BodyCap, readJson } from "../body";
import { MalformedResponseError, RegistryAuthError, RegistryLocation, RegistryRequest } from "../errors";
import { discard } from "../transport";
import { isObject } from "../types";
import { basicAuthorization } from "./basic";
import type { AuthContext, AuthMethod, Authorizer } from "./method";

interface CachedToken {
    authorization: string;
    expiresAt: number;
}

const tokenCap: BodyCap = { bytes: 1024 * 1024, what: "a token response larger than 1 MiB" };
const tokenLifetimeMarginMs = 10_000;
/** The token spec's default lifetime, and the least a client assumes (as docker's own client does). */
const minTokenLifetimeSeconds = 60;

/**
 * The token service a bearer challenge names. The token spec lets it be any host (it gets the password), so it
 * must at least be https, unless the registry itself is plain http (then the password already travels in clear,
 * by the operator's choice).
 */
function tokenRealm(realm: string, insecure: boolean, request: RegistryRequest): URL {
    let url: URL;
    try {
        url = new URL(realm);
    } catch {
        throw new MalformedResponseError(request, `its bearer challenge names a realm that is not a URL: ${realm}`);
    }
    const schemes = insecure ? ["https:", "http:"] : ["https:"];
    if (!schemes.includes(url.protocol) || url.username || url.password) {
        throw new MalformedResponseError(request, `its bearer challenge names the token service ${url.protocol}//` +
            `${url.host}${url.pathname}, which is not an ${schemes.join(" or ")} URL without user info: no credential is sent there`);
    }
    return url;
}

/** The token spec's GET: service and scope as parameters, the credentials (if any) as Basic auth. */
async function fetchToken(realm: URL, service: string | undefined, scope: string, location: RegistryLocation,
    context: AuthContext): Promise<CachedToken> {
    const url = new URL(realm);
    if (service) {
        url.searchParams.set("service", service);
    }
    url.searchParams.set("scope", scope);
    const headers: Record<string, string> = context.credentials ? { authorization: basicAuthorization(context.credentials) } : {};
    const { response, request } = await context.get(url, headers, location);
    if (!response.ok) {
        await discard(response.body);
        throw new RegistryAuthError(location, response.status, context.credentials !== undefined);
    }
    const body = await readJson(response, request, tokenCap, "token response");
    const token = isObject(body) ? body.token ?? body.access_token : undefined;
    // It goes into a header: anything but visible ASCII would break the request or smuggle another header.
    if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) {
        throw new MalformedResponseError(request, "the token response has no usable token");
    }
    const expiresIn = isObject(body) && Number.isFinite(body.expires_in) ? body.expires_in as number : 0;
    const lifetimeMs = Math.max(expiresIn, minTokenLifetimeSeconds) * 1000;
    return { authorization: `Bearer ${token}`, expiresAt: Date.now() + lifetimeMs - tokenLifetimeMarginMs };
}

export const bearer: AuthMethod = {
    scheme: "bearer",
    answer(challenge, context, request): Authorizer | undefined {
        if (!challenge.params.realm) {
            return undefined;
        }
        const realm = tokenRealm(challenge.params.realm, context.insecure, request);
        const service = challenge.params.service;
        const tokens = new Map<string, CachedToken>();
        return {
            async authorization(scope, location) {
                const cached = tokens.get(scope);
                if (cached && cached.expiresAt > Date.now()) {
                    return cached.authorization;
                }
                const token = await fetchToken(realm, service, scope, location, context);
                tokens.set(scope, token);
                return token.authorization;
            },
        };
    },
};
