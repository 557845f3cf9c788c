import { after, describe, it, type TestContext } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import {
  background,
  Canceled,
  DeadlineExceeded,
  Task,
  TaskError,
  tasks,
  WaitGroup,
  withCancelCause,
  withDeadline,
  withTimeout,
  type CancelFunc,
  type Context,
} from "@lifeline/core";
import {
  assertNoTasks,
  cancellable,
  cancelled,
  deferred,
  delay,
  keepAlive,
  recordFailures,
  ticks,
  track,
} from "./support.js";

after(() => assertNoTasks());

// ---- add / done / wait -----------------------------------------------------------------------------------------

describe("WaitGroup", () => {
  it("resolves wait at once when the counter is already zero", async (t) => {
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    assert.equal(wg.count, 0);
    const w = track(wg.wait(ctx));
    await ticks(1);
    assert.equal(w.state, "fulfilled");
  });

  it("resolves wait when done brings the counter back to zero, not before", async (t) => {
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    wg.add(2);
    assert.equal(wg.count, 2);
    const w = track(wg.wait(ctx));
    wg.done();
    assert.equal(wg.count, 1);
    await delay(5);
    assert.equal(w.state, "pending");
    wg.done();
    assert.equal(wg.count, 0);
    await ticks(2);
    assert.equal(w.state, "fulfilled");
  });

  it("releases every waiter when the counter reaches zero", async (t) => {
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    wg.add(3);
    const waits = [track(wg.wait(ctx)), track(wg.wait(ctx)), track(wg.wait(background()))];
    wg.add(-3);
    await ticks(2);
    assert.deepEqual(
      waits.map((w) => w.state),
      ["fulfilled", "fulfilled", "fulfilled"],
    );
  });

  it("adds 1 by default", () => {
    const wg = new WaitGroup();
    wg.add();
    assert.equal(wg.count, 1);
    wg.done();
    assert.equal(wg.count, 0);
  });

  it("can be reused after reaching zero", async (t) => {
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    wg.add(1);
    wg.done();
    await wg.wait(ctx);
    wg.add(1);
    const w = track(wg.wait(ctx));
    await delay(5);
    assert.equal(w.state, "pending");
    wg.done();
    await ticks(2);
    assert.equal(w.state, "fulfilled");
  });

  describe("rejects wait with ctx.err() when ctx ends first", () => {
    const cases: [what: string, end: (t: TestContext) => Context, err: Error][] = [
      [
        "cancelled",
        (t) => {
          const [ctx, cancel] = cancellable(t);
          queueMicrotask(cancel);
          return ctx;
        },
        Canceled,
      ],
      [
        "cancelled with a cause (err is still Canceled)",
        (t) => {
          const [ctx, cancel] = withCancelCause(background());
          t.after(() => cancel());
          queueMicrotask(() => cancel(new Error("shutting down")));
          return ctx;
        },
        Canceled,
      ],
      [
        "past its deadline",
        (t) => {
          const [ctx, cancel] = withTimeout(background(), 5);
          t.after(cancel);
          keepAlive(t);
          return ctx;
        },
        DeadlineExceeded,
      ],
    ];
    for (const [what, end, err] of cases) {
      it(`when ctx is ${what}`, async (t) => {
        const wg = new WaitGroup();
        wg.add(1);
        const ctx = end(t);
        await assert.rejects(wg.wait(ctx), (e) => e === err);
        assert.equal(wg.count, 1, "an ended wait changed the counter");
        // The group still works: a later wait resolves once the counter reaches zero.
        const w = track(wg.wait(background()));
        wg.done();
        await ticks(2);
        assert.equal(w.state, "fulfilled");
      });
    }
  });

  describe("rejects wait at once when ctx has already ended", () => {
    const cases: [what: string, make: () => [Context, CancelFunc], err: Error][] = [
      ["cancelled", cancelled, Canceled],
      ["past its deadline", () => withDeadline(background(), Date.now() - 1), DeadlineExceeded],
    ];
    for (const [what, make, err] of cases) {
      it(`when ctx is ${what}`, async (t) => {
        const [ctx, cancel] = make();
        t.after(cancel);
        const wg = new WaitGroup();
        wg.add(1);
        const w = track(wg.wait(ctx));
        await ticks(1);
        assert.equal(w.state, "rejected");
        assert.equal(w.error, err);
        wg.done();
      });
    }
  });

  it("leaves other waiters waiting when one waiter's ctx ends", async (t) => {
    const [a, cancelA] = cancellable(t);
    const [b] = cancellable(t);
    const wg = new WaitGroup();
    wg.add(1);
    const wa = track(wg.wait(a));
    const wb = track(wg.wait(b));
    cancelA();
    await ticks(2);
    assert.equal(wa.state, "rejected");
    assert.equal(wb.state, "pending");
    wg.done();
    await ticks(2);
    assert.equal(wb.state, "fulfilled");
  });

  it("throws when the counter would go negative, leaving it unchanged", () => {
    const wg = new WaitGroup();
    assert.throws(() => wg.done(), (e: unknown) => e instanceof Error && /negative/.test(e.message));
    assert.equal(wg.count, 0);
    wg.add(1);
    assert.throws(() => wg.add(-2), /negative/);
    assert.equal(wg.count, 1);
    wg.done();
  });

  describe("rejects a delta that is not an integer with a TypeError", () => {
    for (const bad of [1.5, NaN, Infinity, "1" as unknown as number, null as unknown as number]) {
      it(`add(${String(bad)})`, () => {
        const wg = new WaitGroup();
        assert.throws(() => wg.add(bad), (e: unknown) => e instanceof TypeError && /WaitGroup\.add/.test(e.message));
        assert.equal(wg.count, 0);
      });
    }
  });

  it("rejects a wait ctx that is not a Context with a TypeError", () => {
    const wg = new WaitGroup();
    assert.throws(() => wg.wait({} as Context), TypeError);
  });
});

// ---- WaitGroup.go ----------------------------------------------------------------------------------------------

describe("WaitGroup.go", () => {
  const outcomes: [what: string, fn: (gate: Promise<void>) => () => unknown, fails: boolean][] = [
    ["returns", (gate) => async () => await gate, false],
    [
      "throws after awaiting",
      (gate) => async () => {
        await gate;
        throw new Error("job failed");
      },
      true,
    ],
    [
      "rejects",
      (gate) => () => gate.then(() => Promise.reject(new Error("job failed"))),
      true,
    ],
  ];
  for (const [what, fn, fails] of outcomes) {
    it(`counts the task while it runs and counts it down when fn ${what}`, async (t) => {
      recordFailures(t);
      const [ctx] = cancellable(t);
      const wg = new WaitGroup();
      const gate = deferred();
      const task = wg.go(ctx, fn(gate.promise));
      assert.ok(task instanceof Task);
      assert.equal(wg.count, 1);
      const w = track(wg.wait(ctx));
      await delay(5);
      assert.equal(w.state, "pending");
      assert.equal(wg.count, 1);
      gate.resolve();
      const outcome = await task.then(
        () => "fulfilled",
        () => "rejected",
      );
      assert.equal(outcome, fails ? "rejected" : "fulfilled");
      await ticks(3);
      assert.equal(wg.count, 0);
      assert.equal(w.state, "fulfilled");
    });
  }

  it("counts down when fn throws synchronously", async (t) => {
    recordFailures(t);
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    const task = wg.go(ctx, () => {
      throw new Error("sync");
    });
    await wg.wait(ctx);
    assert.equal(wg.count, 0);
    await assert.rejects(async () => await task, /sync/);
  });

  it("still reports an unawaited failure to the task failure handler, once, with the task's name", async (t) => {
    const { reports, first } = recordFailures(t);
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    const boom = new Error("boom");
    const task = wg.go(ctx, () => Promise.reject(boom), { name: "uploader" });
    await wg.wait(ctx);
    const { error } = await first;
    assert.ok(error instanceof TaskError);
    assert.match(error.message, /uploader/);
    assert.equal(error.cause, boom);
    assert.equal(error.task, task);
    await delay(20);
    assert.equal(reports.length, 1);
  });

  it("does not report a failure whose handle is awaited", async (t) => {
    const { reports } = recordFailures(t);
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    const task = wg.go(ctx, () => Promise.reject(new Error("seen")));
    await assert.rejects(async () => await task, /seen/);
    await wg.wait(ctx);
    await delay(20);
    assert.deepEqual(reports, []);
  });

  it("runs fn as a named task in the registry under the given ctx", async (t) => {
    const [ctx] = cancellable(t);
    const wg = new WaitGroup();
    const gate = deferred();
    const task = wg.go(ctx, async function crawl() {
      await gate.promise;
      return "crawled";
    });
    assert.equal(task.name, "crawl");
    assert.ok(tasks().includes(task));
    gate.resolve();
    assert.equal(await task, "crawled");
    await wg.wait(ctx);
  });

  it("throws a TypeError and leaves the counter unchanged when fn is not a function", () => {
    const wg = new WaitGroup();
    assert.throws(() => wg.go(background(), 42 as unknown as () => void), TypeError);
    assert.equal(wg.count, 0);
  });
});

after(() => assertNoLeaks());
