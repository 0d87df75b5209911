// `npm run demo -- --team` as root from a checkout in a directory only root can enter (a clone in a `mktemp -d`
// directory, mode 700), then `npm run demo -- --stop`. hello-world is served through the host's proxy, whose image
// the demo builds from that checkout (which has no .git) on the URL it prints. PostgreSQL runs as the postgres user, who cannot reach
// anything inside such a checkout, so its files must live elsewhere, and go with the demo's other services. The
// demo's host is new on every run, so what an earlier demo left in its deploy root never stops it.
// The checkout is this one's files (tracked and new, as a clone of this work would hold them); its node_modules are
// hard links to this checkout's (npm ci there would replace them, never write through them) and its .tools a link
// to this checkout's, as the toolchain takes minutes to build.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readWorkspace } from "../../components/model/workspace";
import { proxyContainerName } from "../../components/remote/proxy-host";

const projectRoot = path.resolve(__dirname, "..", "..");

describe("the demo with --team, run as root from a checkout only root can enter", function () {
    this.timeout(900_000);
    let closed: string;
    let checkout: string;

    const run = (command: string, args: string[]) => spawnSync(command, args, { cwd: checkout, encoding: "utf8", maxBuffer: 64 << 20 });
    const demoConfig = (key: string) => {
        const got = run("bash", ["-c", `source .demo/env && pulumi config get ${key}`]);
        assert.strictEqual(got.status, 0, `${got.stdout}${got.stderr}`);
        return got.stdout.trim();
    };
    const stateStoreDir = () => (JSON.parse(fs.readFileSync(path.join(checkout, ".demo", "state-store.json"), "utf8")) as { dir: string }).dir;

    before(() => {
        assert.strictEqual(process.getuid?.(), 0, "this case is root's: run the suite as root (as scripts/test does on CI)");
        closed = fs.mkdtempSync(path.join(os.tmpdir(), "iac-e2e-demo-"));
        assert.strictEqual(fs.statSync(closed).mode & 0o777, 0o700, "mktemp -d makes a directory only its owner can enter");
        checkout = path.join(closed, "iac");
        fs.mkdirSync(checkout);
        // Modification times kept, so that scripts/setup sees the packages as installed from this package-lock.json.
        execFileSync("sh", ["-c", 'git -C "$1" ls-files -z --cached --others --exclude-standard | ' +
            'tar -C "$1" --null --ignore-failed-read -T - -cf - | tar -C "$2" -xpf -', "sh", projectRoot, checkout]);
        execFileSync("cp", ["-al", path.join(projectRoot, "node_modules"), path.join(checkout, "node_modules")]);
        fs.symlinkSync(path.join(projectRoot, ".tools"), path.join(checkout, ".tools"));
        // What an earlier demo leaves on its host: an app dir whose owner is that demo's stack, gone with its .demo.
        const earlier = path.join(readWorkspace("dev", checkout).host.deployRoot, "rednaw", "hello-world");
        fs.mkdirSync(earlier, { recursive: true });
        fs.writeFileSync(path.join(earlier, ".owner"), "id: 00000000-earlier-demo\n");
    });
    after(() => {
        if (checkout && fs.existsSync(path.join(checkout, ".demo"))) {
            run("npm", ["run", "demo", "--", "--stop"]);
        }
        if (closed) {
            fs.rmSync(closed, { recursive: true, force: true });
        }
    });

    it("deploys with its state in PostgreSQL, whose files are outside the checkout, hello-world served on the URL it prints", async () => {
        const demo = run("npm", ["run", "demo", "--", "--team"]);
        assert.strictEqual(demo.status, 0, `${demo.stdout}${demo.stderr}`);
        assert.match(demo.stdout, /hello-world runs; roll back by config/);
        const dev = readWorkspace("dev", checkout);
        const app = dev.apps.find((each) => each.name === "hello-world")!;
        assert.ok(app.proxy && dev.proxy, "Pulumi.dev.yaml serves hello-world through the proxy");
        const served = /==> hello-world is served on (\S+)/.exec(demo.stdout);
        assert.ok(served, "the demo prints the URL hello-world is served on");
        assert.strictEqual(served[1], `http://${dev.proxy.address}:${app.proxy.port}/`, "the proxy's address and port for hello-world");
        // The tag Pulumi.dev.yaml names is the one the demo pushed: the same images/caddy gives the same tag.
        assert.strictEqual(demoConfig("iac:proxyImage"), `${dev.proxy.repository}:${dev.proxy.tag}`);
        const page = await fetch(served[1]);
        const body = await page.text();
        assert.strictEqual(page.status, 200, body);
        assert.match(body, /<h1>hello-world<\/h1>/);
        assert.ok(body.includes(`<code id="version">${demoConfig("hello-world:tag")}</code>`), `the deployed version: ${body}`);

        const storeDir = stateStoreDir();
        assert.ok(!path.resolve(storeDir).startsWith(closed + path.sep), `${storeDir} is outside ${closed}`);
        assert.ok(fs.existsSync(path.join(storeDir, "data", "PG_VERSION")), "PostgreSQL's data dir is there");
        // As the demo tells the operator to go on: its env file, the stack's state read back from the store.
        const overview = run("bash", ["-c", "source .demo/env && pulumi stack output overview"]);
        assert.strictEqual(overview.status, 0, `${overview.stdout}${overview.stderr}`);
        assert.match(overview.stdout, /^→ /m);
    });

    it("stops PostgreSQL with the other services and removes its files", () => {
        const storeDir = stateStoreDir();
        const stop = run("npm", ["run", "demo", "--", "--stop"]);
        assert.strictEqual(stop.status, 0, `${stop.stdout}${stop.stderr}`);
        assert.match(stop.stdout, /stopping postgres/);
        assert.ok(stop.stdout.includes(`removing the proxy container ${proxyContainerName(readWorkspace("dev", checkout).host.deployRoot)}`), stop.stdout);
        assert.ok(!fs.existsSync(storeDir), `${storeDir} removed`);
        assert.ok(!fs.existsSync(path.join(checkout, ".demo", "state-store.json")), "nothing left to stop");
        assert.ok(!fs.existsSync(readWorkspace("dev", checkout).host.deployRoot), "the demo host's deploy root went with it");
    });
});
