import { execFileSync } from "child_process";
import * as path from "path";
import * as fs from "fs";
import { appDir, composeProject } from "./components/remote/layout";
import { startDeployEnvironment } from "./test/helpers/deploy-environment";
import { createTestStack } from "./test/helpers/pulumi-stack";

(async () => {
    const env = await startDeployEnvironment();
    const location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
    const dev = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "15" } });
    const show = async (title: string, args: string[]) => {
        const r = await dev.cli(args).result;
        console.log(`\n===== ${title}: pulumi ${args.join(" ")} → exit ${r.status}\n${r.output}`);
    };
    try {
        await show("first up", ["up", "--yes"]);
        await show("refresh untouched", ["refresh", "--expect-no-changes", "--yes"]);
        await dev.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        await show("preview B", ["preview"]);
        await dev.stack.setConfig("hello-world:tag", { value: "eb5302z" });
        await show("preview typo", ["preview"]);
        await dev.stack.setConfig("hello-world:tag", { value: env.images.a.tag });
        const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: env.dockerd.host } }).trim();
        docker("stop", ...docker("ps", "-q", "--filter", `label=com.docker.compose.project=${composeProject(location)}`).split("\n"));
        await show("refresh after stop", ["refresh", "--expect-no-changes", "--diff", "--yes"]);
        await show("up converges", ["up", "--yes"]);
        await dev.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        const run = dev.cli(["up", "--yes", "--skip-preview"]);
        const staged = path.join(appDir(location), "staged");
        for (;;) {
            const logs = fs.readdirSync(staged).map((j) => path.join(staged, j, "log")).filter((l) => fs.existsSync(l));
            if (logs.some((l) => /waiting up to/.test(fs.readFileSync(l, "utf8")))) break;
            await new Promise((r) => setTimeout(r, 100));
        }
        run.child.kill("SIGKILL");
        console.log("\n===== killed -9:\n" + (await run.result).output);
        execFileSync("flock", [path.join(appDir(location), ".deploy.lock"), "true"]);
        await show("up after kill", ["up", "--yes", "--skip-preview"]);
        await show("cancel", ["cancel", "--yes"]);
        await dev.stack.setConfig("hello-world:tag", { value: env.images.a.tag });
        await show("up without refresh", ["preview"]);
        await show("up --refresh", ["up", "--refresh", "--yes", "--skip-preview"]);
        await show("outputs", ["stack", "output", "deployed", "--json"]);
        await dev.stack.setConfig("hello-world:tag", { value: env.images.c.tag });
        await show("unhealthy", ["up", "--yes", "--skip-preview"]);
    } finally {
        await dev.remove();
        await env.stop();
    }
})();
