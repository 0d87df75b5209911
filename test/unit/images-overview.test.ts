// images:overview's app: the workspace's app whose image is the repository asked for, or a refusal listing them.
import * as assert from "assert";
import { appDeploying } from "../../components/model/images-overview";
import { WorkspaceConfigError, parseWorkspace } from "../../components/model/workspace";

const workspace = (apps: Record<string, string>) => parseWorkspace("staging", {
    "iac:apps": Object.keys(apps), "iac:registry": "127.0.0.1:5000", "iac:sshHost": "127.0.0.1", "iac:sshUser": "deploy", "iac:org": "rednaw",
    ...Object.fromEntries(Object.entries(apps).flatMap(([app, image]) => [[`${app}:image`, image], [`${app}:tag`, "d1"]])),
});

describe("images:overview's app", () => {
    it("is the app whose image is the repository", () => {
        const model = workspace({ "hello-world": "rednaw/hello-world", api: "rednaw/api" });
        assert.strictEqual(appDeploying(model, "rednaw/api"), model.apps[1]);
        assert.strictEqual(appDeploying(model, "rednaw/hello-world").name, "hello-world");
    });

    it("refuses a repository no app deploys, listing the workspace's apps", () => {
        assert.throws(() => appDeploying(workspace({ api: "rednaw/api" }), "rednaw/web"), (error: Error) =>
            error instanceof WorkspaceConfigError && error.problems.length === 1 &&
            error.problems[0] === "no app of workspace staging deploys rednaw/web (its apps: api → rednaw/api)");
        assert.throws(() => appDeploying(workspace({}), "rednaw/web"), /\(its apps: none\)/);
    });
});
