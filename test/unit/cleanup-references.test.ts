// References from what hosts hold, property-based over random registries and hosts: app dirs configured or
// not, histories, deploys staged and waiting, containers started by hand, images named through another spelling
// of the registry, unusable records. Whatever the state, either every digest a host could run is kept, or the
// whole cleanup is refused naming the file and line.
import * as assert from "assert";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildContainerImagesScript, buildListAppRecordsScript, parseAppRecords, parseContainerImages, parseStagedImages } from "../../components/cleanup/host-references";
import { DigestEntry, planCleanup, referenceKey } from "../../components/cleanup/plan";
import { CleanupError, HostHoldings, collectReferences } from "../../components/cleanup/references";
import { renderCompose } from "../../components/model/compose";
import { renderDeployInfo } from "../../components/model/deploy-info";
import { parseWorkspace } from "../../components/model/workspace";
import { helloWorldTemplate } from "../helpers/deploy-request";

const registry = "127.0.0.1:5000";
/** Names a host may use for the same or another registry, and a Docker Hub name: none is `registry` as written. */
const otherNames = ["localhost:5000", "registry.example.com", "docker.io"];
const now = new Date("2026-03-01T00:00:00Z");
const repositories = ["rednaw/api", "rednaw/hello-world"];
const digestArb = fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`);
const noRetention = { default: { keepNewest: 0, keepYoungerThanDays: 0, keepTags: [] }, repositories: {} };

type Flaw = "none" | "null digest" | "short digest" | "no registry host" | "yaml error";
interface Named { repository: string; digest: string; registryName: string }
interface RecordSpec extends Named { flaw: Flaw }

const namedArb = (digests: string[]) => fc.record({
    repository: fc.constantFrom(...repositories),
    digest: fc.constantFrom(...digests),
    registryName: fc.constantFrom(registry, registry, ...otherNames),
});
const recordArb = (digests: string[]) => fc.tuple(namedArb(digests),
    // Mostly usable records: the flawed ones must be refused wherever they are read.
    fc.oneof({ weight: 30, arbitrary: fc.constant<Flaw>("none") },
        { weight: 1, arbitrary: fc.constantFrom<Flaw>("null digest", "short digest", "no registry host", "yaml error") }),
).map(([named, flaw]): RecordSpec => ({ ...named, flaw }));

function renderRecord(spec: RecordSpec, app: string, workspace: string): string {
    const image = spec.flaw === "no registry host" ? spec.repository : `${spec.registryName}/${spec.repository}`;
    const text = renderDeployInfo({ app, workspace, image, tag: null, digest: spec.digest, description: "d",
        deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa" });
    switch (spec.flaw) {
        case "null digest": return text.replace(/^digest: .*$/m, "digest: null");
        case "short digest": return text.replace(/^digest: (sha256:[0-9a-f]{12}).*$/m, "digest: $1");
        case "yaml error": return text.replace(/^description: .*$/m, "description: \"unterminated");
        default: return text;
    }
}

/** The keys a digest named so must be kept under: its own repository in `registry`, else every repository. */
const keysFor = (named: Named) => named.registryName === registry
    ? [referenceKey(named.repository, named.digest)]
    : repositories.map((repository) => referenceKey(repository, named.digest));

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
            lockHeld: fc.boolean(),
            staged: fc.array(fc.record({ named: namedArb(digests), target: fc.constantFrom("compose" as const, "swarm" as const) }), { maxLength: 2 }),
        }), { maxLength: 3 }),
        containers: fc.array(namedArb(digests), { maxLength: 3 }),
    }), { minLength: 1, maxLength: 3 }),
    historyDepth: fc.integer({ min: 0, max: 4 }),
}));

describe("cleanup references (property-based over random registries and hosts)", () => {
    it("keeps every digest a host could run, under whatever name, or refuses naming the file and line", () => {
        fc.assert(fc.property(stateArb, (state) => {
            const expectedKept = new Set<string>();
            const expect = (named: Named) => keysFor(named).forEach((key) => expectedKept.add(key));
            let flawed = false;
            const holdings: HostHoldings[] = state.hosts.map((host, i) => {
                const name = `ws${i}`;
                const dirs = new Map(host.dirs.map((dir) => [dir.app, dir]));
                for (const dir of dirs.values()) {
                    const considered = [...(dir.deployInfo ? [dir.deployInfo] : []), ...dir.history.slice(state.historyDepth > 0 ? -state.historyDepth : dir.history.length)];
                    considered.forEach(expect);
                    dir.staged.forEach(({ named }) => expect(named));
                    // YAML errors and bad fields anywhere in a history stop it, read or not.
                    flawed ||= (dir.deployInfo !== null && dir.deployInfo.flaw !== "none") ||
                        (state.historyDepth > 0 && dir.history.some((spec) => spec.flaw !== "none"));
                }
                host.containers.forEach(expect);
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
                        lockHeld: dir.lockHeld,
                        staged: dir.staged.map(({ named, target }, job) => ({ job: `job.${job}`,
                            compose: renderCompose("hello-world", helloWorldTemplate, `${named.registryName}/${named.repository}@${named.digest}`, target).content })),
                    })),
                    containerImages: host.containers.map((c) => `${c.registryName}/${c.repository}@${c.digest}`),
                };
            });
            let references;
            try {
                references = collectReferences(holdings, registry, state.historyDepth);
            } catch (error) {
                assert.ok(flawed, `refused a usable state: ${(error as Error).message}`);
                assert.ok(error instanceof CleanupError);
                assert.match(error.message, /rednaw\/[a-z-]+\/deploy-(info|history)\.yml on root@127\.0\.0\.\d+:22 \(workspace ws\d\), line \d+: .*Nothing was deleted/s);
                return;
            }
            assert.ok(!flawed, "a flawed record was accepted");
            const entries: DigestEntry[] = state.inventory.map((e) => ({ ...e, description: null }));
            for (const decision of planCleanup(entries, references, noRetention, now).filter((d) => d.decision === "delete")) {
                assert.ok(!expectedKept.has(referenceKey(decision.repository, decision.digest)), `${decision.repository}@${decision.digest} could run`);
            }
        }), { numRuns: 300 });
    });
});

describe("cleanup references by example", () => {
    const [a, b, c] = ["a", "b", "c"].map((hex) => `sha256:${hex.repeat(64)}`);
    const workspace = parseWorkspace("dev", { "iac:apps": ["hello-world"], "iac:registry": registry, "iac:sshHost": "127.0.0.1",
        "iac:sshUser": "root", "iac:org": "rednaw", "hello-world:image": "rednaw/hello-world", "hello-world:tag": "t" });
    const inventory = (digest: string): DigestEntry[] => repositories.map((repository) => ({ repository, digest, tags: ["t"], created: null, description: null }));
    /** Per repository holding `digest`, the reasons it is kept by, or "delete". */
    const keptBy = (held: Partial<HostHoldings>, digest: string) => planCleanup(inventory(digest),
        collectReferences([{ workspace, host: "root@127.0.0.1:22", appDirs: [], containerImages: [], ...held }], registry, 3), noRetention, now)
        .map((d) => [d.repository, d.decision === "keep" ? d.reasons : "delete"]);

    it("keeps a digest a container pulled through another name of the registry in every repository, saying the name", () => {
        assert.deepStrictEqual(keptBy({ containerImages: [`localhost:5000/rednaw/hello-world@${a}`] }, a),
            repositories.map((repository) => [repository, ["container on dev's host (as localhost:5000/rednaw/hello-world)"]]));
        // Named as written, it stays in its own repository only.
        assert.deepStrictEqual(keptBy({ containerImages: [`${registry}/rednaw/api@${a}`] }, a),
            [["rednaw/api", ["container on dev's host"]], ["rednaw/hello-world", "delete"]]);
    });

    it("keeps the digest of a record that names the registry another way, rather than refusing it", () => {
        const record = renderDeployInfo({ app: "hello-world", workspace: "dev", image: "localhost:5000/rednaw/hello-world", tag: null, digest: b,
            description: "d", deployed_at: "2026-01-25T01:10:00Z", deployed_by: "wander@casa" });
        assert.deepStrictEqual(keptBy({ appDirs: [{ app: "hello-world", deployInfo: record, history: null, lockHeld: false, staged: [] }] }, b),
            repositories.map((repository) => [repository, ["deployed in dev (as localhost:5000/rednaw/hello-world)"]]));
    });

    it("keeps every digest a staged deploy names, saying which job and whether the app's lock is held", () => {
        const compose = renderCompose("hello-world", helloWorldTemplate, `${registry}/rednaw/hello-world@${c}`).content;
        const staged = (lockHeld: boolean) => ({ appDirs: [{ app: "hello-world", deployInfo: null, history: null, lockHeld, staged: [{ job: "job.Ab12Cd34", compose }] }] });
        assert.deepStrictEqual(keptBy(staged(true), c),
            [["rednaw/api", "delete"], ["rednaw/hello-world", ["deploy staged on dev's host (hello-world, job.Ab12Cd34, app lock held)"]]]);
        assert.deepStrictEqual(keptBy(staged(false), c)[1], ["rednaw/hello-world", ["deploy staged on dev's host (hello-world, job.Ab12Cd34)"]]);
    });

    it("reads every whole pinned reference of a staged compose file, in any form, and none cut short", () => {
        const pinned = [`${registry}/rednaw/hello-world@${a}`, `[::1]:5000/rednaw/api@${b}`, `localhost:5000/rednaw/x@${c}`];
        const text = [`services:\n  web:\n    image: ${pinned[0]}\n`, `  api:\n    image: "[::1]:5000/rednaw/api:v1@${b}"\n`,
            `  x:\n    image: '${pinned[2]}'\n`, `  cut:\n    image: ${registry}/rednaw/cut@${a.slice(0, 40)}`].join("");
        assert.deepStrictEqual(parseStagedImages(text).sort(), pinned.sort());
    });
});

describe("host reference scripts", () => {
    /** The script as the host runs it, by a real sh; `asUser` is a command that runs it as another user. */
    const listRecords = (deployRoot: string, asUser: string[] = []) => {
        const [command, ...args] = [...asUser, "sh", "-c", buildListAppRecordsScript(deployRoot, "rednaw")];
        return execFileSync(command, args, { encoding: "utf8", stdio: "pipe" });
    };

    it("lists every app dir with its records and staged deploys byte for byte, and refuses a deploy root or org dir that is not there", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-refs-"));
        try {
            assert.throws(() => listRecords(path.join(root, "missing")), /the deploy root .*missing does not exist on this host/);
            assert.throws(() => listRecords(root), /rednaw does not exist on this host: check iac:org and iac:deployRoot/);
            const tricky = "app x y\n#--- deploy-history.yml ---\n'$(touch pwned)' \0 end";
            for (const [app, info, history] of [["hello-world", tricky, null], ["removed-app", null, "---\nold\n"], ["empty", "", null]] as const) {
                fs.mkdirSync(path.join(root, "rednaw", app), { recursive: true });
                if (info !== null) fs.writeFileSync(path.join(root, "rednaw", app, "deploy-info.yml"), info);
                if (history !== null) fs.writeFileSync(path.join(root, "rednaw", app, "deploy-history.yml"), history);
            }
            fs.writeFileSync(path.join(root, "rednaw", "not-a-dir"), "x");
            // Two deploys staged in hello-world (one with a name that is not framing), one still receiving its bundle.
            const staged = path.join(root, "rednaw", "hello-world", "staged");
            for (const [job, compose] of [["job.Ab12Cd34", tricky], ["job.x y\nz", "image: r/x@sha256:..."], ["job.receiving", null]] as const) {
                fs.mkdirSync(path.join(staged, job), { recursive: true });
                if (compose !== null) fs.writeFileSync(path.join(staged, job, "compose"), compose);
            }
            fs.writeFileSync(path.join(staged, "stray-file"), "x");
            const listed = parseAppRecords(listRecords(root)).sort((a, b) => a.app.localeCompare(b.app));
            assert.deepStrictEqual(listed, [
                { app: "empty", deployInfo: "", history: null, lockHeld: false, staged: [] },
                { app: "hello-world", deployInfo: tricky, history: null, lockHeld: false,
                    staged: [{ job: "job.Ab12Cd34", compose: tricky }, { job: "job.x y\nz", compose: "image: r/x@sha256:..." }] },
                { app: "removed-app", deployInfo: null, history: "---\nold\n", lockHeld: false, staged: [] },
            ]);
            assert.ok(!fs.existsSync("pwned"));
            assert.ok(!fs.existsSync(path.join(root, "rednaw", "empty", ".deploy.lock")), "reading the lock state creates no lock file");
        } finally {
            fs.rmSync(root, { recursive: true });
        }
    });

    it("says an app's lock is held exactly while a process holds it", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-refs-"));
        let holder: ChildProcess | undefined;
        try {
            const lock = path.join(root, "rednaw", "hello-world", ".deploy.lock");
            fs.mkdirSync(path.dirname(lock), { recursive: true });
            fs.writeFileSync(lock, "");
            const held = () => parseAppRecords(listRecords(root))[0].lockHeld;
            assert.strictEqual(held(), false);
            // The deploy's own way: flock on the lock file, exclusive, for as long as the holder runs.
            const started = spawn("flock", [lock, "sh", "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "inherit"] });
            holder = started;
            await new Promise<void>((resolve, reject) => {
                started.stdout!.once("data", () => resolve());
                started.once("exit", (code) => reject(new Error(`flock exited with ${code} before it held the lock`)));
            });
            assert.strictEqual(held(), true);
            started.stdin!.end();
            await new Promise((resolve) => started.once("exit", resolve));
            assert.strictEqual(held(), false);
        } finally {
            holder?.kill();
            fs.rmSync(root, { recursive: true });
        }
    });

    it("refuses an app dir or staged job the SSH user cannot read, rather than taking it for empty", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-refs-"));
        try {
            const job = path.join(root, "rednaw", "hello-world", "staged", "job.Ab12Cd34");
            fs.mkdirSync(job, { recursive: true });
            fs.writeFileSync(path.join(job, "compose"), "x");
            for (const dir of [root, path.join(root, "rednaw"), path.join(root, "rednaw", "hello-world"), path.dirname(job)]) {
                fs.chmodSync(dir, 0o755);
            }
            // Root reads everything: as root, the dir is the deploy user's own (700) and the reader is nobody.
            const asRoot = process.getuid?.() === 0;
            fs.chmodSync(job, asRoot ? 0o700 : 0o000);
            const asUser = asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
            assert.throws(() => listRecords(root, asUser), /cannot read \S*\/staged\/job\.Ab12Cd34 as this SSH user, so whatever it names might be running: connect as the user that deploys/);
            fs.chmodSync(job, 0o700);
            fs.chmodSync(path.join(root, "rednaw"), asRoot ? 0o700 : 0o000);
            assert.throws(() => listRecords(root, asUser), /cannot read \S*\/rednaw as this SSH user/);
        } finally {
            fs.chmodSync(path.join(root, "rednaw"), 0o700);
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
