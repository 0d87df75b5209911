import { startDeployEnvironment } from "./test/helpers/deploy-environment";
import { createTestStack } from "./test/helpers/pulumi-stack";
(async () => {
    const env = await startDeployEnvironment();
    const dev = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "15" } });
    const show = async (title: string, args: string[]) => {
        const r = await dev.cli(args).result;
        console.log(`\n===== ${title}: pulumi ${args.join(" ")} → exit ${r.status}\n${r.output}`);
    };
    try {
        await show("first up", ["up", "--yes", "--skip-preview"]);
        await show("noop", ["up", "--yes", "--skip-preview", "--diff"]);
    } finally {
        await dev.remove();
        await env.stop();
    }
})();
