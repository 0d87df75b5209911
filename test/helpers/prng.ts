// A seeded pseudo-random generator small enough to read at a glance (mulberry32, 32-bit state): the fault
// harness draws its plans from it, so one number reproduces one plan on any machine and any Node version.
// Not for anything secret.

export interface Prng {
    /** A float in [0, 1). */
    next(): number;
    /** An integer in [min, max], both included. */
    int(min: number, max: number): number;
    /** True with probability `p`. */
    chance(p: number): boolean;
    pick<T>(items: readonly T[]): T;
    /** One of the entries, each as likely as its weight. */
    weighted<T>(entries: readonly (readonly [T, number])[]): T;
}

export function prng(seed: number): Prng {
    let state = seed >>> 0;
    const next = (): number => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
    return {
        next,
        int,
        chance: (p) => next() < p,
        pick: (items) => {
            if (items.length === 0) {
                throw new Error("pick from an empty list");
            }
            return items[int(0, items.length - 1)];
        },
        weighted: (entries) => {
            const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
            let at = next() * total;
            for (const [value, weight] of entries) {
                at -= weight;
                if (at < 0) {
                    return value;
                }
            }
            return entries[entries.length - 1][0];
        },
    };
}

/** A fresh seed for a run that was given none: printed, so the run can be repeated. */
export function randomSeed(): number {
    return Math.floor(Math.random() * 4_294_967_296) >>> 0;
}
