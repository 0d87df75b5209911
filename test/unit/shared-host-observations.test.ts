// How a provider process shares a host's observations between its apps' reads
// (components/providers/shared-host-observations.ts), its scripts run by a real sh against a docker that answers
// from files: reads that arrive together go in one script, a listing serves the scripts after it, side by side,
// each app at most once, never across a change this process makes, and not past its age.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SharedHostObservations } from "../../components/providers/shared-host-observations";
import { AppLocation, appDir, composeProject } from "../../components/remote/layout";
import { buildObserveScript } from "../../components/remote/scripts";
import { SshConnection } from "../../components/remote/ssh";
import { FakeDocker } from "../helpers/fake-docker";

const listing = ["ps -aq", "inspect --format", "image inspect"];
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const connection: SshConnection = { host: "127.0.0.1", port: 22, user: "deploy", privateKey: "unused: the scripts run here" };

describe("a host's observations shared between its apps' reads", () => {
    let root: string;
    let docker: FakeDocker;
    let reference: FakeDocker;
    let scripts: number;
    /** Scripts running at once, at most. */
    let overlap: number;
    const at = (app: string): AppLocation => ({ app, workspace: "dev", org: "rednaw", deployRoot: root });
    const running = (location: AppLocation, state = "running") => `"${composeProject(location)}" "${appDir(location)}" web ${state} ${digest("a")}`;
    const images = `${digest("a")} registry.example/hello@${digest("1")}\n`;
    const observations = (listingMaxAgeMs?: number) => {
        let now = 0;
        return new SharedHostObservations(async (_connection, script, stdin) => {
            scripts += 1;
            now += 1;
            overlap = Math.max(overlap, now);
            try {
                return await docker.run(script, stdin);
            } finally {
                now -= 1;
            }
        }, listingMaxAgeMs);
    };
    /** What the app's own observation prints on a host of `containers`, from a docker of its own (whose calls are not counted). */
    const alone = (location: AppLocation, containers: string) => {
        reference.answer({ containers, images });
        return reference.runSync(buildObserveScript(location, "compose")).stdout;
    };

    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-shared-observations-"));
        docker = new FakeDocker(root);
        fs.mkdirSync(path.join(root, "reference"));
        reference = new FakeDocker(path.join(root, "reference"));
        [scripts, overlap] = [0, 0];
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("lists the host once for the reads that arrive together and for those that arrive while it lists, which then run side by side", async () => {
        const apps = ["one", "two", "three", "four", "five"].map(at);
        const containers = apps.map((app) => running(app)).join("\n") + "\n";
        docker.answer({ containers, images, psSeconds: 0.3 });
        const shared = observations();
        const first = apps.slice(0, 2).map((app) => shared.observe(connection, app, "compose"));
        await new Promise((resolve) => setTimeout(resolve, 100));
        const later = [shared.observe(connection, apps[2], "compose")];
        await new Promise((resolve) => setTimeout(resolve, 30));
        later.push(...apps.slice(3).map((app) => shared.observe(connection, app, "compose")));
        const answers = await Promise.all([...first, ...later]);
        assert.deepStrictEqual(docker.calls(), listing, "one listing");
        assert.deepStrictEqual([scripts, overlap], [3, 2], "the two later scripts waited for the listing, then ran together");
        assert.deepStrictEqual(answers, apps.map((app) => alone(app, containers)), "each answer is what the app's own observation prints");
    });

    it("reads an app again afresh, lists again once this process changes the host or the listing is older than its age", async () => {
        const [one, two, three, four] = ["one", "two", "three", "four"].map(at);
        docker.answer({ containers: running(one) + "\n", images });
        const shared = observations();
        await shared.observe(connection, one, "compose");
        docker.answer({ containers: running(one, "exited") + "\n", images });
        assert.strictEqual(await shared.observe(connection, two, "compose"), alone(two, running(one) + "\n"));
        assert.deepStrictEqual(docker.calls(), [], "another app takes the listing");
        assert.match(await shared.observe(connection, one, "compose"), /web exited/, "the same app is read afresh");
        assert.deepStrictEqual(docker.calls(), listing);

        docker.answer({ containers: running(one, "exited") + "\n", images });
        const during = await shared.changing(connection, () => shared.observe(connection, three, "compose"));
        assert.strictEqual(during, alone(three, running(one, "exited") + "\n"));
        assert.deepStrictEqual(docker.calls(), listing, "a listing kept before a change serves no read during it");
        docker.answer({ containers: running(one) + "\n", images });
        await shared.observe(connection, four, "compose");
        assert.deepStrictEqual(docker.calls(), listing, "nor one read during it, after it");

        const young = observations(50);
        docker.answer({ containers: running(one) + "\n", images });
        await young.observe(connection, one, "compose");
        await new Promise((resolve) => setTimeout(resolve, 100));
        await young.observe(connection, two, "compose");
        assert.deepStrictEqual(docker.calls(), [...listing, ...listing], "a listing past its age is read again");
    });

    it("fails every read of a script whose listing fails, and lists again for the next read", async () => {
        const [one, two] = [at("one"), at("two")];
        const shared = observations();
        const failing = `docker() { echo 'Cannot connect to the Docker daemon' >&2; return 1; }\n`;
        const broken = new SharedHostObservations((_connection, script, stdin) => docker.run(failing + script, stdin));
        docker.answer({ containers: running(one) + "\n", images });
        const reads = await Promise.allSettled([broken.observe(connection, one, "compose"), broken.observe(connection, two, "compose")]);
        assert.deepStrictEqual(reads.map((read) => read.status === "rejected" && /Cannot connect to the Docker daemon/.test(String(read.reason))), [true, true]);
        assert.strictEqual(await shared.observe(connection, one, "compose"), alone(one, running(one) + "\n"));
        assert.deepStrictEqual(docker.calls(), listing);
    });
});
