// Token scopes (distribution token spec): what a request needs the registry to allow.

/** `repository:<name>:<actions>`, the token scope a request needs. */
export function repositoryScope(repository: string, actions: string): string {
    return `repository:${repository}:${actions}`;
}

export const catalogScope = "registry:catalog:*";
