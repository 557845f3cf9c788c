import { after, describe, it, type TestContext } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  background,
  Canceled,
  captureTaskStacks,
  cause,
  Channel,
  createKey,
  DeadlineExceeded,
  go,
  recv,
  select,
  Semaphore,
  setTaskFailureHandler,
  sleep,
  Task,
  TaskError,
  tasks,
  WaitGroup,
  withCancel,
  withCancelCause,
  withDeadline,
  withoutCancel,
  withValue,
  type CancelFunc,
  type Context,
} from "@lifeline/core";
import { assertNoTasks, cancellable, deferred, delay, monoNow, recordFailures, runScript, ticks } from "./support.js";

// ---- helpers ---------------------------------------------------------------------------------------------------

function isLive(task: Task<unknown>): boolean {
  return tasks().some((x) => x.id === task.id);
}

const here = fileURLToPath(import.meta.url);

// Every test let its tasks finish: nothing is left in the registry.
after(() => assertNoTasks());

// ---- go --------------------------------------------------------------------------------------------------------

describe("go", () => {
  it("returns a handle that resolves to the function's result", async (t) => {
    const [ctx] = cancellable(t);
    assert.equal(await go(ctx, () => 42), 42);
    assert.equal(await go(ctx, async () => "async"), "async");
    assert.deepEqual(await go(ctx, () => Promise.resolve([1, 2])), [1, 2]);
  });

  it("returns a handle that rejects with the function's error, thrown or rejected", async (t) => {
    const [ctx] = cancellable(t);
    const boom = new Error("boom");
    await assert.rejects(
      async () =>
        await go(ctx, () => {
          throw boom;
        }),
      (e) => e === boom,
    );
    await assert.rejects(async () => await go(ctx, async () => Promise.reject(boom)), (e) => e === boom);
  });

  it("starts the function in a microtask, after go has returned", async (t) => {
    const [ctx] = cancellable(t);
    let started = false;
    const task = go(ctx, () => {
      started = true;
    });
    assert.equal(started, false, "fn ran inside go");
    assert.equal(task.state, "running");
    await ticks(1);
    assert.equal(started, true, "fn did not start within a microtask");
    await task;
  });

  it("gives the function a context with the parent's values, deadline and error", async (t) => {
    const key = createKey<string>("user");
    const due = Date.now() + 60_000;
    const [withDue, cancelDue] = withDeadline(background(), due);
    t.after(cancelDue);
    const [parent, cancel] = withCancel(withValue(withDue, key, "ada"));
    const gate = deferred();
    let seen: Context | undefined;
    const task = go(parent, async (ctx) => {
      seen = ctx;
      await gate.promise;
    });
    await ticks(1);
    assert.ok(seen);
    assert.equal(seen, task.ctx, "task.ctx is the context fn receives");
    assert.equal(seen.value(key), "ada");
    assert.equal(seen.deadline(), parent.deadline());
    assert.equal(seen.deadline(), due);
    assert.equal(seen.err(), undefined);
    cancel();
    assert.equal(seen.err(), Canceled);
    assert.equal(seen.signal.aborted, true);
    gate.resolve();
    await task;
  });

  it("leaves the task running when its ctx is cancelled: cancellation is cooperative", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const gate = deferred<string>();
    const task = go(ctx, () => gate.promise);
    cancel();
    await ticks(3);
    assert.equal(task.state, "running");
    assert.ok(isLive(task));
    gate.resolve("finished anyway");
    assert.equal(await task, "finished anyway");
  });

  it("returns a Task, a thenable whose then returns a promise", async (t) => {
    const [ctx] = cancellable(t);
    const task = go(ctx, () => 1);
    assert.ok(task instanceof Task);
    const p = task.then((v) => v + 1);
    assert.ok(p instanceof Promise);
    assert.equal(await p, 2);
  });

  describe("rejects bad input with a TypeError naming go", () => {
    const fn = (): void => {};
    const cases: [what: string, call: () => unknown][] = [
      ["ctx undefined", () => go(undefined as unknown as Context, fn)],
      ["ctx null", () => go(null as unknown as Context, fn)],
      ["ctx a plain object", () => go({} as Context, fn)],
      ["ctx an AbortSignal", () => go(new AbortController().signal as unknown as Context, fn)],
      ["fn undefined", () => go(background(), undefined as unknown as () => void)],
      ["fn a number", () => go(background(), 42 as unknown as () => void)],
      ["fn a promise", () => go(background(), Promise.resolve() as unknown as () => void)],
      ["name a number", () => go(background(), fn, { name: 42 as unknown as string })],
      ["name null", () => go(background(), fn, { name: null as unknown as string })],
    ];
    for (const [what, call] of cases) {
      it(`when ${what}`, () => {
        const before = tasks().length;
        assert.throws(call, (e: unknown) => {
          assert.ok(e instanceof TypeError, `expected TypeError, got ${String(e)}`);
          assert.match(e.message, /^go: /);
          return true;
        });
        assert.equal(tasks().length, before, "a rejected call registered a task");
      });
    }
  });
});

// ---- the registry ----------------------------------------------------------------------------------------------

describe("tasks", () => {
  it("lists a live task with its id, name, ctx and state", async (t) => {
    const [ctx] = cancellable(t);
    const gate = deferred();
    const task = go(ctx, () => gate.promise, { name: "indexer" });
    const live = tasks().find((x) => x.id === task.id);
    assert.equal(live, task);
    assert.equal(live.name, "indexer");
    assert.equal(live.ctx, task.ctx);
    assert.equal(live.state, "running");
    assert.equal(live.blockedOn, undefined);
    assert.equal(typeof live.createdAt, "number");
    gate.resolve();
    await task;
  });

  describe("names a task", () => {
    async function fetchUser(): Promise<void> {}
    const cases: [what: string, start: (ctx: Context) => Task<unknown>, name: string][] = [
      ["by the name option", (ctx) => go(ctx, fetchUser, { name: "explicit" }), "explicit"],
      ["by the function's name by default", (ctx) => go(ctx, fetchUser), "fetchUser"],
      ["\"task\" when the function is anonymous", (ctx) => go(ctx, async () => {}), "task"],
      ["by an empty name option if given", (ctx) => go(ctx, fetchUser, { name: "" }), ""],
    ];
    for (const [what, start, name] of cases) {
      it(what, async (t) => {
        const [ctx] = cancellable(t);
        const task = start(ctx);
        assert.equal(task.name, name);
        assert.equal(tasks().find((x) => x.id === task.id)?.name, name);
        await task;
      });
    }
  });

  it("gives tasks unique, increasing ids and lists them oldest first", async (t) => {
    const [ctx] = cancellable(t);
    const gate = deferred();
    const started: Task<unknown>[] = [go(ctx, () => gate.promise), go(ctx, () => gate.promise), go(ctx, () => gate.promise)];
    assert.ok(started[0]!.id < started[1]!.id && started[1]!.id < started[2]!.id);
    const mine = tasks().filter((x) => started.includes(x));
    assert.deepEqual(mine, started);
    gate.resolve();
    await Promise.all(started);
  });

  it("returns a snapshot that later tasks do not change", async (t) => {
    const [ctx] = cancellable(t);
    const snapshot = tasks();
    const length = snapshot.length;
    const task = go(ctx, () => {});
    assert.equal(snapshot.length, length);
    assert.equal(tasks().length, length + 1);
    await task;
  });

  it("forgets a task once it settles, fulfilled or rejected", async (t) => {
    const [ctx] = cancellable(t);
    const ok = go(ctx, () => "ok");
    const failed = go(ctx, () => Promise.reject(new Error("no")));
    assert.ok(isLive(ok) && isLive(failed));
    await ok;
    await assert.rejects(async () => await failed, /no/);
    assert.equal(ok.state, "done");
    assert.equal(failed.state, "done");
    assert.equal(isLive(ok), false);
    assert.equal(isLive(failed), false);
  });

  it("returns to its baseline after 10k tasks complete", async (t) => {
    const [ctx] = cancellable(t);
    const baseline = tasks().length;
    const gate = deferred();
    const all: Task<number>[] = [];
    for (let i = 0; i < 10_000; i++) all.push(
        go(ctx, async () => {
          await gate.promise;
          return i;
        }),
      );
    assert.equal(tasks().length, baseline + 10_000);
    gate.resolve();
    const results = await Promise.all(all);
    assert.equal(results[9_999], 9_999);
    assert.equal(tasks().length, baseline);
  });
});

// ---- blocked on what -------------------------------------------------------------------------------------------

type Blocker = {
  /** block starts the blocking call with the task's ctx; its promise settles when the task may go on. */
  block: (ctx: Context) => Promise<unknown>;
  /** unblock lets the blocked call complete (cancel ends the task's parent ctx). */
  unblock: (cancel: CancelFunc) => void;
};

const blockers: [what: string, blockedOn: string, make: () => Blocker][] = [
  [
    "ch.recv(ctx)",
    "chan recv",
    () => {
      const ch = new Channel<number>();
      return { block: (ctx) => ch.recv(ctx), unblock: () => assert.ok(ch.trySend(1)) };
    },
  ],
  [
    "ch.send(ctx, v)",
    "chan send",
    () => {
      const ch = new Channel<number>();
      return { block: (ctx) => ch.send(ctx, 1), unblock: () => assert.deepEqual(ch.tryRecv(), [1, true]) };
    },
  ],
  [
    "select([recv(ctx.done()), recv(a), recv(b)])",
    "select (3 cases)",
    () => {
      const a = new Channel<number>();
      const b = new Channel<string>();
      return { block: (ctx) => select([recv(ctx.done()), recv(a), recv(b)]), unblock: () => assert.ok(b.trySend("go")) };
    },
  ],
  [
    "sleep(ctx, 200)",
    "sleep 200ms",
    () => ({
      block: (ctx) => sleep(ctx, 200).catch((e: unknown) => assert.equal(e, Canceled)),
      unblock: (cancel) => cancel(),
    }),
  ],
  [
    "sem.acquire(ctx, 2)",
    "semaphore acquire 2",
    () => {
      const sem = new Semaphore(2);
      assert.ok(sem.tryAcquire(1));
      return { block: (ctx) => sem.acquire(ctx, 2), unblock: () => sem.release(1) };
    },
  ],
  [
    "wg.wait(ctx)",
    "WaitGroup.wait",
    () => {
      const wg = new WaitGroup();
      wg.add(1);
      return { block: (ctx) => wg.wait(ctx), unblock: () => wg.done() };
    },
  ],
];

describe("a task blocked on a lifeline primitive", () => {
  for (const [what, blockedOn, make] of blockers) {
    it(`shows state "blocked" on "${blockedOn}" in ${what}, and "running" once unblocked`, async (t) => {
      const [parent, cancel] = cancellable(t);
      const b = make();
      const reached = deferred();
      const resumed = deferred();
      const release = deferred();
      const before = monoNow();
      const task = go(parent, async (ctx) => {
        reached.resolve();
        await b.block(ctx);
        resumed.resolve();
        await release.promise;
      });
      await reached.promise;
      const live = tasks().find((x) => x.id === task.id);
      assert.ok(live, "blocked task missing from the registry");
      assert.equal(live.state, "blocked");
      assert.equal(live.blockedOn, blockedOn);
      assert.ok(live.since >= before && live.since <= monoNow(), `since ${live.since} not between ${before} and now`);
      const blockedSince = live.since;

      b.unblock(cancel);
      await resumed.promise;
      assert.equal(task.state, "running");
      assert.equal(task.blockedOn, undefined);
      assert.ok(task.since >= blockedSince);
      assert.ok(isLive(task));

      release.resolve();
      await task;
      assert.equal(task.state, "done");
      assert.equal(task.blockedOn, undefined);
      assert.equal(isLive(task), false);
    });
  }

  it("is blocked in a select on its done channel when it was started from another task's ctx", async (t) => {
    const [parent] = cancellable(t);
    const ch = new Channel<number>();
    const spawned = deferred<{ inner: Task<number> }>(); // wrapped: a Task is a thenable and would be adopted
    const outer = go(parent, async (outerCtx) => {
      const inner = go(outerCtx, async (ctx) => {
        const r = await select([recv(ctx.done()), recv(ch)]);
        return r.index;
      });
      spawned.resolve({ inner });
      return await inner;
    });
    const outcome = outer.then(
      (index) => ({ index }),
      (error: unknown) => ({ error }),
    );
    const { inner } = await spawned.promise;
    await ticks(3);
    if (inner.state === "done") assert.fail(`the inner task ended instead of blocking: ${JSON.stringify(await outcome, (_k, v: unknown) => (v instanceof Error ? String(v) : v))}`);
    assert.equal(inner.state, "blocked");
    assert.equal(inner.blockedOn, "select (2 cases)");
    assert.ok(ch.trySend(1));
    assert.deepEqual(await outcome, { index: 1 });
  });

  it("shows state \"running\" while it awaits something that is not a lifeline primitive", async (t) => {
    const [ctx] = cancellable(t);
    const gate = deferred();
    const task = go(ctx, () => gate.promise);
    await ticks(3);
    assert.equal(task.state, "running");
    assert.equal(task.blockedOn, undefined);
    gate.resolve();
    await task;
  });
});

describe("a task blocked under a context derived from its own", () => {
  const key = createKey<string>("k");
  const derived: [what: string, derive: (ctx: Context) => [Context, CancelFunc]][] = [
    ["withValue(ctx)", (ctx) => [withValue(ctx, key, "v"), () => {}]],
    ["withCancel(ctx)", (ctx) => withCancel(ctx)],
  ];
  const ops: [what: string, blockedOn: string, block: (ctx: Context, ch: Channel<number>) => Promise<unknown>][] = [
    ["ch.recv", "chan recv", (ctx, ch) => ch.recv(ctx)],
    ["select on its done channel", "select (2 cases)", (ctx, ch) => select([recv(ctx.done()), recv(ch)])],
  ];
  for (const [how, derive] of derived) {
    for (const [what, blockedOn, block] of ops) {
      it(`is recorded as blocked on "${blockedOn}" in ${what} under ${how}`, async (t) => {
        const [parent] = cancellable(t);
        const ch = new Channel<number>();
        const reached = deferred();
        const task = go(parent, async (taskCtx) => {
          const [ctx, cancel] = derive(taskCtx);
          try {
            reached.resolve();
            await block(ctx, ch);
          } finally {
            cancel();
          }
        });
        await reached.promise;
        const state = { state: task.state, blockedOn: task.blockedOn };
        assert.ok(ch.trySend(1));
        await task;
        assert.deepEqual(state, { state: "blocked", blockedOn });
      });
    }
  }
});

describe("a task that ignores cancellation", () => {
  // Each blocks under withoutCancel(taskCtx): the task's identity is kept, its cancellation ignored.
  const stubborn: [what: string, blockedOn: string, make: () => Blocker][] = [
    blockers[0]!,
    blockers[1]!,
    blockers[4]!,
    blockers[5]!,
    ["sleep(ctx, 30)", "sleep 30ms", () => ({ block: (ctx) => sleep(ctx, 30), unblock: () => {} })],
  ];
  for (const [what, blockedOn, make] of stubborn) {
    it(`stays in the registry as blocked on "${blockedOn}" in ${what} after its ctx is cancelled`, async (t) => {
      const [parent, cancel] = cancellable(t);
      const b = make();
      const reached = deferred();
      const task = go(parent, async function stubbornTask(ctx) {
        reached.resolve();
        await b.block(withoutCancel(ctx));
        return "done anyway";
      });
      await reached.promise;
      cancel();
      assert.equal(task.ctx.err(), Canceled);
      await ticks(3);
      const live = tasks().find((x) => x.id === task.id);
      assert.ok(live, "a task that ignores cancellation left the registry");
      assert.equal(live.name, "stubbornTask");
      assert.equal(live.state, "blocked");
      assert.equal(live.blockedOn, blockedOn);
      assert.equal(typeof live.since, "number");
      b.unblock(cancel);
      assert.equal(await task, "done anyway");
      assert.equal(isLive(task), false);
    });
  }
});

// ---- time stamps -----------------------------------------------------------------------------------------------

describe("a task's time stamps (createdAt, since: approximate, as Go's wait time; ctxEndedAt and a stop: exact)", () => {
  it("stamps since no earlier than the change and no later than its first read, then never changes it", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const started = deferred();
    const before = monoNow();
    const task = go(ctx, async (c) => {
      started.resolve();
      return ch.recv(c);
    });
    await started.promise;
    assert.equal(task.state, "blocked");
    const since = task.since;
    const read = monoNow();
    assert.ok(since >= before && since <= read, `since ${since} not within [${before}, ${read}]`);
    assert.ok(task.createdAt >= before && task.createdAt <= since, "createdAt is no later than since");
    assert.equal(task.since, since, "a stamp, once read, stays");
    assert.equal(ch.trySend(1), true);
    await task;
    assert.ok(task.since >= since, "done no earlier than blocked");
  });

  it("gives changes made between two stamps one time, and a change after a stamp was read a later one", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const a = go(ctx, (c) => ch.recv(c));
    const b = go(ctx, (c) => ch.recv(c));
    await ticks(1);
    assert.equal(a.state, "blocked");
    assert.equal(b.state, "blocked");
    // Read b's first: a's change came first, and still shares b's stamp (no clock is read per change).
    assert.equal(a.since, b.since);
    assert.equal(ch.trySend(1), true); // a runs again, then is done: changes after the read
    await a;
    // Move the monotonic clock 10 ms on (coarse clocks, as a browser's, could read the same time twice).
    const realNow = performance.now;
    performance.now = () => realNow.call(performance) + 10;
    try {
      assert.ok(a.since >= b.since + 10, `${a.since} is not a later stamp than ${b.since}`);
    } finally {
      performance.now = realNow;
    }
    assert.equal(ch.trySend(2), true);
    await b;
  });

  it("measures a stop exactly: since - ctxEndedAt is the time from the context's end to the task's settling", async (t) => {
    const [parent, cancel] = cancellable(t);
    const release = deferred();
    const task = go(parent, () => release.promise); // ignores its ctx until released
    await ticks(1);
    const beforeEnd = monoNow();
    cancel();
    const afterEnd = monoNow();
    const endedAt = task.ctxEndedAt!;
    assert.ok(endedAt >= beforeEnd && endedAt <= afterEnd, "ctxEndedAt is read when the context ends");
    assert.ok(task.createdAt <= endedAt, "a change made before the end is never stamped after it");
    release.resolve();
    const beforeStop = monoNow();
    await task;
    const afterStop = monoNow();
    assert.ok(task.since >= beforeStop && task.since <= afterStop, "a stop is read when the task settles");
    assert.equal(task.ctxEndedAt, endedAt);
  });

  it("keeps ctxEndedAt undefined on a task that settled before its context ended", async (t) => {
    const [parent, cancel] = cancellable(t);
    const task = go(parent, () => 1);
    await task;
    cancel();
    assert.equal(task.ctxEndedAt, undefined);
  });

  it("stamps a task started under an ended context when it starts: createdAt = since = ctxEndedAt", async () => {
    const [parent, cancel] = withCancel(background());
    cancel();
    const before = monoNow();
    const task = go(parent, () => 1);
    const after = monoNow();
    assert.ok(task.ctxEndedAt! >= before && task.ctxEndedAt! <= after);
    assert.equal(task.createdAt, task.ctxEndedAt);
    assert.equal(task.since, task.ctxEndedAt);
    await task;
  });

  it("stamps changes on the sampler's tick, arms it once (1 s, unref'd), re-arms a sampler whose timer was lost", async () => {
    // A fresh process, so no sampler is armed yet: its timers are a hand-made fake (read at each arm, as the
    // platform clock's are), and performance.now can be moved forward (the monotonic clock is read through it).
    const r = await runScript(
      [
        "const timers = [];",
        "globalThis.setTimeout = (fire, ms) => { const t = { fire, ms, unrefs: 0, unref() { t.unrefs++; return t; }, ref() { return t; } }; timers.push(t); return t; };",
        "const realNow = performance.now.bind(performance); let skew = 0; performance.now = () => realNow() + skew;",
        "const mono = () => performance.timeOrigin + performance.now();",
        "const ch = new Channel(0);",
        "const before = mono();",
        "const a = go(background(), (c) => ch.recv(c));",
        "const a2 = go(background(), (c) => ch.recv(c));",
        "await null;",
        "const out = { blocked: a.state, armed: timers.length, ms: timers[0]?.ms, unrefs: timers[0]?.unrefs };",
        "const t0 = mono(); timers.shift().fire(); const t1 = mono();", // the sampler ticks
        "skew = 10;", // the clock moves on (a coarse one could read the same time twice)
        "const b = go(background(), (c) => ch.recv(c));",
        "await null;",
        "out.rearmed = timers.length;",
        "const bSince = b.since; const aSince = a.since;",
        "Object.assign(out, { aAfterT0: aSince >= t0, aBeforeT1: aSince <= t1, aAfterBefore: aSince >= before, aBeforeB: aSince < bSince, again: a.since === aSince });",
        // The sampler's timer is lost (never fired) and 5 s pass: a read stamps with its own time and arms another.
        "const c = go(background(), (x) => ch.recv(x));",
        "await null;",
        "timers.length = 0;",
        "skew = 5010;",
        "const cSince = c.since;",
        "Object.assign(out, { lateRead: cSince >= mono() - 1000, healed: timers.length, healedMs: timers[0]?.ms });",
        "ch.close(); await Promise.all([a, a2, b, c]);",
        "console.log(JSON.stringify(out));",
      ],
      { as: "{ background, Channel, go }" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      blocked: "blocked",
      armed: 1, // one sampler for every change until it ticks
      ms: 1000,
      unrefs: 1, // it never keeps the process alive
      rearmed: 1, // the tick disarmed it; b's change armed it again
      aAfterT0: true, // a was stamped by the tick, not by the read after it
      aBeforeT1: true,
      aAfterBefore: true,
      aBeforeB: true,
      again: true,
      lateRead: true, // with no tick, the read's own time
      healed: 1,
      healedMs: 1000,
    });
  });
});

// ---- failures --------------------------------------------------------------------------------------------------

describe("a failing task nobody awaits", () => {
  const boom = new Error("boom");
  const failures: [what: string, fn: () => unknown, error: unknown][] = [
    [
      "throws synchronously",
      () => {
        throw boom;
      },
      boom,
    ],
    ["rejects", async () => Promise.reject(boom), boom],
    ["rejects with a non-Error", () => Promise.reject("just a string"), "just a string"],
    [
      "rejects with Canceled while its own ctx is live",
      () => {
        throw Canceled;
      },
      Canceled,
    ],
  ];
  for (const [what, fn, error] of failures) {
    it(`is reported exactly once, by name, with the error as cause, when it ${what}`, async (t) => {
      const { reports, first } = recordFailures(t);
      const [ctx] = cancellable(t);
      const task = go(ctx, fn, { name: "fetch-user" });
      const report = await first;
      assert.ok(report.error instanceof TaskError);
      assert.ok(report.error instanceof Error);
      assert.equal(report.error.name, "TaskError");
      assert.match(report.error.message, /fetch-user/);
      assert.equal(report.error.cause, error);
      assert.equal(report.error.task, task);
      assert.equal(report.task, task);
      assert.equal(task.state, "done");
      assert.equal(isLive(task), false);
      await delay(20);
      assert.equal(reports.length, 1, "reported more than once");
    });
  }

  it("includes the creation site in the report when stacks are captured", async (t) => {
    const previous = captureTaskStacks(true);
    t.after(() => captureTaskStacks(previous));
    const { first } = recordFailures(t);
    const [ctx] = cancellable(t);
    go(ctx, () => Promise.reject(new Error("boom")), { name: "with-stack" });
    const report = await first;
    assert.match(report.error.message, /with-stack/);
    assert.ok(report.error.message.includes(here) || report.error.message.includes(import.meta.url), report.error.message);
  });

  it("is reported when it fails with an error of its own after its ctx was cancelled", async (t) => {
    const { first } = recordFailures(t);
    const [ctx, cancel] = cancellable(t);
    const own = new Error("cleanup failed");
    go(ctx, async (c) => {
      await sleep(c, Infinity).catch(() => {});
      throw own;
    }, { name: "cleaner" });
    queueMicrotask(cancel);
    const report = await first;
    assert.equal(report.error.cause, own);
    assert.match(report.error.message, /cleaner/);
  });

  it("is not reported when its handle is awaited", async (t) => {
    const { reports } = recordFailures(t);
    const [ctx] = cancellable(t);
    const boom2 = new Error("awaited");
    const task = go(ctx, () => Promise.reject(boom2));
    await assert.rejects(async () => await task, (e) => e === boom2);
    await delay(20);
    assert.deepEqual(reports, []);
  });

  it("is not reported when a handler is attached later in the same turn", async (t) => {
    const { reports } = recordFailures(t);
    const [ctx] = cancellable(t);
    const task = go(ctx, () => Promise.reject(new Error("late")));
    await ticks(5); // the task has failed, but the turn is not over
    assert.equal(task.state, "done");
    const outcome = await task.then(
      () => "fulfilled",
      (e: unknown) => (e as Error).message,
    );
    assert.equal(outcome, "late");
    await delay(20);
    assert.deepEqual(reports, []);
  });

  const ownCtxErrors: [what: string, start: (t: TestContext) => Task<unknown>][] = [
    [
      "rejects with Canceled from its own cancelled ctx",
      (t) => {
        const [ctx, cancel] = cancellable(t);
        const ch = new Channel<number>();
        const task = go(ctx, (c) => ch.recv(c));
        queueMicrotask(cancel);
        return task;
      },
    ],
    [
      "rejects with DeadlineExceeded from its own expired ctx",
      (t) => {
        const [ctx, cancel] = withDeadline(background(), Date.now() - 1);
        t.after(cancel);
        return go(ctx, (c) => sleep(c, 1_000));
      },
    ],
  ];
  for (const [what, start] of ownCtxErrors) {
    it(`is not reported when it ${what}`, async (t) => {
      const { reports } = recordFailures(t);
      const task = start(t);
      await delay(30); // the report would come on the next timer turn after the task settled
      assert.equal(task.state, "done");
      assert.equal(isLive(task), false);
      assert.deepEqual(reports, []);
      assert.ok(task.ctx.err() === Canceled || task.ctx.err() === DeadlineExceeded);
    });
  }

  it("is raised as an unhandled rejection naming the task when no handler is set", async () => {
    const { status, stderr } = await runScript(
      ['go(background(), async function fetchUser() { throw new Error("boom-default"); });'],
      { as: "{ background, go }", env: { ...process.env, LIFELINE_DEBUG: "1" } },
    );
    assert.notEqual(status, 0, "an unreported task failure let the process exit cleanly");
    assert.match(stderr, /TaskError/);
    assert.match(stderr, /fetchUser/);
    assert.match(stderr, /boom-default/);
    assert.match(stderr, /started/, "LIFELINE_DEBUG=1 did not capture the creation site");
  });
});

describe("which failures are a task's own stop (issue 9)", () => {
  /**
   * reportedOf starts `fn` as a task nobody awaits, then a witness task that fails after it: reports come in
   * settlement order on one timer list, so once the witness is reported, the task's report has come or never will.
   */
  async function reportedOf(t: TestContext, ctx: Context, fn: (ctx: Context) => unknown): Promise<unknown[]> {
    const { reports } = recordFailures(t);
    const task = go(ctx, fn, { name: "subject" });
    await task.whenSettled();
    const witness = go(background(), () => Promise.reject(new Error("witness")), { name: "witness" });
    while (!reports.some((r) => r.task === witness)) await delay(1);
    return reports.filter((r) => r.task === task).map((r) => r.error.cause);
  }

  it("reports a Canceled from another context, though its own ended (with DeadlineExceeded)", async (t) => {
    const [ctx, cancel] = withDeadline(background(), Date.now() - 1);
    t.after(cancel);
    const [other, cancelOther] = withCancel(background());
    cancelOther();
    const causes = await reportedOf(t, ctx, (c) => new Channel<number>().recv(other).finally(() => assert.ok(c.err())));
    assert.deepEqual(causes, [Canceled]);
  });

  it("does not report its own ctx's err", async (t) => {
    const [ctx, cancel] = withDeadline(background(), Date.now() - 1);
    t.after(cancel);
    assert.deepEqual(await reportedOf(t, ctx, (c) => sleep(c, 1_000)), []);
  });

  it("does not report its own ctx's cause, rethrown", async (t) => {
    const [ctx, cancel] = withCancelCause(background());
    const why = new Error("shutting down");
    cancel(why);
    assert.deepEqual(
      await reportedOf(t, ctx, (c) => {
        throw cause(c);
      }),
      [],
    );
  });

  it("reports its own ctx's err thrown while that ctx is still live", async (t) => {
    const [ctx] = cancellable(t);
    const causes = await reportedOf(t, ctx, () => {
      throw Canceled;
    });
    assert.deepEqual(causes, [Canceled]);
  });

  it("is reported even when the tracker throws as the task ends", async () => {
    const r = await runScript([
      `L.setTracker({ begin() {}, end(s) { if (s instanceof L.Task) throw new Error("tracker broke"); } });`,
      `L.setTaskFailureHandler((e) => console.log("reported", e.cause.message));`,
      `process.on("unhandledRejection", (e) => console.log("unhandled", e.message));`,
      `L.go(L.background(), async () => { throw new Error("boom"); });`,
    ], { as: "L" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), ["reported boom", "unhandled tracker broke"]);
  });
});

describe("a task's waits, by identity (issue 9)", () => {
  it("shows every wait still pending: Promise.all of a recv and a sleep, then the recv alone", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const ch = new Channel<number>();
    const both = deferred();
    const slept = deferred();
    const task = go(ctx, async (c) => {
      const r = ch.recv(c);
      const s = sleep(c, 1);
      both.resolve();
      await s;
      slept.resolve();
      return r;
    });
    await both.promise;
    assert.equal(task.state, "blocked");
    assert.equal(task.blockedOn, "chan recv, sleep 1ms");
    await slept.promise;
    assert.equal(task.state, "blocked", "the recv is still pending");
    assert.equal(task.blockedOn, "chan recv");
    assert.equal(ch.trySend(5), true);
    assert.deepEqual(await task, [5, true]);
    assert.equal(task.state, "done");
    cancel();
  });

  it("never moves a done task back: a late wait on its ctx is not the task's", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const task = go(ctx, (c) => c);
    const taskCtx = await task;
    assert.equal(task.state, "done");
    const since = task.since;
    const ch = new Channel<number>();
    const late = ch.recv(taskCtx);
    const lateSleep = sleep(taskCtx, Infinity);
    assert.equal(task.state, "done");
    assert.equal(task.blockedOn, undefined);
    assert.equal(task.since, since);
    cancel();
    await assert.rejects(late, (e) => e === Canceled);
    await assert.rejects(lateSleep, (e) => e === Canceled);
    assert.equal(task.state, "done");
  });

  it("attributes a select without a done-channel case to the task that runs it", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const a = new Channel<number>();
    const b = new Channel<number>();
    const waiting = deferred();
    const task = go(ctx, async () => {
      const p = select([recv(a), recv(b)]);
      waiting.resolve();
      return p;
    });
    await waiting.promise;
    assert.equal(task.state, "blocked");
    assert.equal(task.blockedOn, "select (2 cases)");
    b.trySend(2);
    assert.deepEqual(await task, { index: 1, value: 2, ok: true });
    assert.equal(task.state, "done");
    cancel();
  });

  it("attributes a select on another task's done channel to the task that runs it, not the channel's", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const hold = deferred();
    const owner = go(ctx, async (c) => {
      await hold.promise;
      return c;
    });
    const ownerCtx = await new Promise<Context>((resolve) => queueMicrotask(() => resolve(owner.ctx)));
    const waiting = deferred();
    const a = new Channel<number>();
    const selector = go(ctx, async () => {
      const p = select([recv(ownerCtx.done()), recv(a)]);
      waiting.resolve();
      return p;
    });
    await waiting.promise;
    assert.equal(selector.blockedOn, "select (2 cases)");
    assert.equal(owner.state, "running", "the owner of the done channel is not the one waiting");
    a.trySend(1);
    await selector;
    hold.resolve();
    await owner;
    cancel();
  });
});

describe("setTaskFailureHandler", () => {
  it("returns the previous handler", (t) => {
    const mine = (): void => {};
    const previous = setTaskFailureHandler(mine);
    t.after(() => setTaskFailureHandler(previous));
    assert.equal(setTaskFailureHandler(previous), mine);
  });

  it("rejects a handler that is not a function with a TypeError", () => {
    assert.throws(() => setTaskFailureHandler(42 as unknown as undefined), TypeError);
  });
});

// ---- creation stacks -------------------------------------------------------------------------------------------

describe("captureTaskStacks", () => {
  it("makes task.stack the creation site, in this file, when on", async (t) => {
    const previous = captureTaskStacks(true);
    t.after(() => captureTaskStacks(previous));
    const [ctx] = cancellable(t);
    const task = go(ctx, () => {});
    assert.equal(typeof task.stack, "string");
    assert.ok(task.stack!.includes(here) || task.stack!.includes(import.meta.url), `stack does not name ${here}:\n${task.stack}`);
    await task;
  });

  it("leaves task.stack undefined when off, and returns the previous setting", async (t) => {
    const previous = captureTaskStacks(false);
    t.after(() => captureTaskStacks(previous));
    const [ctx] = cancellable(t);
    const task = go(ctx, () => {});
    assert.equal(task.stack, undefined);
    assert.equal(captureTaskStacks(true), false);
    assert.equal(captureTaskStacks(false), true);
    await task;
  });

  it("rejects a non-boolean with a TypeError", () => {
    assert.throws(() => captureTaskStacks(1 as unknown as boolean), TypeError);
  });
});

after(() => assertNoLeaks());
