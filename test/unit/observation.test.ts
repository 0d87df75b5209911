// What a swarm manager's observation says, parsed, and how it differs from the recorded deploy.
import * as assert from "assert";
import { DeployInfo } from "../../components/model/deploy-info";
import { driftOf, parseObservation } from "../../components/remote/observation";
import { observationMarkers } from "../../components/remote/scripts";

const image = "127.0.0.1:5000/rednaw/hello-world";
const [a, b] = ["a", "b"].map((hex) => `sha256:${hex.repeat(64)}`);
const record: DeployInfo = {
    app: "hello-world", workspace: "dev", image, tag: "eb53023", digest: a, description: "initial deploy",
    deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa",
};
const recordText = Object.entries(record).map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join("\n");

function swarmAnswer(tasks: string[], specs: string[]): string {
    const refs = [...new Set(tasks.map((task) => task.split(" ")[2]))];
    return [observationMarkers.deployInfo, recordText, observationMarkers.containers, ...tasks,
        observationMarkers.images, ...refs.map((ref) => `${ref} ${ref.replace(/:[^/@]*@/, "@")}`),
        observationMarkers.services, ...specs, ""].join("\n");
}

describe("a swarm manager's observation", () => {
    it("agrees with the record when every replica runs the digest the spec names", () => {
        const observed = parseObservation(swarmAnswer([`web running ${image}@${a}`, `web running ${image}@${a}`], [`web ${image}@${a} 2`]), image, a, "h");
        assert.deepStrictEqual(observed.specs, [{ service: "web", digest: a, replicas: 2 }]);
        assert.deepStrictEqual(driftOf(observed, { record, services: ["web"] }), []);
    });

    it("names a spec changed by hand, a task on a tag set by hand, a missing replica and a task not running", () => {
        const observed = parseObservation(swarmAnswer([`web starting ${image}:eb53023@${b}`], [`web ${image}@${b} 2`]), image, a, "h");
        assert.deepStrictEqual(driftOf(observed, { record, services: ["web"] }), [
            `service web's spec names ${b}, the stack deployed ${a}`,
            "service web has 1 of its 2 tasks",
            "service web is starting",
            `service web runs ${b}, the stack deployed ${a}`,
        ]);
    });

    it("counts no replicas for a global service", () => {
        const observed = parseObservation(swarmAnswer([`web running ${image}@${a}`], [`web ${image}@${a} `]), image, a, "h");
        assert.deepStrictEqual(observed.specs, [{ service: "web", digest: a, replicas: null }]);
        assert.deepStrictEqual(driftOf(observed, { record, services: ["web"] }), []);
    });
});

describe("the app dir's own files beside the record", () => {
    const answer = (files: string[]) => [observationMarkers.files, ...files, observationMarkers.deployInfo, recordText,
        observationMarkers.containers, `web running sha256:img`, observationMarkers.images, `sha256:img ${image}@${a}`, ""].join("\n");
    const expected = { record, services: ["web"], owner: "stack-id-1" };

    it("agrees when compose.yml names the recorded digest and the dir is this stack's", () => {
        const observed = parseObservation(answer(["owner stack-id-1", `compose ${image}@${a}`, "compose busybox:1.36"]), image, a, "h");
        assert.deepStrictEqual(observed.files, { owner: "stack-id-1", pending: null, composeDigests: [a] });
        assert.deepStrictEqual(driftOf(observed, expected), []);
    });

    it("names a compose file that names another version, a commit left unfinished, and another stack's mark", () => {
        const observed = parseObservation(answer(["owner stack-id-2", "pending staged/job.AbCd1234", `compose ${image}@${b}`]), image, a, "h");
        assert.deepStrictEqual(driftOf(observed, expected), [
            "a deploy was decided but not all its files were put in place (staged/job.AbCd1234): pulumi up finishes it",
            `compose.yml names ${b}, the stack deployed ${a}`,
            "the dir's .owner names another stack (stack-id-2)",
        ]);
    });

    it("names a missing compose file and a missing mark, but asks no mark of a state from before marks", () => {
        const observed = parseObservation(answer([]), image, a, "h");
        assert.deepStrictEqual(driftOf(observed, expected), ["compose.yml is missing", "the dir's .owner mark is missing"]);
        assert.deepStrictEqual(driftOf(observed, { record, services: ["web"] }), ["compose.yml is missing"]);
    });
});
