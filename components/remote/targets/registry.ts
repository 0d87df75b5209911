// The registration: the one list of deploy targets. The config parser offers these names, the host scripts
// define every target's functions (an app may move between them), and cleanup reads what each keeps.
import { InvalidValueError } from "../../model/invalid-value";
import { composeTarget } from "./compose";
import { proxiedTarget } from "./proxied";
import { swarmTarget } from "./swarm";
import { TargetController } from "./target";

/** What a workspace deploys with when iac:target is not set, and what a dir or a state from before targets used. */
export const defaultTarget: TargetController = composeTarget;

const registered: Record<string, TargetController> = {};
/** Targets the program chooses itself (the proxied one, for an app with proxy.port), never `iac:target`. */
const implied = new Set<string>();

/** Adds a target; returns what takes it away again (a test's stand-in target, once the test is done). */
export function registerTarget(target: TargetController): () => void {
    if (!/^[a-z][a-z0-9_]*$/.test(target.name)) {
        throw new InvalidValueError("deploy target name", target.name, "expected [a-z][a-z0-9_]*: it names shell functions");
    }
    if (Object.hasOwn(registered, target.name)) {
        throw new InvalidValueError("deploy target name", target.name, "a target of that name is registered already");
    }
    registered[target.name] = target;
    return () => void delete registered[target.name];
}

[composeTarget, swarmTarget].forEach(registerTarget);
registerTarget(proxiedTarget);
implied.add(proxiedTarget.name);

/** Every registered target, the default first. */
export function deployTargets(): TargetController[] {
    return Object.values(registered);
}

/** What `iac:target` may name. */
export function targetNames(): string[] {
    return Object.keys(registered).filter((name) => !implied.has(name));
}

export function targetNamed(name: string): TargetController {
    const target = Object.hasOwn(registered, name) ? registered[name] : undefined;
    if (target === undefined) {
        throw new InvalidValueError("deploy target", name, `expected ${Object.keys(registered).join(" or ")}`);
    }
    return target;
}
