// The retention policy, declared once for the registry (retention.yml): a default and per-repository
// overrides. What it keeps on top of every referenced digest: the newest K by created, anything younger than
// D days, and digests with a tag matching a keep pattern.
import * as fs from "fs";
import * as YAML from "yaml";

export interface RetentionRule {
    keepNewest: number;
    keepYoungerThanDays: number;
    /** Regular expressions, anchored: a digest with a matching tag is kept. */
    keepTags: string[];
}

export interface RetentionPolicy {
    default: RetentionRule;
    repositories: Record<string, Partial<RetentionRule>>;
}

export const defaultRule: RetentionRule = { keepNewest: 10, keepYoungerThanDays: 30, keepTags: [] };

export class RetentionPolicyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "RetentionPolicyError";
    }
}

function checkRule(where: string, rule: Partial<RetentionRule>): Partial<RetentionRule> {
    const known = new Set(Object.keys(defaultRule));
    for (const key of Object.keys(rule)) {
        if (!known.has(key)) {
            throw new RetentionPolicyError(`${where}: unknown key ${key}; the keys are ${[...known].join(", ")}`);
        }
    }
    for (const key of ["keepNewest", "keepYoungerThanDays"] as const) {
        const value = rule[key];
        if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
            throw new RetentionPolicyError(`${where}: ${key} must be a whole number ≥ 0, not ${JSON.stringify(value)}`);
        }
    }
    for (const pattern of rule.keepTags ?? []) {
        try {
            keepPatterns({ keepTags: [pattern] });
        } catch (error) {
            throw new RetentionPolicyError(`${where}: keepTags pattern ${JSON.stringify(pattern)}: ${(error as Error).message}`);
        }
    }
    return rule;
}

/** Reads retention.yml; a missing file means the defaults. */
export function loadPolicy(file: string): RetentionPolicy {
    if (!fs.existsSync(file)) {
        return { default: defaultRule, repositories: {} };
    }
    const parsed = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as { default?: Partial<RetentionRule>; repositories?: Record<string, Partial<RetentionRule>> };
    const repositories = Object.fromEntries(Object.entries(parsed.repositories ?? {})
        .map(([name, rule]) => [name, checkRule(`${file}: repositories.${name}`, rule ?? {})]));
    return { default: { ...defaultRule, ...checkRule(`${file}: default`, parsed.default ?? {}) }, repositories };
}

/** A repository's rule: each key its override sets replaces the default's (keepTags too: the lists are not merged). */
export function ruleFor(policy: RetentionPolicy, repository: string): RetentionRule {
    return { ...policy.default, ...policy.repositories[repository] };
}

/** keepTags as the anchored expressions they are matched as: a pattern matches a whole tag. */
export function keepPatterns(rule: Pick<RetentionRule, "keepTags">): RegExp[] {
    return rule.keepTags.map((pattern) => new RegExp(`^(?:${pattern})$`));
}
