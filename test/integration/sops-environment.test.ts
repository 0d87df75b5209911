// An app's environment from a SOPS file, decrypted by the real sops with real age keys.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SopsFileError, decryptEnvironmentFile } from "../../components/model/sops-environment";
import { AgeKey, newAgeKey, writeSopsFile } from "../helpers/sops";

const secretValue = "sk-live-7c1e0f9a";

describe("decryptEnvironmentFile (a SOPS file as an app's environment)", function () {
    this.timeout(60_000);
    let root: string;
    let operator: AgeKey;
    let stranger: AgeKey;
    const file = "apps/hello-world/secrets.sops.yaml";
    const asOperator = { env: { PATH: process.env.PATH, HOME: os.tmpdir(), SOPS_AGE_KEY_FILE: "" } };

    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "iac-sops-"));
        operator = newAgeKey(root, "operator");
        stranger = newAgeKey(root, "stranger");
        asOperator.env.SOPS_AGE_KEY_FILE = operator.file;
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    const write = (text: string, name = file) => writeSopsFile(path.join(root, name), text, [operator]);
    const refusal = (run: () => unknown, pattern: RegExp) => {
        assert.throws(run, (error: Error) => {
            assert.ok(error instanceof SopsFileError, String(error));
            assert.match(error.message, pattern);
            assert.ok(!error.message.includes(secretValue), error.message);
            return true;
        });
    };

    it("gives the file's variables with the operator's key", () => {
        write(`API_KEY: ${secretValue}\nGREETING: "hello # not a comment"\nPORT: "8080"\n`);
        assert.deepStrictEqual(decryptEnvironmentFile(root, file, asOperator),
            { API_KEY: secretValue, GREETING: "hello # not a comment", PORT: "8080" });
    });

    it("refuses with a key that is not among the recipients, or none, saying how to get access", () => {
        write(`API_KEY: ${secretValue}\n`);
        refusal(() => decryptEnvironmentFile(root, file, { env: { ...asOperator.env, SOPS_AGE_KEY_FILE: stranger.file } }),
            /cannot be decrypted: no key could decrypt it.*sops updatekeys apps\/hello-world\/secrets\.sops\.yaml/);
        refusal(() => decryptEnvironmentFile(root, file, { env: { PATH: process.env.PATH, HOME: root } }),
            /no key could decrypt it/);
    });

    it("refuses a file in clear without quoting it", () => {
        fs.writeFileSync(path.join(root, "apps/clear.yaml"), `API_KEY: ${secretValue}\n`);
        refusal(() => decryptEnvironmentFile(root, "apps/clear.yaml", asOperator), /is not a SOPS file.*sops --encrypt --in-place/);
        fs.writeFileSync(path.join(root, "apps/broken.yaml"), `API_KEY: [${secretValue}\n`);
        refusal(() => decryptEnvironmentFile(root, "apps/broken.yaml", asOperator), /is not valid YAML or JSON/);
    });

    it("refuses a file edited without sops", () => {
        write(`API_KEY: ${secretValue}\nOTHER: x\n`, "apps/edited.sops.yaml");
        const edited = path.join(root, "apps/edited.sops.yaml");
        const encrypted = fs.readFileSync(edited, "utf8");
        // A variable removed by hand: every value still decrypts, the MAC over them no longer matches.
        fs.writeFileSync(edited, encrypted.replace(/^OTHER: ENC\[[^\]]*\]\n/m, ""));
        refusal(() => decryptEnvironmentFile(root, "apps/edited.sops.yaml", asOperator), /cannot be decrypted: its MAC does not match/);
        fs.writeFileSync(edited, encrypted.replace(/^OTHER: ENC\[[^\]]*\]$/m, "OTHER: typed-in-clear"));
        refusal(() => decryptEnvironmentFile(root, "apps/edited.sops.yaml", asOperator), /a value cannot be decrypted: it was edited without sops/);
    });

    it("names a value that is not a string, and a name compose cannot take, never the value", () => {
        write(`API_KEY: ${secretValue}\nPORT: 8080\nbad-name: ${secretValue}\nLIST: [${secretValue}]\n`, "apps/typed.sops.yaml");
        refusal(() => decryptEnvironmentFile(root, "apps/typed.sops.yaml", asOperator),
            /"PORT" is a number: every value is a string.*"bad-name" is not \[A-Za-z_\].*"LIST" is a list/);
    });

    it("says what is wrong with a path before running sops", () => {
        refusal(() => decryptEnvironmentFile(root, "apps/missing.sops.yaml", asOperator), /cannot be read \(ENOENT\)/);
        refusal(() => decryptEnvironmentFile(root, "apps/secrets.env", asOperator), /expected a \.yaml, \.yml or \.json SOPS file/);
    });
});
