// The proxy's place on a host and the shell that keeps it running: names derived from the deploy root, the values
// refused before any text is built, the quoting, that the shell parses; and the image's build context
// (images/caddy/prepare-context), which takes only the Caddy that tools/caddy pins.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InvalidValueError } from "../../components/model/invalid-value";
import { InvalidReferenceError } from "../../components/registry/errors";
import { ensureProxyRunning, observeProxy, proxyAdminOf, proxyContainerName, proxyHostDir } from "../../components/remote/proxy-host";
import { script } from "../../components/remote/shell";

const projectRoot = path.resolve(__dirname, "..", "..");
const digest = `sha256:${"ab".repeat(32)}`;
const ref = `127.0.0.1:5000/iac/caddy@${digest}`;
const parses = (text: string) => spawnSync("sh", ["-n"], { input: text }).status === 0;

describe("the proxy's place on a host", () => {
    it("is one dir per deploy root, however the root is spelled, with the admin socket in it", () => {
        const dir = proxyHostDir("/opt");
        assert.strictEqual(path.dirname(dir), "/opt");
        assert.strictEqual(proxyHostDir("/opt/."), dir);
        assert.strictEqual(proxyHostDir("/opt/"), dir);
        assert.notStrictEqual(proxyHostDir("/srv"), dir);
        assert.strictEqual(path.dirname(proxyAdminOf("/opt").socket), dir);
    });

    it("names the container from the dir: one per deploy root, a name docker takes", () => {
        const name = proxyContainerName("/opt");
        assert.match(name, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
        assert.strictEqual(proxyContainerName("/opt/."), name);
        assert.notStrictEqual(proxyContainerName("/srv"), name);
        assert.notStrictEqual(proxyContainerName("/opt/iac"), name);
    });

    it("refuses a deploy root that is no plain absolute path, or whose socket path a unix socket cannot hold", () => {
        for (const root of ["opt", "/opt/../etc", "/opt'; rm -rf /", "/opt $(id)", `/${"a".repeat(100)}`]) {
            assert.throws(() => proxyHostDir(root), InvalidValueError, root);
            assert.throws(() => ensureProxyRunning({ deployRoot: root, ref }), InvalidValueError, root);
            assert.throws(() => observeProxy(root), InvalidValueError, root);
        }
        const longest = `/${"a".repeat(107 - "/.proxy/admin.sock".length - 1)}`;
        assert.strictEqual(Buffer.byteLength(proxyAdminOf(longest).socket), 107);
    });
});

describe("ensureProxyRunning and observeProxy", () => {
    it("refuses every image that is not registry/repository@digest before any text is built", () => {
        for (const bad of [
            "127.0.0.1:5000/iac/caddy:v2.11.9",
            "127.0.0.1:5000/iac/caddy",
            "iac/caddy@" + digest, // docker reads a first part without '.', ':' or localhost as a Docker Hub path
            "caddy@" + digest,
            `127.0.0.1:5000/iac/caddy@sha256:${"AB".repeat(32)}`,
            `127.0.0.1:5000/iac/caddy@sha256:${"ab".repeat(16)}`,
            `127.0.0.1:5000/iac/caddy@sha256:${"ab".repeat(31)}'$(id)'`,
            `127.0.0.1:5000/Iac/caddy@${digest}`,
            `127.0.0.1:5000/iac/caddy;id@${digest}`,
        ]) {
            assert.throws(() => ensureProxyRunning({ deployRoot: "/opt", ref: bad }), InvalidReferenceError, bad);
        }
        assert.doesNotThrow(() => ensureProxyRunning({ deployRoot: "/opt", ref: `localhost/iac/caddy@${digest}` }));
        assert.doesNotThrow(() => ensureProxyRunning({ deployRoot: "/opt", ref: `registry.example.com/iac/caddy@${digest}` }));
    });

    it("puts each value into the shell once, single-quoted, and parses", () => {
        const text = script(ensureProxyRunning({ deployRoot: "/opt", ref }));
        assert.deepStrictEqual(text.split("\n").filter((line) => line.includes(ref)), [`proxy_ref='${ref}'`]);
        assert.deepStrictEqual(text.split("\n").filter((line) => line.includes(digest) && !line.includes(ref)), [`proxy_digest='${digest}'`]);
        assert.deepStrictEqual(text.split("\n").filter((line) => line.includes(proxyContainerName("/opt"))), [`proxy_name='${proxyContainerName("/opt")}'`]);
        assert.ok(parses(text));
        assert.ok(parses(script(observeProxy("/opt"))));
    });

    it("runs the container with host networking, restarted unless stopped, its dir mounted, marked as ours", () => {
        const run = ensureProxyRunning({ deployRoot: "/opt", ref }).find((line) => line.includes("docker run"))!;
        for (const part of ["-d", "--network host", "--restart unless-stopped", "--label \"iac.proxy.dir=$proxy_dir\"",
            "--mount \"type=bind,source=$proxy_dir,target=/run/iac-proxy\"", "\"$proxy_ref\""]) {
            assert.ok(run.includes(part), `${part} in ${run}`);
        }
    });

    it("waits a bounded time for the admin API on the host's socket", () => {
        const lines = ensureProxyRunning({ deployRoot: "/opt", ref });
        const wait = lines.find((line) => line.includes("--unix-socket"))!;
        assert.ok(wait.includes(`--unix-socket '${proxyAdminOf("/opt").socket}'`) && wait.includes("/config/"), wait);
        assert.ok(lines.some((line) => /^proxy_deadline=\$\(\(\$\(date \+%s\) \+ [0-9]+\)\)$/.test(line)), "the wait has a deadline");
        assert.ok(lines.some((line) => line.includes('[ "$(date +%s)" -ge "$proxy_deadline" ]')), "the wait ends at its deadline");
    });

    it("gives up at its deadline on a proxy that never answers, naming the socket and the proxy's last words", () => {
        // Stand-ins: docker finds no proxy and starts one, whose log says why it never listens; curl never connects;
        // the clock moves 10 s per reading, so the deadline comes after a few tries instead of 30 s.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iac-proxy-host-"));
        try {
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            const standIn = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
            standIn("docker", `echo "$*" >> ${dir}/docker.log\ncase $1 in logs) echo 'Error: loading initial config: permission denied' ;; esac`);
            standIn("curl", "exit 7");
            standIn("date", `n=$(cat ${dir}/clock 2>/dev/null || echo 1000); echo $((n + 10)) > ${dir}/clock; echo $n`);
            standIn("sleep", "exit 0");
            const deployRoot = path.join(dir, "opt");
            const lines = ensureProxyRunning({ deployRoot, ref });
            const bound = /^proxy_deadline=\$\(\(\$\(date \+%s\) \+ ([0-9]+)\)\)$/.exec(lines.find((line) => line.startsWith("proxy_deadline="))!)![1];
            const result = spawnSync("sh", ["-c", script("set -eu", "say() { echo \"$*\" >&2; }", "fail() { say \"$1\"; exit 1; }", lines)],
                { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
            assert.strictEqual(result.status, 1, result.stderr);
            assert.ok(result.stderr.includes(`the proxy ${proxyContainerName(deployRoot)} did not answer on its admin socket ` +
                `${proxyAdminOf(deployRoot).socket} within ${bound} s; its last words: Error: loading initial config: permission denied`), result.stderr);
            const calls = fs.readFileSync(path.join(dir, "docker.log"), "utf8").split("\n").map((line) => line.split(" ")[0]);
            assert.deepStrictEqual(calls.filter((call) => call === "run").length, 1);
            assert.strictEqual(fs.statSync(proxyHostDir(deployRoot)).mode & 0o777, 0o700);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("images/caddy/prepare-context", () => {
    const prepare = path.join(projectRoot, "images", "caddy", "prepare-context");
    const pinned = /^require github\.com\/caddyserver\/caddy\/v2 (v\S+)$/m.exec(fs.readFileSync(path.join(projectRoot, "tools", "caddy", "go.mod"), "utf8"))![1];

    /** Runs prepare-context against a checkout whose .tools/bin/caddy prints `version` (none when undefined). */
    function run(version: string | undefined) {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-prepare-"));
        try {
            fs.mkdirSync(path.join(root, "tools", "caddy"), { recursive: true });
            fs.copyFileSync(path.join(projectRoot, "tools", "caddy", "go.mod"), path.join(root, "tools", "caddy", "go.mod"));
            if (version !== undefined) {
                fs.mkdirSync(path.join(root, ".tools", "bin"), { recursive: true });
                fs.writeFileSync(path.join(root, ".tools", "bin", "caddy"), `#!/bin/sh\necho '${version} h1:stand-in'\n`, { mode: 0o755 });
            }
            const context = path.join(root, "context");
            fs.mkdirSync(context);
            const result = spawnSync(prepare, [context], { encoding: "utf8", env: { ...process.env, BUILD_IMAGE_ROOT: root } });
            return { status: result.status, stderr: result.stderr, copied: fs.readdirSync(context) };
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    }

    it("puts the Caddy tools/caddy pins into the context", () => {
        assert.deepStrictEqual(run(pinned), { status: 0, stderr: "", copied: ["caddy"] });
    });

    it("refuses a Caddy of another version, or none, naming scripts/install-tools", () => {
        const other = run("v2.0.0");
        assert.strictEqual(other.status, 1);
        assert.match(other.stderr, new RegExp(`is Caddy v2\\.0\\.0, tools/caddy/go\\.mod pins ${pinned.replace(/\./g, "\\.")}: run scripts/install-tools`));
        assert.deepStrictEqual(other.copied, []);
        const none = run(undefined);
        assert.strictEqual(none.status, 1);
        assert.match(none.stderr, /no .*\.tools\/bin\/caddy: run scripts\/install-tools/);
    });
});
