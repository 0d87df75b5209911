// Two operators share one workspace through a PostgreSQL state store, under the real engine, against a real SSH
// host, dockerd and Registry v3: each has their own working copy and Pulumi home. Deploys are attributed, one
// run at a time holds the stack, and the invariant holds throughout: what runs == deploy-info.yml == `deployed`.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DeployInfo, parseDeployHistory, parseDeployInfo } from "../../components/model/deploy-info";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { BuiltImage } from "../../local/app-repository";
import { PostgresServer, startPostgres } from "../../local/postgres";
import { DeployEnvironment, startDeployEnvironment } from "../helpers/deploy-environment";
import { TestStack, createTestStack } from "../helpers/pulumi-stack";

describe("a team sharing a workspace through PostgreSQL", function () {
    this.timeout(600_000);
    let env: DeployEnvironment;
    let store: PostgresServer;
    let storeDir: string;
    let alice: TestStack;
    let bob: TestStack;
    let location: AppLocation;

    const deployInfo = (): DeployInfo => parseDeployInfo(fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8"), "deploy-info.yml");
    const history = () => parseDeployHistory(fs.readFileSync(path.join(appDir(location), "deploy-history.yml"), "utf8"), "deploy-history.yml")
        .map(({ record }) => [record.tag, record.deployed_by]);
    const operator = (name: string) => ({ IAC_OPERATOR: name, PGPASSWORD: store.password });
    /** What a `git pull` of the shared checkout does: the other operator's stack settings file, as committed. */
    const pullSettings = (from: TestStack, to: TestStack) =>
        fs.copyFileSync(path.join(from.workDir, "Pulumi.dev.yaml"), path.join(to.workDir, "Pulumi.dev.yaml"));

    /** The invariant, as both operators see it: the host runs `image`, deploy-info.yml names it, so do both outputs. */
    async function assertAgree(image: BuiltImage, deployedBy: string): Promise<void> {
        assert.deepStrictEqual(env.runningDigests(composeProject(location)), [image.digest], "what runs");
        const record = deployInfo();
        assert.strictEqual(record.digest, image.digest, "deploy-info.yml");
        assert.strictEqual(record.deployed_by, deployedBy, "deployed_by");
        for (const operatorStack of [alice, bob]) {
            const outputs = await operatorStack.stack.outputs();
            assert.deepStrictEqual(outputs.deployed.value["hello-world"], record, "the deployed output");
            assert.match(outputs.overview.value, new RegExp(`→ ${image.tag} [^\\n]*\\n[^]*DEPLOYED: ${image.tag} at [0-9: -]+ by ${deployedBy}$`));
        }
    }

    before(async () => {
        env = await startDeployEnvironment();
        storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-postgres-"));
        store = await startPostgres({ dir: storeDir });
        location = { app: "hello-world", workspace: "dev", org: "rednaw", deployRoot: env.ssh.deployRoot };
        alice = await createTestStack("dev", { ...env.stackConfig(env.images.a.tag), "hello-world:healthTimeout": { value: "15" } },
            { backendUrl: store.backendUrl, operatorEnv: operator("alice@rednaw.nl") });
        bob = await createTestStack("dev", {}, { backendUrl: store.backendUrl, operatorEnv: operator("bob@rednaw.nl"), joins: alice });
    });
    after(async () => {
        try {
            await bob?.remove();
            await alice?.remove();
        } finally {
            await store?.stop();
            fs.rmSync(storeDir, { recursive: true, force: true });
            await env?.stop();
        }
    });

    it("deploys A as one operator and B as the other; both read the same record, each deploy names its operator", async () => {
        await alice.stack.up({ color: "never" });
        await assertAgree(env.images.a, "alice@rednaw.nl");

        await bob.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        await bob.stack.up({ color: "never" });
        await assertAgree(env.images.b, "bob@rednaw.nl");
        assert.deepStrictEqual(history(), [[env.images.a.tag, "alice@rednaw.nl"], [env.images.b.tag, "bob@rednaw.nl"]]);

        // Alice pulls the settings Bob committed: her run changes nothing, so Bob's deploy keeps his name.
        pullSettings(bob, alice);
        const noop = await alice.cli(["up", "--yes", "--skip-preview"]).result;
        assert.strictEqual(noop.status, 0, noop.output);
        assert.match(noop.output, /Resources:\s+\d+ unchanged\s+Duration/, noop.output);
        assert.strictEqual(history().length, 2, "alice's no-op run redeployed");
        await assertAgree(env.images.b, "bob@rednaw.nl");
    });

    it("lets one of two concurrent runs deploy and refuses the other with the lock; up --refresh then converges", async () => {
        await alice.stack.setConfig("hello-world:tag", { value: env.images.a.tag });
        pullSettings(alice, bob);
        const deploysBefore = history().length;
        const first = alice.cli(["up", "--yes", "--skip-preview"]);
        // Bob starts while Alice's deploy is under way on the host, not merely queued.
        let aliceOutput = "";
        first.child.stdout!.on("data", (chunk: Buffer) => (aliceOutput += chunk.toString()));
        for (const deadline = Date.now() + 60_000; !/hello-world-deploy +updating/.test(aliceOutput); await new Promise((r) => setTimeout(r, 100))) {
            assert.ok(Date.now() < deadline, `alice's deploy never started:\n${aliceOutput}`);
        }
        const second = await bob.cli(["up", "--yes", "--skip-preview"]).result;
        const won = await first.result;
        console.log(`      bob's refused run:\n${second.output.trim().split("\n").map((line) => `        ${line}`).join("\n")}`);
        assert.strictEqual(won.status, 0, won.output);
        assert.notStrictEqual(second.status, 0, second.output);
        assert.match(second.output, /the stack is currently locked by 1 lock\(s\)/);
        assert.strictEqual(history().length, deploysBefore + 1, "exactly one deploy");
        await assertAgree(env.images.a, "alice@rednaw.nl");

        // Bob's recovery, as docs/team.md says: once Alice is done, run again with --refresh: nothing left to do.
        const retry = await bob.cli(["up", "--refresh", "--yes", "--skip-preview"]).result;
        assert.strictEqual(retry.status, 0, retry.output);
        assert.strictEqual(history().length, deploysBefore + 1, "the retry redeployed");
        await assertAgree(env.images.a, "alice@rednaw.nl");
    });

    it("stops with an error naming the state store when it is down, having touched nothing on the host", async () => {
        await bob.stack.setConfig("hello-world:tag", { value: env.images.b.tag });
        const recordBefore = fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8");
        const sessionsBefore = env.ssh.sessionCount();
        const port = store.port;
        await store.stop();
        try {
            const up = await bob.cli(["up", "--yes", "--skip-preview"]).result;
            console.log(`      with the store down:\n        ${up.output.trim().split("\n").join("\n        ")}`);
            assert.notStrictEqual(up.status, 0, up.output);
            assert.match(up.output, new RegExp(`postgres://iac@127\\.0\\.0\\.1:${port}/pulumi.*connection refused`));
            assert.strictEqual(env.ssh.sessionCount(), sessionsBefore, "an SSH session reached the host");
            assert.strictEqual(fs.readFileSync(path.join(appDir(location), "deploy-info.yml"), "utf8"), recordBefore);
            assert.deepStrictEqual(env.runningDigests(composeProject(location)), [env.images.a.digest]);
        } finally {
            store = await startPostgres({ dir: storeDir, port });
        }
        // Back up, the same run goes through.
        const up = await bob.cli(["up", "--yes", "--skip-preview"]).result;
        assert.strictEqual(up.status, 0, up.output);
        await assertAgree(env.images.b, "bob@rednaw.nl");
    });
});
