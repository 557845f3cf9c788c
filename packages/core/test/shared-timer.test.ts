// Every deadline, sleep, after and ticker on the platform clock waits in one heap under one platform timer
// (packages/core/src/3-wait/alarm.ts). These tests hold that to what a timer per deadline gave: order, never
// early, cancelled means gone, long delays, keeping the process alive exactly as before, errors surfacing as before.
import { after, describe, it } from "node:test";
import { assertNoLeaks, withVirtualClock } from "@lifeline/testing";
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  background,
  Canceled,
  DeadlineExceeded,
  sleep,
  withCancel,
  withDeadline,
  withTimeout,
  type CancelFunc,
  type Context,
} from "@lifeline/core";
import { delay, ended, prng, runScript, turn } from "./support.js";

/** platformTimers counts this process's pending setTimeout timers. */
function platformTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

/** Made is a context with a deadline, the order it was made in, and when it fired (on its abort event). */
type Made = { ctx: Context; cancel: CancelFunc; seq: number; due: number; firedAt?: number };

/** made records the order in which deadlines fire: their abort events run synchronously as each one fires. */
function recorder(): { order: Made[]; make: (due: number) => Made } {
  const order: Made[] = [];
  let seq = 0;
  return {
    order,
    make(due) {
      const [ctx, cancel] = withDeadline(background(), due);
      const m: Made = { ctx, cancel, seq: seq++, due };
      ctx.signal.addEventListener("abort", () => {
        if (ctx.err() !== DeadlineExceeded) return;
        m.firedAt = Date.now();
        order.push(m);
      });
      return m;
    },
  };
}

/** byDueThenMade is the order deadlines must fire in: by deadline, then in the order they were made. */
function byDueThenMade(a: Made, b: Made): number {
  return a.due - b.due || a.seq - b.seq;
}

/** allEnded waits for every context to end. */
async function allEnded(list: Made[]): Promise<void> {
  for (const m of list) await ended(m.ctx, 5_000);
}

describe("timers on the platform clock share one platform timer", () => {
  it("arm at most one platform timer for a thousand deadlines and a hundred sleeps", async () => {
    const before = platformTimers();
    const [ctx, cancel] = withCancel(background());
    const cancels: CancelFunc[] = [];
    const rand = prng(1);
    for (let i = 0; i < 1000; i++) cancels.push(withTimeout(background(), 60_000 + rand(60_000))[1]);
    const sleeps = Array.from({ length: 100 }, () => sleep(ctx, 30_000 + rand(60_000)).catch((e: unknown) => e));
    assert.ok(platformTimers() <= before + 1, `${platformTimers() - before} platform timers for 1,100 timers`);
    for (const c of cancels) c();
    cancel();
    for (const e of await Promise.all(sleeps)) assert.equal(e, Canceled);
    assert.ok(platformTimers() <= before + 1);
  });

  it("fire in order of deadline, those with the same deadline in the order they were made, never early", async () => {
    const { order, make } = recorder();
    const base = Date.now() + 30;
    const rand = prng(2);
    // 300 deadlines over 40 ms: many share a millisecond; made in shuffled order.
    const all = Array.from({ length: 300 }, () => make(base + rand(40)));
    await allEnded(all);
    assert.deepEqual(
      order.map((m) => m.seq),
      [...all].sort(byDueThenMade).map((m) => m.seq),
    );
    for (const m of order) assert.ok(m.firedAt! >= m.due, `deadline ${m.due} fired early, at ${m.firedAt}`);
    for (const m of all) m.cancel();
  });

  it("never fire a deadline cancelled before it is due, with starts and cancels interleaved", async () => {
    const { order, make } = recorder();
    const rand = prng(3);
    const live: Made[] = [];
    const cancelled: Made[] = [];
    const kept: Made[] = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 100; i++) {
        if (live.length > 0 && rand(3) === 0) {
          const [m] = live.splice(rand(live.length), 1);
          if (m!.ctx.err() !== undefined) kept.push(m!); // a slow machine: it fired already
          else {
            m!.cancel();
            cancelled.push(m!);
          }
        } else live.push(make(Date.now() + 20 + rand(60)));
      }
      await turn();
    }
    kept.push(...live);
    await allEnded(kept);
    for (const m of cancelled) assert.equal(m.ctx.err(), Canceled);
    for (const m of kept) assert.equal(m.ctx.err(), DeadlineExceeded);
    assert.deepEqual(
      order.map((m) => m.seq),
      [...kept].sort(byDueThenMade).map((m) => m.seq),
    );
    for (const m of kept) m.cancel();
  });

  it("fire a later deadline after an earlier one was cancelled, not before its time", async () => {
    const [, cancelSoon] = withTimeout(background(), 5);
    cancelSoon(); // the shared timer stays armed for 5 ms; firing then, it finds nothing due and re-arms
    const due = Date.now() + 40;
    const [late, cancelLate] = withDeadline(background(), due);
    await ended(late);
    assert.ok(Date.now() >= due, "fired before its deadline");
    assert.equal(late.err(), DeadlineExceeded);
    cancelLate();
  });

  it("stop a deadline due at the same instant when the one firing first cancels it", async () => {
    const due = Date.now() + 20;
    const [a, cancelA] = withDeadline(background(), due);
    const [b, cancelB] = withDeadline(background(), due);
    a.signal.addEventListener("abort", () => cancelB());
    await ended(a);
    assert.equal(a.err(), DeadlineExceeded);
    assert.equal(b.err(), Canceled);
    cancelA();
  });

  it("fire a deadline and a sleep started by a deadline as it fires, each at its own time", async () => {
    const [a, cancelA] = withTimeout(background(), 10);
    let inner: Made | undefined;
    let slept: Promise<void> | undefined;
    a.signal.addEventListener("abort", () => {
      const due = Date.now() + 15;
      const [ctx, cancel] = withDeadline(background(), due);
      inner = { ctx, cancel, seq: 0, due };
      slept = sleep(background(), 0);
    });
    await ended(a);
    await slept; // started as a deadline fired, due at once: it fires on the next turn of the shared timer
    await ended(inner!.ctx);
    assert.ok(Date.now() >= inner!.due);
    inner!.cancel();
    cancelA();
  });

  it("keep a deadline beyond 2^31−1 ms from firing early, armed before or after a near one", async () => {
    const [far1, cancelFar1] = withTimeout(background(), 2 ** 31 + 1000);
    const [near, cancelNear] = withTimeout(background(), 10);
    const [far2, cancelFar2] = withDeadline(background(), Date.now() + 2 ** 33);
    await ended(near);
    await delay(20); // "not yet": an overflowed setTimeout fires after 1 ms
    assert.equal(far1.err(), undefined);
    assert.equal(far2.err(), undefined);
    cancelFar1();
    cancelFar2();
    cancelNear();
  });

  it("never run one deadline's callbacks in the async context (AsyncLocalStorage) of another's code", async () => {
    // The shared timer is armed by whichever deadline is earliest: its run must not carry that code's store
    // (one request's trace id, say) into the abort listeners of deadlines other code made.
    const als = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const listen = (ctx: Context): void => ctx.signal.addEventListener("abort", () => seen.push(als.getStore()));
    const [a, cancelA] = als.run("request A", () => withTimeout(background(), 5));
    const [b, cancelB] = als.run("request B", () => withTimeout(background(), 10));
    listen(b);
    await ended(b);
    cancelA();
    cancelB();
    assert.equal(a.err(), DeadlineExceeded);
    assert.deepEqual(seen, [undefined]);
  });

  it("leave a deadline armed on a virtual clock to that clock, and platform ones to the platform's", async () => {
    const [real, cancelReal] = withTimeout(background(), 20);
    await withVirtualClock(async (clock) => {
      const [virtual, cancelVirtual] = withTimeout(background(), 30);
      await ended(real); // the platform's timer, while the virtual clock stands still
      assert.equal(virtual.err(), undefined);
      assert.equal(clock.pending, 1);
      await clock.advance(30);
      assert.equal(virtual.err(), DeadlineExceeded);
      cancelVirtual();
    });
    cancelReal();
  });
});

// Each is a separate process; they run side by side.
describe("the shared timer keeps the process alive exactly while a sleep, after, ticker or held deadline waits", { concurrency: true }, () => {
  const programs: [name: string, lines: string[], out: string][] = [
    [
      "a sleep beside an hour's deadline: alive until the sleep is over, then exits",
      [`const [h] = L.withTimeout(L.background(), 3_600_000);`, `await L.sleep(L.background(), 100);`, `console.log(h.err() === undefined ? "ok" : "ended");`],
      "ok",
    ],
    [
      "a deadline earlier than a pending sleep re-arms the timer, still kept alive for the sleep",
      [
        `const p = L.sleep(L.background(), 150);`,
        `const [d] = L.withTimeout(L.background(), 30);`,
        `await p;`,
        `console.log(d.err() === L.DeadlineExceeded ? "ok" : "live");`,
      ],
      "ok",
    ],
    [
      "a sleep cancelled while an hour's deadline waits: exits at once",
      [
        `const [h] = L.withTimeout(L.background(), 3_600_000);`,
        `const [ctx, cancel] = L.withCancel(L.background());`,
        `const p = L.sleep(ctx, 60_000).catch((e) => e);`,
        `cancel();`,
        `console.log((await p) === L.Canceled && h.err() === undefined ? "ok" : "wrong");`,
      ],
      "ok",
    ],
    [
      "a wait on a later deadline keeps alive the timer armed for an earlier one, and then its own",
      [
        `const [a] = L.withTimeout(L.background(), 50);`,
        `const [b] = L.withTimeout(L.background(), 150);`,
        `await b.done().recv(L.background());`,
        `console.log(a.err() === L.DeadlineExceeded && b.err() === L.DeadlineExceeded ? "ok" : "live");`,
      ],
      "ok",
    ],
    [
      "a wait on a deadline that ends, beside an hour's deadline: exits once it is over",
      [
        `const [h] = L.withTimeout(L.background(), 3_600_000);`,
        `const [d] = L.withTimeout(L.background(), 50);`,
        `await d.done().recv(L.background());`,
        `console.log(h.err() === undefined ? "ok" : "ended");`,
      ],
      "ok",
    ],
  ];
  for (const [name, lines, out] of programs) {
    it(name, async () => {
      const r = await runScript(lines, { as: "L", timeoutMs: 5_000 });
      assert.equal(r.signal, null, `killed after 5 s: something kept the process alive. ${r.stderr}`);
      assert.equal(r.status, 0, `exited early (status ${r.status}): ${r.stdout} ${r.stderr}`);
      assert.equal(r.stdout.trim(), out);
    });
  }
});

describe("a timer whose fire throws", () => {
  it("surfaces as an uncaught error of the platform's timer, and the others due with it still fire", async () => {
    // The tracker hears each deadline end inside its fire; throwing there is a fire that throws.
    const r = await runScript(
      [
        `const [a] = L.withTimeout(L.background(), 50);`,
        `L.setTracker({ begin() {}, end(s) { if (s === a) throw new Error("tracker broke"); } });`,
        `const [b] = L.withDeadline(L.background(), a.deadline());`,
        `const [c] = L.withTimeout(L.background(), 100);`,
        `process.on("uncaughtException", (e) => console.log("uncaught", e.message));`,
        `await b.done().recv(L.background());`,
        `console.log("b", b.err() === L.DeadlineExceeded ? "deadline" : "live");`,
        `await c.done().recv(L.background());`,
        `console.log("c", c.err() === L.DeadlineExceeded ? "deadline" : "live");`,
      ],
      { as: "L" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["uncaught tracker broke", "b deadline", "c deadline"]);
  });
});

describe("cancelled deadlines", () => {
  it("leave nothing behind: 200,000 withTimeout(5 s) + cancel under a live hour's deadline retain no memory", async () => {
    const r = await runScript(
      [
        // A forced collection: Node and Deno (DENO_V8_FLAGS) through V8's gc, Bun through Bun.gc.
        `const gc = globalThis.gc ?? (globalThis.Bun ? () => globalThis.Bun.gc(true) : undefined);`,
        `if (gc === undefined) { console.log("no gc"); process.exit(0); }`,
        `const [h] = L.withTimeout(L.background(), 3_600_000);`,
        `const bg = L.background();`,
        `const round = () => { for (let i = 0; i < 200_000; i++) L.withTimeout(bg, 5_000)[1](); };`,
        `round();`, // warm-up: the heap's array reaches its size
        `gc(); const before = process.memoryUsage().heapUsed;`,
        `round();`,
        `gc(); const grown = process.memoryUsage().heapUsed - before;`,
        // A heap that kept them would hold 200,000 contexts (tens of MB).
        `console.log(grown < 2_000_000 && h.err() === undefined ? "ok" : "grew " + grown);`,
      ],
      { as: "L", env: { ...process.env, NODE_OPTIONS: "--expose-gc", DENO_V8_FLAGS: "--expose-gc" } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "ok");
  });
});

after(() => assertNoLeaks());
