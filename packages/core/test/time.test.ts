import { after as afterAllTests, describe, it } from "node:test";
import { assertNoLeaks, withVirtualClock } from "@lifeline/testing";
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  after,
  background,
  Canceled,
  DeadlineExceeded,
  recv,
  select,
  sleep,
  ticker,
  withCancel,
  withTimeout,
  type Context,
} from "@lifeline/core";
import { cancellable, endedContexts, exactly, runScript, track, typeErrorNaming } from "./support.js";

// ---- helpers ---------------------------------------------------------------------------------------------------

/**
 * exitsPromptly runs `body` (an ES module body; the package's exports are in scope as `L`) in a child node
 * process and asserts that it prints "ok" and exits on its own, well before any 60 s timer could fire.
 */
async function exitsPromptly(body: string): Promise<void> {
  const r = await runScript([body], { as: "L", timeoutMs: 5_000 });
  assert.equal(r.signal, null, `the child was still running after 5 s (killed by ${r.signal}); stderr: ${r.stderr}`);
  assert.equal(r.status, 0, `stderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), "ok");
}

// ---- sleep ------------------------------------------------------------------------------------------------------

describe("sleep", () => {
  it("resolves after ms, not before", async (t) => {
    const [ctx] = cancellable(t);
    const start = Date.now();
    await sleep(ctx, 20);
    assert.ok(Date.now() - start >= 20, `resolved after ${Date.now() - start} ms`);
  });

  it("is still waiting a millisecond before its time, and resolves at it (virtual clock)", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const s = track(sleep(ctx, 60_000));
      await clock.advance(59_999);
      assert.equal(s.state, "pending");
      await clock.advance(1);
      cancel();
      assert.equal(s.state, "fulfilled");
    });
  });

  for (const ms of [0, -5, -Infinity]) {
    it(`resolves for ms ${ms}`, async (t) => {
      const [ctx] = cancellable(t);
      await sleep(ctx, ms);
    });
  }

  it("rejects with Canceled when ctx is cancelled first", async () => {
    const [ctx, cancel] = withCancel(background());
    const s = sleep(ctx, 60_000);
    cancel();
    await assert.rejects(s, exactly(Canceled));
  });

  it("rejects with DeadlineExceeded when ctx's deadline comes first", async () => {
    const [ctx, cancel] = withTimeout(background(), 10);
    try {
      await assert.rejects(sleep(ctx, 60_000), exactly(DeadlineExceeded));
    } finally {
      cancel();
    }
  });

  it("with Infinity waits for ctx alone", async () => {
    const [ctx, cancel] = withCancel(background());
    const s = track(sleep(ctx, Infinity));
    await nextTurn();
    assert.equal(s.state, "pending");
    cancel();
    await nextTurn();
    assert.equal(s.state, "rejected");
    assert.equal(s.error, Canceled);
  });

  for (const [name, make, err] of endedContexts) {
    it(`rejects at once with ctx.err() on ${name}`, async () => {
      const s = track(sleep(make(), 60_000));
      await nextTurn();
      assert.equal(s.state, "rejected", "before any timer could fire");
      assert.equal(s.error, err);
    });
  }

  for (const bad of [NaN, "10", undefined, null]) {
    it(`throws a TypeError naming sleep for ms ${String(bad)} (${typeof bad})`, (t) => {
      const [ctx] = cancellable(t);
      assert.throws(() => sleep(ctx, bad as number), typeErrorNaming("sleep"));
    });
  }

  it("throws a TypeError naming sleep for a ctx that is not a Context", () => {
    assert.throws(() => sleep({} as Context, 1), typeErrorNaming("sleep"));
  });
});

// ---- after ------------------------------------------------------------------------------------------------------

describe("after", () => {
  it("delivers a Date once, no earlier than ms; then nothing, and it is not closed", async (t) => {
    const [ctx] = cancellable(t);
    const start = Date.now();
    const ch = after(20);
    const [v, ok] = await ch.recv(ctx);
    assert.equal(ok, true);
    assert.ok(v instanceof Date);
    assert.ok(v.getTime() - start >= 20, `delivered after ${v.getTime() - start} ms`);
    assert.equal(ch.tryRecv(), undefined, "delivered once; a closed channel would give [undefined, false]");
    assert.equal(ch.length, 0);
  });

  it("is not ready before its time", () => {
    const ch = after(60_000);
    assert.equal(ch.tryRecv(), undefined);
    assert.equal(ch.length, 0);
    assert.equal(ch.tryRecv(), undefined);
  });

  for (const ms of [0, -1]) {
    it(`with ms ${ms} is ready at once, once`, () => {
      const before = Date.now();
      const ch = after(ms);
      const r = ch.tryRecv();
      assert.ok(r !== undefined && r[1] === true);
      assert.ok(r[0] instanceof Date && r[0].getTime() >= before);
      assert.equal(ch.tryRecv(), undefined);
    });
  }

  it("keeps its value, the time it was due, for a receiver that comes after its time (virtual clock)", async () => {
    await withVirtualClock(async (clock) => {
      const start = clock.now();
      const ch = after(5);
      await clock.advance(15);
      assert.equal(ch.length, 1);
      const r = ch.tryRecv();
      assert.ok(r !== undefined && r[0] instanceof Date);
      assert.equal(r[0].getTime() - start, 15, "nobody waited: the time is read when the value is first looked at");
      assert.equal(ch.tryRecv(), undefined);
    });
  });

  it("wins a select against a context that does not end", async (t) => {
    const [ctx] = cancellable(t);
    const r = await select([recv(ctx.done()), recv(after(5))]);
    assert.equal(r.index, 1);
    assert.ok(r.value instanceof Date);
  });

  it("with Infinity never delivers", async () => {
    const [ctx, cancel] = withCancel(background());
    const r = select([recv(after(Infinity)), recv(ctx.done())]);
    await nextTurn();
    cancel();
    assert.equal((await r).index, 1);
  });

  for (const bad of [NaN, "5", undefined]) {
    it(`throws a TypeError naming after for ms ${String(bad)} (${typeof bad})`, () => {
      assert.throws(() => after(bad as number), typeErrorNaming("after"));
    });
  }
});

// ---- ticker -----------------------------------------------------------------------------------------------------

describe("ticker", () => {
  it("delivers ticks repeatedly, in time order", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const start = Date.now();
    const ch = ticker(ctx, 5);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [v, ok] = await ch.recv(ctx);
      assert.equal(ok, true);
      assert.ok(v instanceof Date);
      times.push(v.getTime());
    }
    cancel();
    assert.ok(times[0]! >= start);
    assert.ok(times[0]! <= times[1]! && times[1]! <= times[2]!, `times ${times.join(", ")}`);
  });

  it("drops ticks for a slow receiver: at most one waits in the channel (virtual clock)", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const start = clock.now();
      const ch = ticker(ctx, 2);
      assert.equal(ch.capacity, 1);
      await clock.advance(30); // 15 ticks
      assert.equal(ch.length, 1);
      const r = ch.tryRecv();
      assert.ok(r !== undefined && r[0] instanceof Date);
      assert.equal(r[0].getTime() - start, 2, "the first tick is kept");
      assert.equal(ch.tryRecv(), undefined, "the other ticks were dropped, not queued");
      await clock.advance(2);
      assert.equal(ch.tryRecv()?.[0]?.getTime(), start + 32, "ticking goes on, on schedule");
      cancel();
    });
  });

  it("stops and closes its channel when ctx ends, so for await ends (virtual clock)", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const ch = ticker(ctx, 2);
      let n = 0;
      const loop = (async () => {
        for await (const v of ch) {
          assert.ok(v instanceof Date);
          if (++n === 3) cancel();
        }
      })();
      await clock.advance(10);
      await loop;
      assert.equal(n, 3, "every tick was received before the next; none after the end");
      assert.deepEqual(ch.tryRecv(), [undefined, false]);
      assert.equal(clock.pending, 0, "the ticker's timer is cleared");
      await clock.advance(10);
      assert.deepEqual(ch.tryRecv(), [undefined, false], "no tick after the end");
    });
  });

  it("closes its channel when ctx's deadline passes (virtual clock)", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withTimeout(background(), 20);
      const ch = ticker(ctx, 60_000);
      const r = ch.recv(background());
      await clock.advance(20);
      assert.deepEqual(await r, [undefined, false]);
      cancel();
    });
  });

  for (const [name, make] of endedContexts) {
    it(`on ${name} returns a closed channel`, async () => {
      const ch = ticker(make(), 5);
      assert.deepEqual(ch.tryRecv(), [undefined, false]);
      let n = 0;
      for await (const _ of ch) n++;
      assert.equal(n, 0);
    });
  }

  for (const bad of [0, -1, NaN, Infinity, 2 ** 31, "5", undefined]) {
    it(`throws a TypeError naming ticker for ms ${String(bad)} (${typeof bad})`, (t) => {
      const [ctx] = cancellable(t);
      assert.throws(() => ticker(ctx, bad as number), typeErrorNaming("ticker"));
    });
  }

  it("throws a TypeError naming ticker for a ctx that is not a Context", () => {
    assert.throws(() => ticker(undefined as unknown as Context, 5), typeErrorNaming("ticker"));
  });
});

// ---- no timer outlives its purpose ------------------------------------------------------------------------------

// Each case is a separate node process; they run side by side.
describe("timers that lost do not keep the process alive", { concurrency: true }, () => {
  const programs: [string, string][] = [
    [
      "an after(60 s) that lost a select to an already cancelled ctx",
      `const [ctx, cancel] = L.withCancel(L.background());
       cancel();
       const r = await L.select([L.recv(ctx.done()), L.recv(L.after(60_000))]);
       console.log(r.index === 0 ? "ok" : "wrong case");`,
    ],
    [
      "an after(60 s) that lost a select to a cancel while both waited",
      `const [ctx, cancel] = L.withCancel(L.background());
       const p = L.select([L.recv(ctx.done()), L.recv(L.after(60_000))]);
       await Promise.resolve();
       cancel();
       const r = await p;
       console.log(r.index === 0 ? "ok" : "wrong case");`,
    ],
    [
      "an after(60 s) that lost a select to a deadline",
      `const [ctx, cancel] = L.withTimeout(L.background(), 10);
       const r = await L.select([L.recv(ctx.done()), L.recv(L.after(60_000))]);
       cancel();
       console.log(r.index === 0 ? "ok" : "wrong case");`,
    ],
    [
      "an after(60 s) whose recv(ctx) was cancelled",
      `const [ctx, cancel] = L.withCancel(L.background());
       const p = L.after(60_000).recv(ctx).catch((e) => e);
       cancel();
       console.log((await p) === L.Canceled ? "ok" : "wrong error");`,
    ],
    [
      "an after(60 s) nobody received from",
      `L.after(60_000);
       console.log("ok");`,
    ],
    [
      "a sleep(60 s) whose ctx was cancelled",
      `const [ctx, cancel] = L.withCancel(L.background());
       const p = L.sleep(ctx, 60_000).catch((e) => e);
       cancel();
       console.log((await p) === L.Canceled ? "ok" : "wrong error");`,
    ],
    [
      "a ticker whose ctx was cancelled",
      `const [ctx, cancel] = L.withCancel(L.background());
       const ch = L.ticker(ctx, 5);
       await ch.recv(L.background());
       cancel();
       console.log("ok");`,
    ],
  ];
  for (const [name, body] of programs) {
    it(`exits promptly with ${name}`, async () => {
      await exitsPromptly(body);
    });
  }
});

afterAllTests(() => assertNoLeaks());
