// The few helpers the host-side builders combine their lines with.

/** Single-quotes a value for POSIX sh; the only character needing care inside is the quote itself. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, "'\\''")}'`;
}

export const lines = (...parts: (string | string[])[]): string[] => parts.flat();
export const script = (...parts: (string | string[])[]): string => lines(...parts).join("\n") + "\n";

/** `say …`: progress and reasons on stderr, prefixed with what is being deployed; never fails the script. */
export function sayFunction(what: string): string[] {
    return [`say() { printf '%s\\n' ${shellQuote(`${what}:`)}" $*" >&2 || true; }`];
}
