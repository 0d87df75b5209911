// No Authorization header: how every client starts, and all a registry that never challenges ever sees.
import type { Authorizer } from "./method";

export const anonymous: Authorizer = {
    async authorization() {
        return undefined;
    },
};
