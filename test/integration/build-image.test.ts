// The CI build and the local one agree: the workflow's tag and labels come from the same script as
// scripts/build-image's, and an image built by scripts/build-image on a real dockerd carries exactly them.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { RegistryClient } from "../../components/registry/client";
import { labelKeys } from "../../components/registry/types";
import { AppRepository } from "../../local/app-repository";
import { DockerEngine, startDockerd } from "../../local/dockerd";
import { RegistryServer, startRegistry } from "../../local/registry";

const projectRoot = path.resolve(__dirname, "..", "..");

interface Step { id?: string; name?: string; uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> }
const workflow = YAML.parse(fs.readFileSync(path.join(projectRoot, ".github", "workflows", "build-image.yml"), "utf8")) as {
    on: Record<string, unknown>; jobs: { build: { env: Record<string, string>; steps: Step[] } };
};
const steps = workflow.jobs.build.steps;
const buildStep = steps.find((s) => s.uses?.startsWith("docker/build-push-action@"))!;
const metaStep = steps.find((s) => s.id === "meta")!;

/** Runs the workflow's meta step as the runner would at the root of a checkout of `repo`, returning its outputs. */
function runMetaStep(repo: string): Record<string, string> {
    const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-gh-"));
    const output = path.join(outputDir, "output");
    let text: string;
    try {
        fs.writeFileSync(output, "");
        fs.symlinkSync(path.join(projectRoot, "scripts"), path.join(repo, "scripts"));
        execFileSync("bash", ["-e", "-c", metaStep.run!], {
            cwd: repo, env: { ...process.env, GITHUB_OUTPUT: output, APP_DIR: ".", IMAGE_SOURCE: "https://example.invalid/rednaw/hello-world" },
        });
        text = fs.readFileSync(output, "utf8");
    } finally {
        fs.rmSync(path.join(repo, "scripts"), { force: true });
        fs.rmSync(outputDir, { recursive: true, force: true });
    }
    const labels = /labels<<EOF\n([\s\S]*?)\nEOF/.exec(text)![1];
    return { tag: /^tag=(.*)$/m.exec(text)![1], labels };
}

describe("the image build: CI workflow and scripts/build-image", function () {
    this.timeout(180_000);

    it("builds on a push to main only, pushes once with exactly one tag and the labels of scripts/image-labels", () => {
        assert.deepStrictEqual(Object.keys(workflow.on), ["push"]);
        assert.deepStrictEqual(workflow.on.push, { branches: ["main"] });
        assert.strictEqual(steps.filter((s) => s.uses?.startsWith("docker/build-push-action@")).length, 1, "one build, one push");
        assert.strictEqual(String(buildStep.with!.push), "true");
        assert.deepStrictEqual(buildStep.with!.tags.trim().split(/[\n,]/), ["${{ vars.REGISTRY }}/${{ vars.IMAGE_NAME }}:${{ steps.meta.outputs.tag }}"]);
        assert.strictEqual(buildStep.with!.labels, "${{ steps.meta.outputs.labels }}");
        assert.match(metaStep.run!, /scripts\/image-labels "\$APP_DIR"/);
        assert.ok(steps.some((s) => s.uses?.startsWith("actions/checkout@")) && steps.some((s) => s.uses?.startsWith("docker/login-action@")));
    });

    describe("on a real dockerd and Registry v3", () => {
        let dockerd: DockerEngine;
        let registry: RegistryServer;
        let app: AppRepository;

        before(async () => {
            dockerd = await startDockerd();
            registry = await startRegistry({ flavour: "v3" });
            app = new AppRepository(dockerd.host);
        });
        after(async () => {
            app?.remove();
            await registry?.stop();
            await dockerd?.stop();
        });

        it("pushes one short-SHA tag whose labels are exactly what the workflow computes for the same commit", async () => {
            const built = app.build(`${registry.address}/rednaw/hello-world`, "add healthcheck + fix nginx proxy header");
            const ci = runMetaStep(app.dir);
            assert.strictEqual(built.tag, ci.tag);
            assert.match(built.tag, /^[0-9a-f]{7}$/);

            const client = new RegistryClient({ registry: registry.address, insecure: true });
            assert.deepStrictEqual(await client.listTags("rednaw/hello-world"), [built.tag]);
            const metadata = await client.imageMetadata("rednaw/hello-world", built.digest);
            const pushed = Object.entries(labelKeys).map(([field, key]) => `${key}=${metadata[field as keyof typeof labelKeys] ?? ""}`).join("\n");
            assert.strictEqual(pushed, ci.labels);
            assert.strictEqual(metadata.description, "add healthcheck + fix nginx proxy header");
        });

        it("refuses a dirty work tree unless told otherwise", () => {
            fs.appendFileSync(path.join(app.dir, "Dockerfile"), "\n# uncommitted\n");
            const refused = spawnSync(path.join(projectRoot, "scripts", "build-image"), [`${registry.address}/rednaw/hello-world`, app.dir],
                { encoding: "utf8", env: { ...process.env, DOCKER_HOST: dockerd.host } });
            assert.strictEqual(refused.status, 1);
            assert.match(refused.stderr, /has uncommitted changes; commit them .* or pass --allow-dirty/);
        });
    });
});
