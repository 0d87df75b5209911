// The one bound on requests in flight that registry:overview shares across the repositories it lists at once.
import * as assert from "assert";
import { ConcurrencyLimit, mapWithLimit } from "../../components/registry/listing";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("ConcurrencyLimit", () => {
    it("never runs more than its bound, however many callers share it", async () => {
        const limit = new ConcurrencyLimit(3);
        let running = 0;
        let most = 0;
        const task = async () => {
            running++;
            most = Math.max(most, running);
            await tick();
            running--;
        };
        // Five "repositories", each with its own workers, as listRepositoryTags runs them.
        await Promise.all(Array.from({ length: 5 }, () => mapWithLimit(Array.from({ length: 20 }), limit.limit, () => limit.run(task))));
        assert.strictEqual(most, 3);
        assert.strictEqual(running, 0);
    });

    it("hands a slot to the longest waiting task, and frees it when a task fails", async () => {
        const limit = new ConcurrencyLimit(1);
        const order: number[] = [];
        const failed = limit.run(async () => {
            await tick();
            throw new Error("registry down");
        });
        const later = [1, 2, 3].map((n) => limit.run(async () => {
            order.push(n);
        }));
        await assert.rejects(failed, /registry down/);
        await Promise.all(later);
        assert.deepStrictEqual(order, [1, 2, 3]);
        assert.strictEqual(await limit.run(async () => "free again"), "free again");
    });
});
