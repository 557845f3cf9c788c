import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers/promises";
import {
  Canceled,
  cause,
  ErrGroup,
  sleep,
  tasks,
  withErrGroup,
  type Context,
} from "@lifeline/core";
import { assertNoTasks, cancellable, deferred, delay, ended, recordFailures, ticks, track } from "./support.js";

after(() => assertNoTasks());

// ---- errors and cancellation -----------------------------------------------------------------------------------

describe("withErrGroup", () => {
  it("returns a group and its ctx, derived from the parent", async (t) => {
    const [parent, cancelParent] = cancellable(t);
    const [g, ctx] = withErrGroup(parent);
    assert.ok(g instanceof ErrGroup);
    assert.equal(g.ctx, ctx);
    assert.equal(ctx.err(), undefined);
    const seen = deferred<Context>();
    void g.go(async (c) => {
      seen.resolve(c);
      await sleep(c, Infinity).catch(() => {});
    });
    const c = await seen.promise;
    cancelParent();
    assert.equal(ctx.err(), Canceled, "the group ctx did not end with its parent");
    assert.equal(c.err(), Canceled, "the task ctx did not end with the group ctx");
    await g.wait();
  });

  describe("makes the first error wait's rejection and the cause of its ctx", () => {
    const first = new Error("first");
    const second = new Error("second");
    const orders: [what: string, order: [number, number]][] = [
      ["when the first task started fails first", [0, 1]],
      ["when the last task started fails first", [1, 0]],
    ];
    for (const [what, order] of orders) {
      it(what, async (t) => {
        const { reports } = recordFailures(t);
        const [parent] = cancellable(t);
        const [g, ctx] = withErrGroup(parent);
        const gates = [deferred(), deferred()];
        const watcherSaw = deferred<unknown>();
        // Two tasks that fail when told to, and one that only stops when the group's ctx ends.
        void g.go(async () => {
          await gates[0]!.promise;
          throw order[0] === 0 ? first : second;
        });
        void g.go(async () => {
          await gates[1]!.promise;
          throw order[0] === 1 ? first : second;
        });
        void g.go(async (c) => {
          try {
            await sleep(c, Infinity);
          } catch (e) {
            watcherSaw.resolve(e);
            throw e;
          }
        });
        const w = track(g.wait());
        gates[order[0]]!.resolve();
        await ended(ctx);
        assert.equal(ctx.err(), Canceled);
        assert.equal(cause(ctx), first);
        assert.equal(await watcherSaw.promise, Canceled, "the other tasks did not see the group's ctx end");
        await delay(5);
        assert.equal(w.state, "pending", "wait returned before every task finished");
        gates[order[1]]!.resolve();
        await assert.rejects(g.wait(), (e) => e === first);
        await ticks(2);
        assert.equal(w.state, "rejected");
        assert.equal(w.error, first);
        assert.equal(cause(ctx), first, "wait replaced the cause");
        await delay(20);
        assert.deepEqual(reports, [], "task errors owned by the group were also reported as unawaited");
      });
    }
  });

  it("takes a synchronous throw as a task error", async (t) => {
    const [parent] = cancellable(t);
    const [g, ctx] = withErrGroup(parent);
    const boom = new Error("sync");
    void g.go(() => {
      throw boom;
    });
    await assert.rejects(g.wait(), (e) => e === boom);
    assert.equal(cause(ctx), boom);
  });

  it("cancels its ctx when wait returns, even without errors", async (t) => {
    const [parent] = cancellable(t);
    const [g, ctx] = withErrGroup(parent);
    const gate = deferred();
    let taskCtx: Context | undefined;
    void g.go(async (c) => {
      taskCtx = c;
      await gate.promise;
      assert.equal(c.err(), undefined, "the ctx ended while a task was running");
    });
    const w = g.wait();
    await ticks(3);
    assert.equal(ctx.err(), undefined);
    gate.resolve();
    await w;
    assert.equal(ctx.err(), Canceled);
    assert.equal(cause(ctx), Canceled);
    assert.equal(taskCtx?.err(), Canceled);
    assert.equal(parent.err(), undefined, "the group cancelled its parent");
  });

  it("resolves wait at once with no tasks, and cancels its ctx", async (t) => {
    const [parent] = cancellable(t);
    const [g, ctx] = withErrGroup(parent);
    const w = track(g.wait());
    await ticks(1);
    assert.equal(w.state, "fulfilled");
    assert.equal(ctx.err(), Canceled);
  });

  it("rejects a parent that is not a Context with a TypeError", () => {
    assert.throws(() => withErrGroup({} as Context), (e: unknown) => e instanceof TypeError && /withErrGroup/.test(e.message));
  });
});

// ---- bounded concurrency ---------------------------------------------------------------------------------------

describe("ErrGroup.setLimit", () => {
  const limits: [limit: number, count: number, style: "queue all" | "await each go"][] = [
    [1, 20, "queue all"],
    [3, 100, "queue all"],
    [3, 100, "await each go"],
    [64, 200, "await each go"],
  ];
  for (const [limit, count, style] of limits) {
    it(`never runs more than ${limit} of ${count} tasks at once (${style}), and runs them all`, async (t) => {
      const [parent] = cancellable(t);
      const [g] = withErrGroup(parent);
      g.setLimit(limit);
      let active = 0;
      let max = 0;
      let finished = 0;
      const body = async (i: number): Promise<void> => {
        active++;
        max = Math.max(max, active);
        // Microtasks for some, a whole event-loop turn for others: tasks overlap and finish out of order.
        if (i % 3 === 0) await setImmediate();
        else await ticks(1 + (i % 5));
        active--;
        finished++;
      };
      for (let i = 0; i < count; i++) {
        if (style === "await each go") await g.go(() => body(i));
        else void g.go(() => body(i));
      }
      await g.wait();
      assert.equal(max, limit);
      assert.equal(finished, count);
      assert.equal(active, 0);
    });
  }

  it("starts queued tasks in the order go was called, one per finished task", async (t) => {
    const [parent] = cancellable(t);
    const [g] = withErrGroup(parent);
    g.setLimit(2);
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    for (let i = 0; i < 5; i++) {
      void g.go(async () => {
        started.push(i);
        await gates[i]!.promise;
      });
    }
    await ticks(5);
    assert.deepEqual(started, [0, 1]);
    gates[1]!.resolve();
    await ticks(5);
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]!.resolve();
    await ticks(5);
    assert.deepEqual(started, [0, 1, 2, 3]);
    for (const gate of gates) gate.resolve();
    await g.wait();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
  });

  it("makes go's promise resolve only once the task has started", async (t) => {
    const [parent] = cancellable(t);
    const [g] = withErrGroup(parent);
    g.setLimit(1);
    const gate = deferred();
    let secondStarted = false;
    await g.go(() => gate.promise);
    const goSecond = g.go(() => {
      secondStarted = true;
    });
    const second = track(goSecond);
    await delay(5);
    assert.equal(second.state, "pending", "go resolved while the limit was reached");
    assert.equal(secondStarted, false);
    gate.resolve();
    await goSecond;
    assert.equal(secondStarted, true, "go resolved before the task started");
    await g.wait();
  });

  it("waits for queued tasks too", async (t) => {
    const [parent] = cancellable(t);
    const [g] = withErrGroup(parent);
    g.setLimit(1);
    const gates = [deferred(), deferred(), deferred()];
    for (const gate of gates) void g.go(() => gate.promise);
    const w = track(g.wait());
    gates[0]!.resolve();
    gates[1]!.resolve();
    await delay(5);
    assert.equal(w.state, "pending");
    gates[2]!.resolve();
    await ticks(10);
    assert.equal(w.state, "fulfilled");
  });

  it("throws while tasks are running, and works again once they have finished", async (t) => {
    const [parent] = cancellable(t);
    const [g] = withErrGroup(parent);
    const gate = deferred();
    void g.go(() => gate.promise);
    assert.throws(
      () => g.setLimit(2),
      (e: unknown) => e instanceof Error && !(e instanceof TypeError) && /setLimit/.test(e.message),
    );
    gate.resolve();
    await g.wait();
    g.setLimit(2);
  });

  it("takes a negative limit or Infinity as no bound", async (t) => {
    for (const limit of [-1, Infinity]) {
      const [parent] = cancellable(t);
      const [g] = withErrGroup(parent);
      g.setLimit(3);
      g.setLimit(limit);
      const gate = deferred();
      let started = 0;
      for (let i = 0; i < 10; i++) {
        assert.equal(
          g.tryGo(async () => {
            started++;
            await gate.promise;
          }),
          true,
        );
      }
      await ticks(3);
      assert.equal(started, 10);
      gate.resolve();
      await g.wait();
    }
  });

  describe("rejects a limit that is not an integer with a TypeError", () => {
    for (const bad of [1.5, NaN, "2" as unknown as number, undefined as unknown as number]) {
      it(`setLimit(${String(bad)})`, () => {
        const g = new ErrGroup();
        assert.throws(() => g.setLimit(bad), (e: unknown) => e instanceof TypeError && /ErrGroup\.setLimit/.test(e.message));
      });
    }
  });
});

describe("ErrGroup.tryGo", () => {
  it("returns true below the limit and false at it, without starting the task", async (t) => {
    const [parent] = cancellable(t);
    const [g] = withErrGroup(parent);
    g.setLimit(2);
    const gates = [deferred(), deferred()];
    let ran = 0;
    assert.equal(g.tryGo(() => gates[0]!.promise), true);
    assert.equal(g.tryGo(() => gates[1]!.promise), true);
    assert.equal(
      g.tryGo(() => {
        ran++;
      }),
      false,
    );
    gates[0]!.resolve();
    await ticks(5);
    assert.equal(
      g.tryGo(() => {
        ran++;
      }),
      true,
    );
    gates[1]!.resolve();
    await g.wait();
    assert.equal(ran, 1);
  });

  it("returns false when the limit is 0", () => {
    const g = new ErrGroup();
    g.setLimit(0);
    assert.equal(
      g.tryGo(() => {}),
      false,
    );
  });

  it("records a failure of a task it started as the group's error", async (t) => {
    const [parent] = cancellable(t);
    const [g, ctx] = withErrGroup(parent);
    const boom = new Error("tried");
    assert.equal(
      g.tryGo(() => Promise.reject(boom)),
      true,
    );
    await assert.rejects(g.wait(), (e) => e === boom);
    assert.equal(cause(ctx), boom);
  });
});

// ---- the zero group and misuse ---------------------------------------------------------------------------------

describe("new ErrGroup()", () => {
  it("runs tasks and waits for them without a ctx", async () => {
    const g = new ErrGroup();
    const results: number[] = [];
    for (let i = 0; i < 3; i++) {
      void g.go(async (c) => {
        assert.equal(c.err(), undefined);
        await ticks(i);
        results.push(i);
      });
    }
    await g.wait();
    assert.deepEqual(results.sort(), [0, 1, 2]);
  });

  it("rejects wait with the first error and cancels nothing", async () => {
    const g = new ErrGroup();
    const boom = new Error("zero");
    const gate = deferred();
    void g.go(() => Promise.reject(boom));
    void g.go(async (c) => {
      await gate.promise;
      assert.equal(c.err(), undefined, "the zero group cancelled something");
      throw new Error("later");
    });
    await ticks(5);
    gate.resolve();
    await assert.rejects(g.wait(), (e) => e === boom);
    assert.equal(g.ctx.err(), undefined);
  });
});

describe("ErrGroup misuse", () => {
  it("rejects a go or tryGo fn that is not a function with a TypeError", () => {
    const g = new ErrGroup();
    assert.throws(() => g.go(42 as unknown as () => void), (e: unknown) => e instanceof TypeError && /ErrGroup\.go/.test(e.message));
    assert.throws(() => g.tryGo(null as unknown as () => void), (e: unknown) => e instanceof TypeError && /ErrGroup\.tryGo/.test(e.message));
  });

  it("runs its tasks as named tasks in the registry", async (t) => {
    const [parent] = cancellable(t);
    const [g] = withErrGroup(parent);
    const gate = deferred();
    void g.go(() => gate.promise, { name: "fetch page" });
    assert.ok(tasks().some((x) => x.name === "fetch page"));
    gate.resolve();
    await g.wait();
    assert.equal(
      tasks().some((x) => x.name === "fetch page"),
      false,
    );
  });
});

after(() => assertNoLeaks());
