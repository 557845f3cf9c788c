import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  after as afterMs,
  background,
  blockOn,
  Channel,
  DeadlineExceeded,
  go,
  recv,
  remaining,
  select,
  sleep,
  ticker,
  withCancel,
  withDeadline,
  withTimeout,
  workerPool,
  Semaphore,
  WaitGroup,
  type Context,
} from "@lifeline/core";
import { assertNoLeaks, installVirtualClock, withVirtualClock, type VirtualClock } from "@lifeline/testing";

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** realTimers counts the platform's pending setTimeout/setInterval timers in this process. */
function realTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

/** hops lets `n` turns of the event loop pass (microtasks and ready I/O run), with no timer. */
async function hops(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

const START = Date.UTC(2026, 0, 1);

describe("withVirtualClock", () => {
  it("ends a 30 s withTimeout after advance(30_000), and not a millisecond before, in milliseconds of wall time", async (t) => {
    let wallMs = NaN;
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withTimeout(background(), 30_000);
      assert.equal(remaining(ctx), 30_000); // virtual time stands still
      assert.equal(ctx.deadline(), clock.now() + 30_000);
      await clock.advance(29_999);
      assert.equal(ctx.err(), undefined);
      assert.equal(remaining(ctx), 1);
      const t0 = performance.now();
      await clock.advance(1);
      wallMs = performance.now() - t0;
      assert.equal(ctx.err(), DeadlineExceeded);
      assert.equal(remaining(ctx), 0);
      cancel();
    });
    const t0 = performance.now();
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withTimeout(background(), 30_000);
      await clock.advance(30_000);
      assert.equal(ctx.err(), DeadlineExceeded);
      cancel();
    });
    const wholeMs = performance.now() - t0;
    t.diagnostic(`advance(1) to the deadline: ${wallMs.toFixed(3)} ms; install + withTimeout + advance(30_000) + uninstall: ${wholeMs.toFixed(3)} ms of wall time`);
    assert.ok(wholeMs < 1000, `a 30 s timeout took ${wholeMs} ms of wall time under the virtual clock`);
  });

  it("ends a deadline beyond setTimeout's 2^31−1 ms (chained) exactly at its time, not a millisecond early", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withTimeout(background(), 2 ** 32);
      await clock.advance(2 ** 31); // the first link of the chain fires here, and re-arms
      assert.equal(ctx.err(), undefined);
      await clock.advance(2 ** 31 - 1);
      assert.equal(ctx.err(), undefined);
      assert.equal(remaining(ctx), 1);
      await clock.advance(1);
      assert.equal(ctx.err(), DeadlineExceeded);
      cancel();
    });
  });

  it("wakes a task blocked on a recv under a 2 s deadline when the clock passes it", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withTimeout(background(), 2_000);
      const never = new Channel<number>();
      const task = go(ctx, async (ctx) => {
        try {
          await never.recv(ctx);
          return "received";
        } catch (e) {
          return e === DeadlineExceeded ? "gave up" : String(e);
        }
      });
      await clock.wait();
      assert.equal(task.state, "blocked");
      await clock.advance(2_000);
      assert.equal(await task, "gave up");
      cancel();
    });
  });

  it("ticks a ticker exactly n times for advance(n × period), each tick carrying its virtual time", async () => {
    await withVirtualClock(
      async (clock) => {
        const [ctx, cancel] = withCancel(background());
        const ticks: number[] = [];
        const ch = ticker(ctx, 100);
        const task = go(ctx, async (ctx) => {
          for await (const at of ch.range(ctx)) ticks.push(at.getTime());
        });
        await clock.advance(10 * 100);
        assert.equal(ticks.length, 10);
        assert.deepEqual(
          ticks,
          Array.from({ length: 10 }, (_, i) => START + (i + 1) * 100),
        );
        await clock.advance(99);
        assert.equal(ticks.length, 10);
        await clock.advance(1);
        assert.equal(ticks.length, 11);
        cancel();
        await task;
        assert.equal(clock.pending, 0);
      },
      { now: START },
    );
  });

  it("resolves sleep, after() in a select and a past-due timer only as the virtual time reaches them", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      let slept = false;
      const s = sleep(ctx, 500).then(() => (slept = true));
      const timeout = afterMs(250);
      const idle = new Channel<string>();
      const chosen = select([recv(idle), recv(timeout)]);
      await clock.advance(249);
      assert.equal(slept, false);
      await clock.advance(1);
      assert.equal((await chosen).index, 1);
      assert.equal(slept, false);
      await clock.advance(250);
      await s;
      assert.equal(slept, true);
      // sleep(ctx, 0) is due now: it resolves without an advance.
      await sleep(ctx, 0);
      cancel();
    });
  });

  it("drives a workerPool's shutdown grace period: the job is aborted when the grace expires", async () => {
    await withVirtualClock(async (clock) => {
      const jobs = new Channel<string>(1);
      const started = deferred();
      const pool = workerPool(
        background(),
        jobs,
        async (ctx: Context) => {
          started.resolve();
          await sleep(ctx, 60_000); // ignores the drain, stops only when aborted
        },
        { workers: 1 },
      );
      await jobs.send(background(), "long job");
      await started.promise;
      const report = pool.shutdown(5_000);
      let done = false;
      void report.then(() => (done = true));
      await clock.advance(4_999);
      assert.equal(done, false);
      await clock.advance(1);
      assert.deepEqual((await report).aborted, ["long job"]);
      jobs.close();
    });
  });

  it("leaves timers outside lifeline alone: a real setTimeout still fires with no advance", async () => {
    await withVirtualClock(async () => {
      await new Promise((r) => setTimeout(r, 1));
    });
  });

  it("keeps a deadline armed before installation on the real clock", async () => {
    const [ctx, cancel] = withTimeout(background(), 5);
    await withVirtualClock(async (clock) => {
      await clock.advance(60_000);
      assert.equal(ctx.err(), undefined, "a virtual advance must not end a real deadline");
      await ctx.done().recv(background()); // it ends in real time
      assert.equal(ctx.err(), DeadlineExceeded);
    });
    cancel();
  });
});

describe("VirtualClock.wait", () => {
  it("stays pending while a task is busy on a promise lifeline did not make, and resolves once it parks", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const outside = deferred();
      const ch = new Channel<number>();
      const task = go(ctx, async (ctx) => {
        await outside.promise; // running: not blocked on anything lifeline or time can release
        return ch.recv(ctx);
      });
      let waited = false;
      const w = clock.wait().then(() => (waited = true));
      await hops(50);
      assert.equal(waited, false, "wait() resolved while a task was running");
      assert.equal(task.state, "running");
      outside.resolve();
      await w;
      assert.equal(task.state, "blocked");
      assert.equal(task.blockedOn, "chan recv");
      await ch.send(ctx, 1);
      assert.deepEqual(await task, [1, true]);
      cancel();
    });
  });

  it("resolves when every task is blocked on time or on another task, and moves no time", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const ch = new Channel<number>();
      const t0 = clock.now();
      const sleeper = go(ctx, (ctx) => sleep(ctx, 1_000));
      const receiver = go(ctx, (ctx) => ch.recv(ctx));
      await clock.wait();
      assert.equal(sleeper.state, "blocked");
      assert.equal(receiver.state, "blocked");
      assert.equal(clock.now(), t0);
      cancel();
      await assert.rejects(Promise.resolve(sleeper));
      await assert.rejects(Promise.resolve(receiver));
    });
  });

  it("counts tasks parked on a WaitGroup, a Semaphore and a sleep(0) due now as blocked once the sleep has fired", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const wg = new WaitGroup();
      wg.add(1);
      const sem = new Semaphore(1);
      await sem.acquire(ctx);
      const t0 = clock.now();
      const waiter = go(ctx, (ctx) => wg.wait(ctx));
      const acquirer = go(ctx, (ctx) => sem.acquire(ctx));
      const napper = go(ctx, async (ctx) => {
        await sleep(ctx, 0); // due now: fires with no advance
        await sleep(ctx, 10);
      });
      await clock.wait();
      assert.equal(waiter.blockedOn?.startsWith("WaitGroup"), true, waiter.blockedOn);
      assert.equal(acquirer.state, "blocked");
      assert.equal(napper.blockedOn, "sleep 10ms", "the sleep(0) fired by itself, the task parked on the next");
      assert.equal(clock.now(), t0);
      wg.done();
      await waiter;
      sem.release();
      await acquirer;
      sem.release();
      await clock.advance(10);
      await napper;
      cancel();
    });
  });

  it("stays pending while a task is in blockOn (a wait on the outside world)", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      const outside = deferred<string>();
      const task = go(ctx, (ctx) => blockOn(ctx, "worker run", outside.promise));
      let waited = false;
      const w = clock.wait().then(() => (waited = true));
      await hops(50);
      assert.equal(task.state, "blocked");
      assert.equal(waited, false, "wait() resolved while a task waited on the outside world");
      outside.resolve("ok");
      await w;
      assert.equal(await task, "ok");
      cancel();
    });
  });

  it("does not wait for tasks started before the clock was installed", async () => {
    const outside = deferred();
    const [ctx, cancel] = withCancel(background());
    const old = go(ctx, () => outside.promise);
    await withVirtualClock(async (clock) => {
      await clock.wait();
      assert.equal(old.state, "running");
    });
    outside.resolve();
    await old;
    cancel();
  });
});

describe("VirtualClock.runUntilIdle", () => {
  it("jumps from timer to timer while every task is blocked, until none is left", async () => {
    await withVirtualClock(async (clock) => {
      const t0 = clock.now();
      const [ctx, cancel] = withCancel(background());
      const steps: number[] = [];
      const task = go(ctx, async (ctx) => {
        await sleep(ctx, 1_000);
        steps.push(clock.now() - t0);
        const [c2, cancel2] = withTimeout(ctx, 2_000);
        await c2.done().recv(ctx);
        cancel2();
        steps.push(clock.now() - t0);
        return "done";
      });
      const fired = await clock.runUntilIdle();
      assert.equal(await task, "done");
      assert.deepEqual(steps, [1_000, 3_000]);
      assert.equal(fired, 2);
      assert.equal(clock.now() - t0, 3_000);
      cancel();
    });
  });

  it("rejects, naming itself, when a ticker keeps the clock busy past the limit", async () => {
    await withVirtualClock(async (clock) => {
      const [ctx, cancel] = withCancel(background());
      ticker(ctx, 10);
      await assert.rejects(clock.runUntilIdle(50), /VirtualClock\.runUntilIdle: still busy after firing 50 timers/);
      cancel();
    });
  });
});

describe("installing and removing the virtual clock", () => {
  it("arms no real timer for lifeline's timers while installed, and leaves none behind", async () => {
    const before = realTimers();
    let clock!: VirtualClock;
    await withVirtualClock(async (c) => {
      clock = c;
      const [ctx, cancel] = withCancel(background());
      const [dctx, dcancel] = withDeadline(ctx, c.now() + 1_000_000);
      const napping = sleep(dctx, 10_000).catch(() => "cancelled");
      const tick = ticker(ctx, 50);
      const racing = select([recv(afterMs(70_000)), recv(dctx.done())]);
      const [tctx, tcancel] = withTimeout(ctx, 3 * 2 ** 31); // beyond setTimeout's range: chained on a real clock
      await hops(5);
      assert.equal(realTimers(), before, "a lifeline timer went to the platform while the virtual clock was installed");
      assert.equal(c.pending, 5); // the deadline, the sleep, the ticker, the after() with a receiver, the long timeout
      await c.advance(60);
      const [first] = await tick.recv(ctx);
      assert.ok(first instanceof Date);
      dcancel();
      assert.equal(await napping, "cancelled");
      assert.equal((await racing).index, 1);
      tcancel();
      cancel();
      assert.equal(c.pending, 0);
      assert.equal(tctx.err() !== undefined, true);
    });
    assert.equal(realTimers(), before, "a real timer was left behind");
    assert.equal(clock.pending, 0);
    await assert.rejects(clock.advance(1), /VirtualClock\.advance: this virtual clock was uninstalled/);
    // lifeline's timers are real again: a 1 ms sleep arms a platform timer and resolves by itself.
    const s = sleep(background(), 1);
    assert.equal(realTimers(), before + 1);
    await s;
  });

  it("drops timers still pending at uninstall: they never fire, and no real timer takes their place", async () => {
    const before = realTimers();
    const clock = installVirtualClock();
    const [ctx, cancel] = withTimeout(background(), 1_000);
    assert.equal(clock.pending, 1);
    clock.uninstall();
    clock.uninstall(); // idempotent
    assert.equal(clock.pending, 0);
    assert.equal(realTimers(), before);
    assert.equal(ctx.err(), undefined);
    cancel();
  });

  it("rejects nested and concurrent use with an Error naming the function, and keeps the first clock working", async () => {
    await withVirtualClock(async (clock) => {
      await assert.rejects(
        withVirtualClock(() => undefined),
        (e: unknown) => e instanceof Error && /^withVirtualClock: a virtual clock is already installed/.test(e.message),
      );
      assert.throws(() => installVirtualClock(), /^Error: installVirtualClock: a virtual clock is already installed/);
      const [ctx, cancel] = withTimeout(background(), 10);
      const first = clock.advance(5);
      await assert.rejects(clock.advance(5), /VirtualClock\.advance: the clock is already advancing/);
      await assert.rejects(clock.runUntilIdle(), /VirtualClock\.runUntilIdle: the clock is already advancing/);
      await first;
      await clock.advance(5);
      assert.equal(ctx.err(), DeadlineExceeded);
      cancel();
    });
  });

  for (const bad of [NaN, -1, Infinity, "10", undefined]) {
    it(`rejects advance(${String(bad)}) with a TypeError naming VirtualClock.advance`, async () => {
      await withVirtualClock(async (clock) => {
        await assert.rejects(clock.advance(bad as number), (e: unknown) => e instanceof TypeError && e.message.startsWith("VirtualClock.advance: ms must be"));
      });
    });
  }

  it("throws TypeErrors naming the function for a bad fn or start time", async () => {
    await assert.rejects(withVirtualClock(undefined as unknown as () => void), /withVirtualClock: fn must be a function, got `undefined`/);
    assert.throws(() => installVirtualClock({ now: NaN }), (e: unknown) => e instanceof TypeError && e.message.startsWith("installVirtualClock: options.now"));
    assert.throws(() => installVirtualClock({ now: new Date(NaN) }), TypeError);
  });

  it("starts at the given time and uninstalls when fn throws", async () => {
    await assert.rejects(
      withVirtualClock(
        (clock) => {
          assert.equal(clock.now(), START);
          const [ctx, cancel] = withTimeout(background(), 1_000);
          assert.equal(ctx.deadline(), START + 1_000);
          cancel();
          throw new Error("boom");
        },
        { now: new Date(START) },
      ),
      /boom/,
    );
    // The platform's clock is back.
    const [ctx, cancel] = withTimeout(background(), 1_000);
    assert.ok(Math.abs(ctx.deadline()! - (Date.now() + 1_000)) < 100);
    cancel();
  });
});

after(() => assertNoLeaks());
