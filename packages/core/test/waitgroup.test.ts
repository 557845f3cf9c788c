import { after, describe, it, type TestContext } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import {
  background,
  Canceled,
  DeadlineExceeded,
  setTaskFailureHandler,
  Task,
  TaskError,
  tasks,
  WaitGroup,
  withCancel,
  withCancelCause,
  withDeadline,
  withTimeout,
  type CancelFunc,
  type Context,
} from "@lifeline/core";

// ---- helpers ---------------------------------------------------------------------------------------------------

type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void };

/** deferred is Promise.withResolvers, which Node 20 lacks. */
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function cancellable(t: TestContext): [Context, CancelFunc] {
  const [ctx, cancel] = withCancel(background());
  t.after(cancel);
  return [ctx, cancel];
}

type State<T> = { state: "pending" | "fulfilled" | "rejected"; value: T | undefined; error: unknown };

/** track records how a promise settles, so a test can assert "not yet" without awaiting it. */
function track<T>(p: Promise<T>): State<T> {
  const s: State<T> = { state: "pending", value: undefined, error: undefined };
  p.then(
    (v) => {
      s.state = "fulfilled";
      s.value = v;
    },
    (e: unknown) => {
      s.state = "rejected";
      s.error = e;
    },
  );
  return s;
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** keepAlive holds the event loop open until the test ends: deadline timers never do (withDeadline's TSDoc). */
function keepAlive(t: TestContext): void {
  const timer = setInterval(() => {}, 1_000);
  t.after(() => clearInterval(timer));
}

function recordFailures(t: TestContext): { reports: { error: TaskError; task: Task<unknown> }[]; first: Promise<TaskError> } {
  const reports: { error: TaskError; task: Task<unknown> }[] = [];
  const first = deferred<TaskError>();
  const previous = setTaskFailureHandler((error, task) => {
    reports.push({ error, task });
    first.resolve(error);
  });
  t.after(() => setTaskFailureHandler(previous));
  return { reports, first: first.promise };
}

after(() => {
  assert.deepEqual(
    tasks().map((x) => `${x.id} ${x.name}`),
    [],
  );
});

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
      [
        "cancelled",
        () => {
          const [ctx, cancel] = withCancel(background());
          cancel();
          return [ctx, cancel];
        },
        Canceled,
      ],
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
    const error = await first;
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
