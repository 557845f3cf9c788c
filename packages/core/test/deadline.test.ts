import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import {
  background,
  Canceled,
  createKey,
  DeadlineExceeded,
  remaining,
  withCancel,
  withCancelCause,
  withDeadline,
  withDeadlineCause,
  withSignal,
  withTimeout,
  withTimeoutCause,
  withValue,
  type CancelFunc,
  type Context,
} from "@lifeline/core";
import { assertEnded, assertLive, delay, ended, runScript, runScriptSync } from "./support.js";

/**
 * countTimers runs `body` synchronously with setTimeout/clearTimeout wrapped, and returns how many timers were
 * created and how many of those are still pending afterwards.
 */
function countTimers(body: () => void): { created: number; pending: number } {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Set<unknown>();
  let created = 0;
  const wrappedSet = ((f: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    created++;
    const id = realSet((...a: unknown[]) => {
      live.delete(id);
      f(...a);
    }, ms, ...args);
    live.add(id);
    return id;
  }) as typeof setTimeout;
  const wrappedClear = ((id: Parameters<typeof clearTimeout>[0]) => {
    live.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  globalThis.setTimeout = wrappedSet;
  globalThis.clearTimeout = wrappedClear;
  try {
    body();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  for (const id of live) realClear(id as Parameters<typeof clearTimeout>[0]);
  return { created, pending: live.size };
}

describe("withTimeout and withDeadline", () => {
  it("ends the context with DeadlineExceeded when the timeout passes, and never early", async () => {
    const [ctx, cancel] = withTimeout(background(), 20);
    const [child, cancelChild] = withCancel(withValue(ctx, createKey("k"), 1));
    let abortedAt = 0;
    ctx.signal.addEventListener("abort", () => (abortedAt = Date.now()));
    assertLive(ctx);
    await ended(ctx);
    assertEnded(ctx, DeadlineExceeded);
    assertEnded(child, DeadlineExceeded, DeadlineExceeded, "child");
    assert.ok(abortedAt >= ctx.deadline()!, `ended at ${abortedAt}, ${ctx.deadline()! - abortedAt} ms before its deadline`);
    assert.equal(remaining(ctx), 0);
    cancel();
    assertEnded(ctx, DeadlineExceeded);
    cancelChild();
  });

  it("ends a withDeadline context at its deadline, given a Date", async () => {
    const at = new Date(Date.now() + 15);
    const [ctx, cancel] = withDeadline(background(), at);
    assert.equal(ctx.deadline(), at.getTime());
    await ended(ctx);
    assert.ok(Date.now() >= at.getTime());
    assertEnded(ctx, DeadlineExceeded);
    cancel();
  });

  it("reports the deadline as epoch milliseconds", () => {
    const before = Date.now();
    const [t, cancelT] = withTimeout(background(), 60_000);
    const after = Date.now();
    const d = t.deadline()!;
    assert.ok(d >= before + 60_000 && d <= after + 60_000, `deadline ${d} not within [${before + 60_000}, ${after + 60_000}]`);
    const due = Date.now() + 123_456;
    const [a, cancelA] = withDeadline(background(), due);
    assert.equal(a.deadline(), due);
    const [b, cancelB] = withDeadline(background(), new Date(due));
    assert.equal(b.deadline(), due);
    cancelT();
    cancelA();
    cancelB();
  });

  it("ends with Canceled, not DeadlineExceeded, when cancelled first", async () => {
    const [ctx, cancel] = withTimeout(background(), 10);
    cancel();
    assertEnded(ctx, Canceled);
    await delay(30);
    assertEnded(ctx, Canceled);
  });

  it("records the cause of withTimeoutCause and withDeadlineCause only when the deadline fires", async () => {
    const tooSlow = new Error("tooSlow");
    const [a, cancelA] = withTimeoutCause(background(), 5, tooSlow);
    const [b, cancelB] = withDeadlineCause(background(), Date.now() + 5, tooSlow);
    const [c, cancelC] = withTimeoutCause(background(), 60_000, tooSlow);
    const [d, cancelD] = withDeadlineCause(background(), Date.now() + 60_000, tooSlow);
    const [child, cancelChild] = withCancel(a);
    cancelC();
    cancelD();
    await ended(a);
    await ended(b);
    assertEnded(a, DeadlineExceeded, tooSlow);
    assertEnded(child, DeadlineExceeded, tooSlow, "child");
    assertEnded(b, DeadlineExceeded, tooSlow);
    assertEnded(c, Canceled, Canceled);
    assertEnded(d, Canceled, Canceled);
    for (const f of [cancelA, cancelB, cancelChild]) f();
  });

  const past: { name: string; make: () => [Context, CancelFunc] }[] = [
    { name: "withTimeout(0)", make: () => withTimeout(background(), 0) },
    { name: "withTimeout(-1)", make: () => withTimeout(background(), -1) },
    { name: "withTimeout(-1e9)", make: () => withTimeout(background(), -1e9) },
    { name: "withTimeout(-Infinity)", make: () => withTimeout(background(), -Infinity) },
    { name: "withDeadline(now)", make: () => withDeadline(background(), Date.now()) },
    { name: "withDeadline(an hour ago)", make: () => withDeadline(background(), Date.now() - 3_600_000) },
    { name: "withDeadline(new Date(0))", make: () => withDeadline(background(), new Date(0)) },
    { name: "withDeadline(-Infinity)", make: () => withDeadline(background(), -Infinity) },
  ];
  for (const t of past) {
    it(`${t.name} ends the context with DeadlineExceeded before returning`, () => {
      let result: [Context, CancelFunc] | undefined;
      const timers = countTimers(() => {
        result = t.make();
      });
      const [ctx, cancel] = result!;
      assertEnded(ctx, DeadlineExceeded);
      assert.equal(remaining(ctx), 0);
      assert.equal(timers.pending, 0, "no timer is left for a context that has already ended");
      const [child, cancelChild] = withCancel(ctx);
      assertEnded(child, DeadlineExceeded, DeadlineExceeded, "child");
      cancel();
      assertEnded(ctx, DeadlineExceeded);
      cancelChild();
    });
  }

  it("withTimeoutCause(0) and withDeadlineCause(past) end with the given cause before returning", () => {
    const why = new Error("why");
    const [a, cancelA] = withTimeoutCause(background(), 0, why);
    const [b, cancelB] = withDeadlineCause(background(), Date.now() - 1, why);
    assertEnded(a, DeadlineExceeded, why);
    assertEnded(b, DeadlineExceeded, why);
    cancelA();
    cancelB();
  });

  for (const [name, make] of [
    ["withTimeout(Infinity)", () => withTimeout(background(), Infinity)],
    ["withDeadline(Infinity)", () => withDeadline(background(), Infinity)],
  ] as const) {
    it(`${name} sets no deadline, starts no timer and never ends by itself`, async () => {
      let result: [Context, CancelFunc] | undefined;
      const timers = countTimers(() => {
        result = make();
      });
      const [ctx, cancel] = result!;
      assert.equal(timers.created, 0);
      assert.equal(ctx.deadline(), undefined);
      assert.equal(remaining(ctx), Infinity);
      await delay(20);
      assertLive(ctx);
      cancel();
      assertEnded(ctx, Canceled);
    });
  }

  it("keeps the parent's deadline for withTimeout(parent, Infinity)", () => {
    const [parent, cancelParent] = withTimeout(background(), 60_000);
    const [ctx, cancel] = withTimeout(parent, Infinity);
    assert.equal(ctx.deadline(), parent.deadline());
    cancel();
    cancelParent();
  });

  for (const [name, make, due] of [
    ["withTimeout(2^31 + 1000)", () => withTimeout(background(), 2 ** 31 + 1000), () => Date.now() + 2 ** 31 + 1000],
    ["withTimeout(2^32)", () => withTimeout(background(), 2 ** 32), () => Date.now() + 2 ** 32],
    ["withDeadline(now + 2^40)", () => withDeadline(background(), Date.now() + 2 ** 40), () => Date.now() + 2 ** 40],
  ] as const) {
    it(`${name} does not fire early through setTimeout's overflow`, async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.name);
      process.on("warning", onWarning);
      try {
        const expected = due();
        const [ctx, cancel] = make();
        const d = ctx.deadline()!;
        assert.ok(Math.abs(d - expected) <= 50, `deadline ${d}, expected about ${expected}`);
        await delay(50);
        assertLive(ctx);
        assert.ok(remaining(ctx) > 2 ** 31 - 1000);
        cancel();
        assertEnded(ctx, Canceled);
      } finally {
        process.off("warning", onWarning);
      }
      assert.deepEqual(warnings.filter((n) => n === "TimeoutOverflowWarning"), []);
    });
  }
});

describe("a child's deadline", () => {
  it("is the parent's when the parent's is earlier; the child is then a plain cancel context, as in Go", async () => {
    const [parent, cancelParent] = withTimeout(background(), 20);
    const [child, cancelChild] = withTimeout(parent, 60_000);
    const [child2, cancelChild2] = withDeadlineCause(parent, Date.now() + 60_000, new Error("unused"));
    assert.equal(child.deadline(), parent.deadline());
    assert.equal(child2.deadline(), parent.deadline());
    assert.match(String(child), /^context\.Background\.WithDeadline\([^)]*\)\.WithCancel$/);
    await ended(child);
    assertEnded(child, DeadlineExceeded);
    assertEnded(child2, DeadlineExceeded, DeadlineExceeded, "child2");
    for (const f of [cancelChild, cancelChild2, cancelParent]) f();
  });

  it("is its own when it is earlier, and its end leaves the parent live", async () => {
    const [parent, cancelParent] = withTimeout(background(), 60_000);
    const [child, cancelChild] = withTimeout(parent, 10);
    assert.ok(child.deadline()! < parent.deadline()!);
    assert.match(String(child), /^context\.Background\.WithDeadline\([^)]*\)\.WithDeadline\([^)]*\)$/);
    await ended(child);
    assertEnded(child, DeadlineExceeded);
    assertLive(parent);
    cancelChild();
    cancelParent();
  });

  it("passes through value and cancel layers", () => {
    const [parent, cancelParent] = withDeadline(background(), Date.now() + 60_000);
    const [a, cancelA] = withCancelCause(withValue(parent, createKey("k"), 1));
    const [b, cancelB] = withSignal(a, new AbortController().signal);
    assert.equal(b.deadline(), parent.deadline());
    const [c, cancelC] = withTimeout(b, 120_000);
    assert.equal(c.deadline(), parent.deadline());
    for (const f of [cancelC, cancelB, cancelA, cancelParent]) f();
  });

  it("is the parent's when both are equal", () => {
    const due = Date.now() + 60_000;
    const [parent, cancelParent] = withDeadline(background(), due);
    const [child, cancelChild] = withDeadline(parent, due);
    assert.equal(child.deadline(), due);
    cancelChild();
    cancelParent();
  });

  it("is inherited by a child born ended", () => {
    const [parent, cancelParent] = withDeadline(background(), Date.now() + 60_000);
    cancelParent();
    const [child, cancelChild] = withCancel(parent);
    assert.equal(child.deadline(), parent.deadline());
    assertEnded(child, Canceled);
    cancelChild();
  });
});

describe("remaining", () => {
  it("is Infinity without a deadline", () => {
    const [ctx, cancel] = withCancel(background());
    assert.equal(remaining(background()), Infinity);
    assert.equal(remaining(ctx), Infinity);
    cancel();
  });

  it("is the milliseconds left before the deadline", () => {
    const [ctx, cancel] = withTimeout(background(), 60_000);
    const left = remaining(ctx);
    assert.ok(left > 59_000 && left <= 60_000, `remaining ${left}`);
    const viaValue = remaining(withValue(ctx, createKey("k"), 1));
    assert.ok(viaValue <= left && viaValue > left - 1000, `remaining through a value layer ${viaValue}`);
    cancel();
  });

  it("is 0 once the context has ended, whatever its deadline", () => {
    const [ctx, cancel] = withTimeout(background(), 60_000);
    cancel();
    assert.equal(remaining(ctx), 0);
    const [c2, cancel2] = withCancel(background());
    cancel2();
    assert.equal(remaining(c2), 0);
  });
});

describe("deadline timers", () => {
  it("are cleared by cancel", () => {
    const timers = countTimers(() => {
      const cancels: CancelFunc[] = [];
      for (let i = 0; i < 100; i++) cancels.push(withTimeout(background(), 60_000 + i)[1]);
      cancels.push(withDeadline(background(), Date.now() + 2 ** 33)[1]);
      cancels.push(withTimeoutCause(background(), 60_000, new Error("c"))[1]);
      for (const cancel of cancels) cancel();
    });
    assert.ok(timers.created >= 1, "the deadlines armed timers");
    assert.equal(timers.pending, 0);
  });

  it("are cleared when an ancestor is cancelled", () => {
    let cancelChild: CancelFunc | undefined;
    const timers = countTimers(() => {
      const [parent, cancelParent] = withCancel(background());
      const [mid] = withCancel(parent);
      cancelChild = withTimeout(mid, 60_000)[1];
      cancelParent();
    });
    assert.equal(timers.pending, 0);
    cancelChild!();
  });

  it("are not started for a child whose deadline equals its parent's: the parent's ends both, parent first", async () => {
    const due = Date.now() + 30;
    const [parent, cancelParent] = withDeadline(background(), due);
    let child: Context | undefined;
    let cancelChild: CancelFunc | undefined;
    const timers = countTimers(() => {
      [child, cancelChild] = withDeadlineCause(parent, due, new Error("never the cause"));
    });
    try {
      assert.equal(timers.created, 0, "a second timer for the same instant could fire before the parent's");
      assert.equal(child!.deadline(), due);
      await ended(child!);
      // Ended by the parent, so together: never the child alone, and with the parent's cause.
      assertEnded(parent, DeadlineExceeded);
      assertEnded(child!, DeadlineExceeded);
    } finally {
      cancelChild!();
      cancelParent();
    }
  });

  it("are not started for a child of an ended parent", () => {
    const [parent, cancelParent] = withCancel(background());
    cancelParent();
    let ctx: Context | undefined;
    let cancel: CancelFunc | undefined;
    const timers = countTimers(() => {
      [ctx, cancel] = withTimeout(parent, 60_000);
    });
    assert.equal(timers.pending, 0);
    assertEnded(ctx!, Canceled);
    cancel!();
  });

  it("never keep the process alive", () => {
    const r = runScriptSync([
      `const [a] = core.withTimeout(core.background(), 60_000);`,
      `const [b] = core.withTimeout(core.background(), 2 ** 31 + 1000);`,
      `const [c] = core.withDeadlineCause(core.background(), new Date(Date.now() + 60_000), new Error("x"));`,
      `console.log(a.err() === undefined && b.err() === undefined && c.err() === undefined ? "live" : "ended");`,
    ]);
    assert.equal(r.signal, null, "the process had to be killed: a deadline timer kept it alive");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "live");
  });
});

describe("a wait keeps alive the deadline of every done channel it waits on, only while it waits (issue 9)", () => {
  // Each script blocks at top level on something only a 150 ms deadline ends. Exiting before the deadline leaves
  // the await unsettled (exit 13, "before" never followed by "after"); waiting prints "after" and exits 0.
  const waits: [string, string[]][] = [
    ["ctx.done().recv(background())", [`await ctx.done().recv(L.background());`]],
    ["for await over ctx.done()", [`for await (const _ of ctx.done()) {}`]],
    ["ctx.done().range(background())", [`for await (const _ of ctx.done().range(L.background())) {}`]],
    [
      "select on a never-ending ctx's done channel, then the deadline's",
      [`const [a] = L.withCancel(L.background());`, `await L.select([L.recv(a.done()), L.recv(ctx.done())]);`],
    ],
    [
      "select on the deadline's done channel, then a never-ending ctx's",
      [`const [a] = L.withCancel(L.background());`, `await L.select([L.recv(ctx.done()), L.recv(a.done())]);`],
    ],
    [
      "select on a later deadline's done channel, then the sooner one's",
      [`const [late] = L.withTimeout(L.background(), 60_000);`, `await L.select([L.recv(late.done()), L.recv(ctx.done())]);`],
    ],
    [
      "a recv on a data channel under a ctx without deadline, in a select with the deadline's done channel",
      [`const ch = new L.Channel();`, `await L.select([L.recv(ch), L.recv(L.withValue(ctx, L.createKey("k"), 1).done())]);`],
    ],
    [
      "a task's own done channel, received with background()",
      [`await L.go(ctx, async (tctx) => { await tctx.done().recv(L.background()); });`],
    ],
    [
      "a range over a channel nobody closes, under the deadline",
      [`const ch = new L.Channel();`, `try { for await (const _ of ch.range(ctx)) {} } catch (e) { if (e !== L.DeadlineExceeded) throw e; }`],
    ],
  ];
  for (const [name, lines] of waits) {
    it(`holds it for ${name}`, async () => {
      const r = await runScript(
        [
          `const [ctx] = L.withTimeout(L.background(), 150);`,
          `console.log("before");`,
          ...lines,
          `console.log("after", ctx.err() === L.DeadlineExceeded ? "deadline" : "live");`,
        ],
        { as: "L" },
      );
      assert.equal(r.signal, null, r.stderr);
      assert.equal(r.status, 0, `exited before the deadline (status ${r.status}): ${r.stdout} ${r.stderr}`);
      assert.equal(r.stdout.trim(), "before\nafter deadline");
    });
  }

  it("releases every held deadline once the wait is over", async () => {
    // A select over a 150 ms and a 1 h deadline: once the first ends it, the hour must keep nothing alive.
    // The child's own kill timer (10 s) would show a hang as a signal.
    const r = await runScript(
      [
        `const [soon] = L.withTimeout(L.background(), 150);`,
        `const [hour] = L.withTimeout(L.background(), 3_600_000);`,
        `const r = await L.select([L.recv(hour.done()), L.recv(soon.done())]);`,
        `const d = await L.select([L.recv(soon.done()), L.recv(hour.done())]);`,
        `console.log("fired", r.index, d.index, hour.err() === undefined ? "hour live" : "hour ended");`,
      ],
      { as: "L" },
    );
    assert.equal(r.signal, null, "the process was killed: an hour's deadline stayed held after the wait");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "fired 1 0 hour live");
  });
});

after(() => assertNoLeaks());
