// A refresh observes a host's apps in one script (components/remote/observe-batch.ts): the host-wide reads once,
// each app's part apart, and each app's answer the very text its own observation prints, run here by a real sh
// against a docker that answers from files.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AppLocation, appDir, composeProject, legacyComposeProject, swarmStack } from "../../components/remote/layout";
import { parseObservation } from "../../components/remote/observation";
import { ObserveBatch, buildObserveBatchScript, listingOf, listingVariables, splitObserveBatch } from "../../components/remote/observe-batch";
import { buildObserveScript } from "../../components/remote/scripts";
import { shellQuote } from "../../components/remote/shell";
import { composeTarget } from "../../components/remote/targets/compose";
import { registerTarget } from "../../components/remote/targets/registry";
import { FakeDocker } from "../helpers/fake-docker";

const delimiter = "#=== 0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d";
const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe("the observation of a host's apps in one script", () => {
    let root: string;
    let docker: FakeDocker;
    const at = (app: string): AppLocation => ({ app, workspace: "dev", org: "rednaw", deployRoot: root });
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-observe-batch-"));
        docker = new FakeDocker(root);
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    /** `script` (and its stdin) run by sh against a docker that answers from `containers`, `images` and `swarm`. */
    function sh(script: string | ObserveBatch, containers: string, images: string, swarm?: { services: string; tasks: string }) {
        docker.answer({ containers, images, swarm });
        return typeof script === "string" ? docker.runSync(script) : docker.runSync(script.script, script.stdin);
    }
    const calls = () => docker.calls();

    it("answers each app with what its own observation prints, reading the host's containers and images once", () => {
        const [one, two, proxied] = [at("one"), at("two"), at("three")];
        fs.mkdirSync(appDir(one), { recursive: true });
        fs.writeFileSync(path.join(appDir(one), "deploy-info.yml"), `app: one\n${delimiter.replace("0b7c", "ffff")} app 1\n`);
        const image = "registry.example/hello";
        const containers = [
            `"${composeProject(one)}" "${appDir(one)}" web running ${digest("a")}`,
            `"${legacyComposeProject(two)}" "${appDir(two)}" web exited ${digest("b")}`,
            // The former project name of another dir, and a hand-made label with spaces: neither is ours.
            `"${legacyComposeProject(two)}" "/elsewhere/two" web running ${digest("c")}`,
            `"${composeProject(two)} x" "" web running ${digest("c")}`,
            `"${composeProject(proxied)}-green" "${appDir(proxied)}" web running ${digest("a")}`,
        ].join("\n") + "\n";
        const images = `${digest("a")} ${image}@${digest("1")}\n${digest("b")} ${image}@${digest("2")} other/repo@${digest("3")}\n${digest("c")}\n`;
        const apps = [{ location: one, target: "compose" }, { location: two, target: "compose" }, { location: proxied, target: "proxied" }];
        const batch = sh(buildObserveBatchScript(apps, delimiter), containers, images);
        assert.strictEqual(batch.status, 0, batch.stderr);
        assert.deepStrictEqual(calls(), ["ps -aq", "inspect --format", "image inspect"], "one listing for all three apps, compose and proxied alike");
        const answers = splitObserveBatch(batch.stdout, delimiter, apps.length);
        apps.forEach((app, index) => {
            const alone = sh(buildObserveScript(app.location, app.target), containers, images);
            assert.strictEqual(alone.status, 0, alone.stderr);
            assert.deepStrictEqual(answers[index], { stdout: alone.stdout });
        });
        const observed = (index: number) => parseObservation((answers[index] as { stdout: string }).stdout, image, digest("1"), appDir(apps[index].location));
        assert.deepStrictEqual(observed(0).containers, [{ service: "web", state: "running", digest: digest("1") }]);
        assert.deepStrictEqual(observed(1).containers, [{ service: "web", state: "exited", digest: digest("2") }]);
        assert.deepStrictEqual(observed(2).containers, [{ service: "web", state: "running", digest: digest("1"), colour: "green" }]);
        assert.strictEqual(observed(0).recordProblem?.includes("deploy-info.yml"), true, "the hand-edited record is that app's problem alone");
    });

    it("hands a later script the listing an earlier one printed: the same answers, docker not asked again", () => {
        const [one, two, web] = [at("one"), at("two"), at("web")];
        fs.mkdirSync(appDir(two), { recursive: true });
        fs.writeFileSync(path.join(appDir(two), "deploy-info.yml"), "app: two\n");
        const image = "registry.example/hello";
        // Labels as hands make them: quotes, a shell expansion, trailing spaces; and an image with no digest.
        const containers = [
            `"${composeProject(one)}" "${appDir(one)}" web running ${digest("a")}`,
            `"${composeProject(two)}" "${appDir(two)}" web exited ${digest("b")}`,
            `"it's $(id)  " "\\"x\\"" web running ${digest("c")}`,
        ].join("\n") + "\n";
        const images = `${digest("a")} ${image}@${digest("1")}\n${digest("b")}\n${digest("c")} ${image}@${digest("3")}\n`;
        const services = `s1 "${swarmStack(web)}" ${swarmStack(web)}_web ${image}@${digest("1")} 1\n`;
        const swarm = { services, tasks: `t1 s1 running ${image}@${digest("1")}\n` };
        const apps = [{ location: one, target: "compose" }, { location: two, target: "proxied" }, { location: web, target: "swarm" }];
        const first = sh(buildObserveBatchScript(apps, delimiter), containers, images, swarm);
        assert.strictEqual(first.status, 0, first.stderr);
        const listing = listingOf(first.stdout, delimiter, listingVariables(apps));
        assert.deepStrictEqual(Object.keys(listing), ["compose_containers", "compose_images", "swarm_services", "swarm_tasks", "swarm_error"]);
        assert.strictEqual(listing.swarm_error, "");
        const later = sh(buildObserveBatchScript(apps, delimiter.replace("0b7c", "1111"), listing), "", "");
        assert.strictEqual(later.status, 0, later.stderr);
        assert.deepStrictEqual(calls(), [], "docker is not asked again");
        assert.deepStrictEqual(splitObserveBatch(later.stdout, delimiter.replace("0b7c", "1111"), apps.length), splitObserveBatch(first.stdout, delimiter, apps.length));
        // A host of thousands of containers: the listing goes on stdin, not into the command line (128 KiB an argument).
        const crowd = Array.from({ length: 3000 }, (_, i) => `"other-${i}" "/srv/other-${i}" web running ${digest("d")}`).join("\n");
        const crowded = { ...listing, compose_containers: `${crowd}\n${listing.compose_containers}` };
        const big = buildObserveBatchScript(apps, delimiter, crowded);
        assert.ok(crowded.compose_containers.length > 200_000 && big.script.length < 20_000, "the listing is not in the script");
        const large = sh(big, "", "");
        assert.strictEqual(large.status, 0, large.stderr);
        assert.deepStrictEqual(splitObserveBatch(large.stdout, delimiter, apps.length), splitObserveBatch(first.stdout, delimiter, apps.length));
        assert.throws(() => buildObserveBatchScript(apps, delimiter, { compose_containers: "" }), /listing lacks compose_images/);
        assert.throws(() => listingOf(`${delimiter} app 0\n`, delimiter, ["compose_images"]), /lacks compose_images of the observation's listing/);
    });

    it("reads a swarm's services and tasks once for all its stacks, and fails only the swarm apps on a host in no swarm", () => {
        const [web, api, plain] = [at("web"), at("api"), at("plain")];
        const image = "registry.example/hello";
        const services = [
            `s1 "${swarmStack(web)}" ${swarmStack(web)}_web ${image}:v1@${digest("1")} 2`,
            `s2 "${swarmStack(api)}" ${swarmStack(api)}_api ${image}@${digest("2")} `,
            `s3 "${swarmStack(web)} x" ${swarmStack(web)}_web ${image}@${digest("3")} 1`,
        ].join("\n") + "\n";
        // task ids, then the service each belongs to, its state and image, as `inspect --type task` prints them.
        const tasks = [`t1 s1 running ${image}:v1@${digest("1")}`, `t2 s1 starting ${image}:v1@${digest("1")}`,
            `t3 s2 running ${image}@${digest("2")}`, `t4 s3 running ${image}@${digest("3")}`].join("\n") + "\n";
        const apps = [{ location: web, target: "swarm" }, { location: api, target: "swarm" }, { location: plain, target: "compose" }];
        const batch = sh(buildObserveBatchScript(apps, delimiter), "", "", { services, tasks });
        assert.strictEqual(batch.status, 0, batch.stderr);
        assert.deepStrictEqual(calls(), ["service ls", "service inspect", "service ps", "inspect --type", "ps -aq"]);
        const answers = splitObserveBatch(batch.stdout, delimiter, apps.length);
        const observed = (index: number) => parseObservation((answers[index] as { stdout: string }).stdout, image, digest("1"), "");
        assert.deepStrictEqual(observed(0).containers, [
            { service: "web", state: "running", digest: digest("1") }, { service: "web", state: "starting", digest: digest("1") }]);
        assert.deepStrictEqual(observed(0).specs, [{ service: "web", digest: digest("1"), replicas: 2 }]);
        assert.deepStrictEqual(observed(1).specs, [{ service: "api", digest: digest("2"), replicas: null }]);
        assert.deepStrictEqual(observed(1).containers, [{ service: "api", state: "running", digest: digest("2") }]);
        apps.forEach((app, index) => assert.deepStrictEqual(answers[index], { stdout: sh(buildObserveScript(app.location, app.target), "", "", { services, tasks }).stdout }));

        const noSwarm = splitObserveBatch(sh(buildObserveBatchScript(apps, delimiter), "", "").stdout, delimiter, apps.length);
        const alone = sh(buildObserveScript(web, "swarm"), "", "");
        assert.deepStrictEqual([alone.status, alone.stderr], [1, "Error response from daemon: This node is not a swarm manager.\n"]);
        assert.deepStrictEqual(noSwarm.slice(0, 2), [{ exitCode: 1, stderr: alone.stderr }, { exitCode: 1, stderr: alone.stderr }]);
        assert.ok("stdout" in noSwarm[2], "the compose app beside them is read");
    });

    it("fails one app's read with what its own script says, and answers the others", () => {
        // A target whose observation fails where the app's dir lacks its file, as a docker command fails for one app.
        const unregister = registerTarget({
            ...composeTarget, name: "fragile", observeHost: () => [], hostVariables: [],
            observe: (location, markers) => [`cat ${shellQuote(`${appDir(location)}/running`)}`, `echo ${shellQuote(markers.images)}`],
        });
        try {
            const [good, bad] = [at("good"), at("bad")];
            fs.mkdirSync(appDir(good), { recursive: true });
            fs.writeFileSync(path.join(appDir(good), "running"), "web running x\n");
            const apps = [{ location: bad, target: "fragile" }, { location: good, target: "fragile" }];
            const batch = sh(buildObserveBatchScript(apps, delimiter), "", "");
            assert.strictEqual(batch.status, 0, batch.stderr);
            const [badAnswer, goodAnswer] = splitObserveBatch(batch.stdout, delimiter, 2);
            const alone = sh(buildObserveScript(bad, "fragile"), "", "");
            assert.notStrictEqual(alone.status, 0);
            assert.deepStrictEqual(badAnswer, { exitCode: alone.status, stderr: alone.stderr });
            assert.match(alone.stderr, /running/);
            assert.deepStrictEqual(goodAnswer, { stdout: sh(buildObserveScript(good, "fragile"), "", "").stdout });
        } finally {
            unregister();
        }
    });

    it("fails as a whole when docker cannot list the host, and refuses an answer that lacks an app", () => {
        const apps = [{ location: at("one"), target: "compose" }];
        const { script } = buildObserveBatchScript(apps, delimiter);
        const failing = spawnSync("sh", ["-c", `docker() { echo 'Cannot connect to the Docker daemon' >&2; return 1; }\n${script}`], { encoding: "utf8" });
        assert.notStrictEqual(failing.status, 0);
        assert.match(failing.stderr, /Cannot connect to the Docker daemon/);
        assert.throws(() => splitObserveBatch(`${delimiter} app 0\n`, delimiter, 1), /lacks app 1 of 1/);
        assert.throws(() => buildObserveBatchScript(apps, "#=== $(id)"), /not an observation delimiter/);
    });
});
