// Benchmark (not a test): the fault harness's soak mode. Many seeded plans, longer than the suite's, one after
// another on one environment (dockerd, Registry v3, an SSH host on loopback); each plan's verdict, time and the
// faults that fired, and every failure in full with the line that re-runs it. Exits 1 when any plan failed.
//   npm run bench:faults -- --seeds 20 [--steps 10]     twenty random seeds, each printed before it runs
//   npm run bench:faults -- --seed 123 --seed 456       those seeds
//   npm run bench:faults -- --cases                     the named cases as well
import { parseArgs } from "util";
import { startDeployEnvironment } from "../test/helpers/deploy-environment";
import { FaultHarnessFailure, Plan, describePlan, namedCases, planFromSeed, runPlan } from "../test/helpers/fault-harness";
import { prepareHostProxy } from "../test/helpers/host-proxy";
import { randomSeed } from "../test/helpers/prng";

function plansToRun(): { plans: Plan[]; verbose: boolean } {
    const { values } = parseArgs({
        options: {
            seeds: { type: "string", default: "0" },
            seed: { type: "string", multiple: true, default: [] },
            steps: { type: "string", default: "10" },
            cases: { type: "boolean", default: false },
            verbose: { type: "boolean", default: false },
        },
    });
    const steps = Number(values.steps);
    const count = Number(values.seeds);
    if (!Number.isInteger(steps) || steps < 1 || !Number.isInteger(count) || count < 0) {
        throw new Error(`--steps must be a positive integer and --seeds a count (got --steps ${values.steps} --seeds ${values.seeds})`);
    }
    const seeds = values.seed.map(Number);
    if (seeds.some((seed) => !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) {
        throw new Error(`--seed takes integers in [0, 2^32): ${values.seed.join(" ")}`);
    }
    seeds.push(...Array.from({ length: count }, randomSeed));
    const plans = [...(values.cases ? namedCases : []), ...seeds.map((seed) => planFromSeed(seed, steps))];
    if (plans.length === 0) {
        throw new Error("nothing to run: give --seeds N, --seed S or --cases");
    }
    return { plans, verbose: values.verbose };
}

async function main(): Promise<void> {
    const { plans, verbose } = plansToRun();
    console.log(`bench:faults: ${plans.length} plan(s): ${plans.map((plan) => plan.name).join(", ")}`);
    const started = Date.now();
    const env = await startDeployEnvironment();
    // The named cases include plans behind the host's proxy, which need its image in the environment's registry.
    const proxy = plans.some((plan) => plan.proxied) ? prepareHostProxy(env) : undefined;
    console.log(`bench:faults: environment up in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const failures: FaultHarnessFailure[] = [];
    let firedTotal = 0;
    try {
        for (const plan of plans) {
            console.log(`\n${plan.name} (re-run: ${plan.rerun}):\n${describePlan(plan)}`);
            try {
                const result = await runPlan(env, plan, verbose ? (line) => console.log(`    ${line}`) : undefined, proxy);
                firedTotal += result.faultsFired;
                console.log(`PASS ${plan.name}: ${result.faultsFired} fault(s) fired, ${result.seconds.toFixed(0)} s`);
            } catch (error) {
                if (!(error instanceof FaultHarnessFailure)) {
                    throw error;
                }
                failures.push(error);
                console.log(`FAIL ${plan.name}\n${error.message}`);
            }
        }
    } finally {
        try {
            await proxy?.stop();
        } finally {
            await env.stop();
        }
    }
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    console.log(`\nbench:faults: ${plans.length - failures.length} of ${plans.length} plan(s) held the invariant, ` +
        `${firedTotal} fault(s) fired in the plans that passed, ${minutes} min`);
    for (const failure of failures) {
        console.log(`  ${failure.message.split("\n")[0]}`);
    }
    process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((error) => {
    console.error(error);
    process.exit(2);
});
