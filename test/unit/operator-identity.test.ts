// deployed_by names the operator who ran a deploy of a shared stack: IAC_OPERATOR when set, else user@host,
// and never anything that could break the record's line or a terminal.
import * as assert from "assert";
import * as os from "os";
import { operatorIdentity } from "../../components/model/deploy-info";

describe("the operator's identity for deployed_by", () => {
    it("is IAC_OPERATOR when set, of any script, else user@host", () => {
        assert.strictEqual(operatorIdentity({ IAC_OPERATOR: "wander@rednaw.nl" }), "wander@rednaw.nl");
        assert.strictEqual(operatorIdentity({ IAC_OPERATOR: "Zoë Ångström" }), "Zoë Ångström");
        assert.strictEqual(operatorIdentity({}), `${os.userInfo().username}@${os.hostname()}`);
        assert.strictEqual(operatorIdentity({ IAC_OPERATOR: "" }), `${os.userInfo().username}@${os.hostname()}`);
    });

    it("refuses control and format characters, edge white space and length past 128, showing the value escaped", () => {
        assert.throws(() => operatorIdentity({ IAC_OPERATOR: "eve\ndeployed_by: mallory" }),
            /^OperatorIdentityError: IAC_OPERATOR "eve\\u000adeployed_by: mallory" holds a control character: set it to .* or unset it for user@host$/);
        assert.throws(() => operatorIdentity({ IAC_OPERATOR: "eve\u001b[31m" }), /control character/);
        assert.throws(() => operatorIdentity({ IAC_OPERATOR: "eve\u202egro" }), /control character/);
        assert.throws(() => operatorIdentity({ IAC_OPERATOR: " eve" }), /white space/);
        assert.throws(() => operatorIdentity({ IAC_OPERATOR: "e".repeat(129) }), /longer than 128 characters/);
        assert.strictEqual(operatorIdentity({ IAC_OPERATOR: "é".repeat(128) }), "é".repeat(128));
    });
});
