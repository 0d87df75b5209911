// References from what hosts hold, property-based over random registries and hosts: app dirs configured or
// not, histories, containers started by hand, unusable and foreign records. Whatever the state, either every
// digest a host could run again is kept, or the whole cleanup is refused naming the file and line.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildContainerImagesScript, buildListAppRecordsScript, parseAppRecords, parseContainerImages } from "../../components/cleanup/host-references";
import { DigestEntry, planCleanup, referenceKey } from "../../components/cleanup/plan";
import { CleanupError, HostObservation, collectReferences } from "../../components/cleanup/references";
import { renderDeployInfo } from "../../components/deploy-info";
import { parseWorkspace } from "../../components/workspace";

const registry = "127.0.0.1:5000";
const now = new Date("2026-03-01T00:00:00Z");
const repositories = ["rednaw/hello-world", "rednaw/api"];
const digestArb = fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`);

type Flaw = "none" | "null digest" | "short digest" | "no registry host" | "yaml error" | "other registry";
interface RecordSpec { repository: string; digest: string; flaw: Flaw }

const recordArb = (digests: string[]) => fc.record({
    repository: fc.constantFrom(...repositories),
    digest: fc.constantFrom(...digests),
    // Mostly usable records: the flawed ones must be refused wherever they are read.
    flaw: fc.oneof({ weight: 30, arbitrary: fc.constant<Flaw>("none") },
        { weight: 1, arbitrary: fc.constantFrom<Flaw>("null digest", "short digest", "no registry host", "yaml error", "other registry") }),
});

function renderRecord(spec: RecordSpec, app: string, workspace: string): string {
    const image = spec.flaw === "no registry host" ? spec.repository : `${spec.flaw === "other registry" ? "registry.example.com" : registry}/${spec.repository}`;
    const text = renderDeployInfo({ app, workspace, image, tag: null, digest: spec.digest, description: "d",
        deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa" });
    switch (spec.flaw) {
        case "null digest": return text.replace(/^digest: .*$/m, "digest: null");
        case "short digest": return text.replace(/^digest: (sha256:[0-9a-f]{12}).*$/m, "digest: $1");
        case "yaml error": return text.replace(/^description: .*$/m, "description: \"unterminated");
        default: return text;
    }
}

const stateArb = fc.uniqueArray(digestArb, { minLength: 2, maxLength: 12 }).chain((digests) => fc.record({
    digests: fc.constant(digests),
    inventory: fc.array(fc.record({
        repository: fc.constantFrom(...repositories), digest: fc.constantFrom(...digests),
        tags: fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 2 }),
        created: fc.option(fc.integer({ min: 0, max: 400 }).map((days) => new Date(now.getTime() - days * 86_400_000).toISOString()), { nil: null }),
    }), { maxLength: 12 }),
    hosts: fc.array(fc.record({
        configured: fc.subarray(["hello-world", "api"]),
        dirs: fc.array(fc.record({
            app: fc.constantFrom("hello-world", "api", "old-app"),
            deployInfo: fc.option(recordArb(digests), { nil: null }),
            history: fc.array(recordArb(digests), { maxLength: 5 }),
        }), { maxLength: 3 }),
        containers: fc.array(fc.record({ repository: fc.constantFrom(...repositories), digest: fc.constantFrom(...digests),
            registry: fc.constantFrom(registry, "docker.io") }), { maxLength: 3 }),
    }), { minLength: 1, maxLength: 3 }),
    historyDepth: fc.integer({ min: 0, max: 4 }),
}));

describe("cleanup references (property-based over random registries and hosts)", () => {
    it("keeps every digest a host could run again, or refuses naming the file and line", () => {
        fc.assert(fc.property(stateArb, (state) => {
            const expectedKept = new Set<string>();
            let flawed = false;
            const observations: HostObservation[] = state.hosts.map((host, i) => {
                const name = `ws${i}`;
                const dirs = new Map(host.dirs.map((dir) => [dir.app, dir]));
                for (const dir of dirs.values()) {
                    const considered = [...(dir.deployInfo ? [dir.deployInfo] : []), ...dir.history.slice(state.historyDepth > 0 ? -state.historyDepth : dir.history.length)];
                    considered.forEach((spec) => expectedKept.add(referenceKey(spec.repository, spec.digest)));
                    // YAML errors and bad fields anywhere in a history stop it; the registry only matters where read.
                    flawed ||= considered.some((spec) => spec.flaw !== "none") ||
                        (state.historyDepth > 0 && dir.history.some((spec) => spec.flaw !== "none" && spec.flaw !== "other registry"));
                }
                for (const container of host.containers.filter((c) => c.registry === registry)) {
                    expectedKept.add(referenceKey(container.repository, container.digest));
                }
                return {
                    host: `root@127.0.0.${i + 1}:22`,
                    workspace: parseWorkspace(name, {
                        "iac:apps": host.configured, "iac:registry": registry, "iac:sshHost": "127.0.0.1", "iac:sshUser": "root",
                        "iac:org": "rednaw", ...Object.fromEntries(host.configured.flatMap((app) => [[`${app}:image`, `rednaw/${app}`], [`${app}:tag`, "t"]])),
                    }),
                    appDirs: [...dirs.values()].map((dir) => ({
                        app: dir.app,
                        deployInfo: dir.deployInfo && renderRecord(dir.deployInfo, dir.app, name),
                        history: dir.history.length === 0 ? null : dir.history.map((spec) => `---\n${renderRecord(spec, dir.app, name)}`).join(""),
                    })),
                    containerImages: host.containers.map((c) => `${c.registry}/${c.repository}@${c.digest}`),
                };
            });
            let references;
            try {
                references = collectReferences(observations, registry, state.historyDepth);
            } catch (error) {
                assert.ok(flawed, `refused a usable state: ${(error as Error).message}`);
                assert.ok(error instanceof CleanupError);
                assert.match(error.message, /rednaw\/[a-z-]+\/deploy-(info|history)\.yml on root@127\.0\.0\.\d+:22 \(workspace ws\d\), line \d+: .*Nothing was deleted/s);
                return;
            }
            assert.ok(!flawed, "a flawed record was accepted");
            const entries: DigestEntry[] = state.inventory.map((e) => ({ ...e, description: null }));
            const plan = planCleanup(entries, references, { default: { keepNewest: 0, keepYoungerThanDays: 0, keepTags: [] }, repositories: {} }, now);
            for (const decision of plan.filter((d) => d.decision === "delete")) {
                assert.ok(!expectedKept.has(referenceKey(decision.repository, decision.digest)), `${decision.repository}@${decision.digest} could run again`);
            }
        }), { numRuns: 300 });
    });
});

describe("host reference scripts", () => {
    it("lists every app dir with its records byte for byte, and refuses a deploy root or org dir that is not there", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-refs-"));
        try {
            const run = (deployRoot: string) => execFileSync("sh", ["-c", buildListAppRecordsScript(deployRoot, "rednaw")], { encoding: "utf8", stdio: "pipe" });
            assert.throws(() => run(path.join(root, "missing")), /the deploy root .*missing does not exist on this host/);
            assert.throws(() => run(root), /rednaw does not exist on this host: check iac:org and iac:deployRoot/);
            const tricky = "app x y\n#--- deploy-history.yml ---\n'$(touch pwned)' \0 end";
            for (const [app, info, history] of [["hello-world", tricky, null], ["removed-app", null, "---\nold\n"], ["empty", "", null]] as const) {
                fs.mkdirSync(path.join(root, "rednaw", app), { recursive: true });
                if (info !== null) fs.writeFileSync(path.join(root, "rednaw", app, "deploy-info.yml"), info);
                if (history !== null) fs.writeFileSync(path.join(root, "rednaw", app, "deploy-history.yml"), history);
            }
            fs.writeFileSync(path.join(root, "rednaw", "not-a-dir"), "x");
            const listed = parseAppRecords(run(root)).sort((a, b) => a.app.localeCompare(b.app));
            assert.deepStrictEqual(listed, [
                { app: "empty", deployInfo: "", history: null },
                { app: "hello-world", deployInfo: tricky, history: null },
                { app: "removed-app", deployInfo: null, history: "---\nold\n" },
            ]);
            assert.ok(!fs.existsSync("pwned"));
        } finally {
            fs.rmSync(root, { recursive: true });
        }
    });

    it("passes shellcheck as POSIX sh", () => {
        for (const script of [buildListAppRecordsScript("/opt", "rednaw"), buildContainerImagesScript()]) {
            execFileSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
        }
    });

    it("takes container references from the container's own reference and its image's RepoDigests", () => {
        const a = `sha256:${"a".repeat(64)}`;
        const b = `sha256:${"b".repeat(64)}`;
        const output = [`container ${registry}/rednaw/hello-world@${a} sha256:${"1".repeat(64)}`, `container busybox:latest sha256:${"2".repeat(64)}`,
            `image sha256:${"2".repeat(64)} ${registry}/rednaw/api@${b} docker.io/library/busybox@${a}`, `gone sha256:${"3".repeat(64)}`, ""].join("\n");
        assert.deepStrictEqual(parseContainerImages(output).sort(),
            [`${registry}/rednaw/api@${b}`, `${registry}/rednaw/hello-world@${a}`, `docker.io/library/busybox@${a}`].sort());
    });

    it("takes a swarm's service specs, the specs a rollback returns to, and every task's image, a hand-set tag dropped", () => {
        const [a, b, c] = ["a", "b", "c"].map((hex) => `sha256:${hex.repeat(64)}`);
        const output = [`service ${registry}/rednaw/hello-world@${a} ${registry}/rednaw/hello-world:eb53023@${b}`,
            `service ${registry}/rednaw/api:latest`, `task ${registry}/rednaw/api@${c}`, ""].join("\n");
        assert.deepStrictEqual(parseContainerImages(output).sort(),
            [`${registry}/rednaw/api@${c}`, `${registry}/rednaw/hello-world@${a}`, `${registry}/rednaw/hello-world@${b}`].sort());
    });
});
