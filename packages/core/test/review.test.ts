// Regressions from a review: each test shows a bug that was fixed, and fails without the fix.
import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { background, Channel, go, sleep, tasks, withCancel, withErrGroup, workerPool } from "@lifeline/core";
import { ticks } from "./support.js";

describe("workerPool.shutdown with a grace beyond setTimeout's range", () => {
  it("does not abort in-flight jobs early (2^31 ms would overflow to 1 ms)", { timeout: 5000 }, async () => {
    const jobs = new Channel<number>(1);
    const release = new Channel<void>();
    const started = new Channel<void>(1);
    const pool = workerPool(
      background(),
      jobs,
      async (ctx) => {
        started.trySend(undefined);
        await release.recv(ctx); // ends when released, or when the pool aborts the job's ctx
      },
      { workers: 1 },
    );
    jobs.trySend(1);
    await started.recv(background());
    const done = pool.shutdown(3e9);
    await sleep(background(), 30); // "not yet": an overflowed timer would have aborted the job by now
    release.close();
    const report = await done;
    assert.equal(report.completed, 1);
    assert.deepEqual(report.aborted, []);
  });
});

describe("ErrGroup with a bad task name", () => {
  it("throws a TypeError and does not count the task, so wait() still resolves", { timeout: 2000 }, async () => {
    const [g] = withErrGroup(background());
    assert.throws(() => g.go(async () => {}, { name: 42 as unknown as string }), /^TypeError: ErrGroup\.go: options\.name must be a string/);
    assert.throws(() => g.tryGo(async () => {}, { name: 42 as unknown as string }), /^TypeError: ErrGroup\.tryGo: options\.name must be a string/);
    await g.wait();
  });
});

describe("a task parked on two waits at once", () => {
  it("stays blocked until both are over", async () => {
    const [ctx, cancel] = withCancel(background());
    const a = new Channel<number>();
    const b = new Channel<number>();
    const t = go(ctx, (ctx) => Promise.all([a.recv(ctx), b.recv(ctx)]), { name: "two-waits" });
    await ticks(3);
    a.trySend(1);
    await ticks(3);
    const live = tasks().find((x) => x.name === "two-waits");
    assert.equal(live?.state, "blocked", "one wait is still parked");
    assert.ok(b.trySend(2), "the second recv is still waiting");
    await t;
    cancel();
  });
});

after(() => assertNoLeaks());
