// Faults explored rather than listed (issue 22): seeded random plans of operator steps and kill -9s of the host's
// deploy phase or the pulumi CLI, recovered as docs/faults.md says, the invariant checked after every step — what
// runs == deploy-info.yml == the `deployed` output, or the command failed and said what to run next. The plans and
// checks are in test/helpers/fault-harness.ts; this file picks which to run.
//   default:                      the named cases without the proxy (breaks issue 22 found, and since) and one fixed
//                                 seed (5 minutes); the faults behind the proxy are faults-proxied.e2e.test.ts's
//   IAC_FAULT_SEED=123            that seed alone (IAC_FAULT_STEPS=n for another step budget); "random" draws one
//   IAC_FAULT_CASE=<name>         that named case alone (the proxied-* cases run the app behind the host's proxy)
//   IAC_FAULT_PROXIED=1           with IAC_FAULT_SEED: the app behind the host's proxy, a client counting its answers
//   IAC_FAULT_VERBOSE=1           print each plan's step list as it runs
// Longer soaks: npm run bench:faults -- --seeds 20
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { Plan, defaultStepBudget, describePlan, namedCases, planFromSeed, runPlan } from "../helpers/fault-harness";
import { HostProxy, prepareHostProxy } from "../helpers/host-proxy";
import { randomSeed } from "../helpers/prng";

/**
 * The seed the default run holds to, chosen for reach within the time a suite can spend: a compose up of another
 * digest and a deleted record by hand, kill -9 of the CLI, of the phase and of the phase's session, an unhealthy
 * version and an environment change (its plan: IAC_FAULT_VERBOSE=1, or docs/faults.md). More: npm run bench:faults.
 */
const defaultSeeds = [24];

function selectedPlans(): Plan[] {
    const steps = process.env.IAC_FAULT_STEPS ? Number(process.env.IAC_FAULT_STEPS) : defaultStepBudget;
    if (!Number.isInteger(steps) || steps < 1) {
        throw new Error(`IAC_FAULT_STEPS must be a positive integer, not ${process.env.IAC_FAULT_STEPS}`);
    }
    const seed = process.env.IAC_FAULT_SEED;
    if (seed !== undefined && seed !== "") {
        const value = seed === "random" ? randomSeed() : Number(seed);
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
            throw new Error(`IAC_FAULT_SEED must be an integer in [0, 2^32) or "random", not ${seed}`);
        }
        return [planFromSeed(value, steps, process.env.IAC_FAULT_PROXIED === "1")];
    }
    const name = process.env.IAC_FAULT_CASE;
    if (name !== undefined && name !== "") {
        const plan = namedCases.find((candidate) => candidate.name === name);
        if (!plan) {
            throw new Error(`no fault case named ${name}; the cases: ${namedCases.map((candidate) => candidate.name).join(", ")}`);
        }
        return [plan];
    }
    return [...namedCases.filter((plan) => !plan.proxied), ...defaultSeeds.map((value) => planFromSeed(value, steps))];
}

describe("fault harness: seeded plans of operator steps and kill -9s under the real engine", function () {
    this.timeout(900_000);
    let env: DeployEnvironment;
    let proxy: HostProxy | undefined;
    const plans = selectedPlans();
    const verbose = process.env.IAC_FAULT_VERBOSE === "1";
    if (plans.length === 1) {
        // Said aloud, so a run narrowed by the environment is never mistaken for the whole harness.
        console.log(`fault harness: running only ${plans[0].name} (${plans[0].rerun})`);
    }

    before(async () => {
        env = await startDeployEnvironment();
        if (plans.some((plan) => plan.proxied)) {
            proxy = prepareHostProxy(env);
        }
    });
    after(async () => {
        try {
            await proxy?.stop();
        } finally {
            await env?.stop();
        }
    });

    for (const plan of plans) {
        it(`${plan.name}: ${plan.about ?? `${plan.steps.length} random steps`} — the invariant after every step`, async () => {
            if (verbose) {
                console.log(`${plan.name}:\n${describePlan(plan)}`);
            }
            const result = await runPlan(env, plan, verbose ? (line) => console.log(`      ${line}`) : undefined, proxy);
            const traffic = plan.proxied ? `, ${result.failedRequests} request(s) through the proxy failed` : "";
            console.log(`      ${plan.name}: ${plan.steps.length} steps, ${result.faultsFired} fault(s) fired${traffic}, ${result.seconds.toFixed(0)} s`);
        });
    }
});
