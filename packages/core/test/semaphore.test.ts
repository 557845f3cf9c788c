import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import {
  background,
  Canceled,
  DeadlineExceeded,
  Semaphore,
  withCancelCause,
  withDeadline,
  withTimeout,
  type CancelFunc,
  type Context,
} from "@lifeline/core";
import { cancellable, cancelled, delay, keepAlive, ticks, track, type State } from "./support.js";

// ---- helpers ---------------------------------------------------------------------------------------------------

function states(ws: State<unknown>[]): string[] {
  return ws.map((w) => w.state);
}

// ---- acquire / release -----------------------------------------------------------------------------------------

describe("Semaphore", () => {
  it("grants acquires at once while permits are free, and counts what is available", async (t) => {
    const [ctx] = cancellable(t);
    const sem = new Semaphore(5);
    assert.equal(sem.size, 5);
    assert.equal(sem.available, 5);
    await sem.acquire(ctx);
    assert.equal(sem.available, 4);
    await sem.acquire(ctx, 3);
    assert.equal(sem.available, 1);
    sem.release(3);
    sem.release();
    assert.equal(sem.available, 5);
  });

  it("makes an acquire wait until enough permits are released", async (t) => {
    const [ctx] = cancellable(t);
    const sem = new Semaphore(3);
    await sem.acquire(ctx, 3);
    const w = track(sem.acquire(ctx, 2));
    sem.release(1);
    await delay(5);
    assert.equal(w.state, "pending", "granted 2 permits when 1 was free");
    assert.equal(sem.available, 1);
    sem.release(1);
    await ticks(2);
    assert.equal(w.state, "fulfilled");
    assert.equal(sem.available, 0);
    sem.release(3);
  });

  it("serves waiters first in, first out: a large waiter at the head is not overtaken by smaller ones", async (t) => {
    const [ctx] = cancellable(t);
    const sem = new Semaphore(10);
    await sem.acquire(ctx, 10);
    const big = track(sem.acquire(ctx, 10));
    const small1 = track(sem.acquire(ctx, 1));
    const small2 = track(sem.acquire(ctx, 2));
    sem.release(5);
    await delay(5);
    assert.deepEqual(states([big, small1, small2]), ["pending", "pending", "pending"]);
    assert.equal(sem.available, 5, "permits were handed to a waiter behind the head");
    sem.release(5);
    await ticks(2);
    assert.deepEqual(states([big, small1, small2]), ["fulfilled", "pending", "pending"]);
    assert.equal(sem.available, 0);
    sem.release(10);
    await ticks(2);
    assert.deepEqual(states([big, small1, small2]), ["fulfilled", "fulfilled", "fulfilled"]);
    assert.equal(sem.available, 7);
    sem.release(3);
  });

  it("queues a new acquire behind waiters even when it would fit", async (t) => {
    const [ctx] = cancellable(t);
    const sem = new Semaphore(4);
    await sem.acquire(ctx, 2);
    const big = track(sem.acquire(ctx, 4));
    const small = track(sem.acquire(ctx, 1));
    await ticks(2);
    assert.deepEqual(states([big, small]), ["pending", "pending"]);
    assert.equal(sem.tryAcquire(1), false, "tryAcquire jumped the queue");
    assert.equal(sem.available, 2);
    sem.release(2);
    await ticks(2);
    assert.deepEqual(states([big, small]), ["fulfilled", "pending"]);
    sem.release(4);
    await ticks(2);
    assert.equal(small.state, "fulfilled");
    sem.release(1);
    assert.equal(sem.available, 4);
  });

  it("grants several waiters from one release when they all fit", async (t) => {
    const [ctx] = cancellable(t);
    const sem = new Semaphore(4);
    await sem.acquire(ctx, 4);
    const ws = [track(sem.acquire(ctx, 1)), track(sem.acquire(ctx, 2)), track(sem.acquire(ctx, 2))];
    sem.release(4);
    await ticks(2);
    assert.deepEqual(states(ws), ["fulfilled", "fulfilled", "pending"]);
    assert.equal(sem.available, 1);
    sem.release(3);
    await ticks(2);
    assert.deepEqual(states(ws), ["fulfilled", "fulfilled", "fulfilled"]);
    sem.release(2);
    assert.equal(sem.available, 4);
  });
});

// ---- contexts --------------------------------------------------------------------------------------------------

describe("Semaphore.acquire with a ctx", () => {
  const endedCtxs: [what: string, make: () => [Context, CancelFunc], err: Error][] = [
    ["cancelled", cancelled, Canceled],
    [
      "cancelled with a cause",
      () => {
        const [ctx, cancel] = withCancelCause(background());
        cancel(new Error("why"));
        return [ctx, () => cancel()];
      },
      Canceled,
    ],
    ["past its deadline", () => withDeadline(background(), Date.now() - 1), DeadlineExceeded],
  ];
  for (const [what, make, err] of endedCtxs) {
    it(`rejects with ctx.err() when ctx is already ${what}, even with every permit free`, async (t) => {
      const [ctx, cancel] = make();
      t.after(cancel);
      const sem = new Semaphore(3);
      await assert.rejects(sem.acquire(ctx, 1), (e) => e === err);
      assert.equal(sem.available, 3, "a rejected acquire took permits");
    });
  }

  it("frees a cancelled waiter's place in the queue and lets the next waiter proceed", async (t) => {
    const [holder] = cancellable(t);
    const [a, cancelA] = cancellable(t);
    const [b] = cancellable(t);
    const sem = new Semaphore(1);
    await sem.acquire(holder);
    const waiterA = track(sem.acquire(a));
    const waiterB = track(sem.acquire(b));
    await ticks(2);
    assert.deepEqual(states([waiterA, waiterB]), ["pending", "pending"]);

    cancelA();
    await ticks(2);
    assert.equal(waiterA.state, "rejected");
    assert.equal(waiterA.error, Canceled);
    assert.equal(waiterB.state, "pending");
    assert.equal(sem.available, 0);

    sem.release();
    await ticks(2);
    assert.equal(waiterB.state, "fulfilled", "the waiter behind the cancelled one did not get the permit");
    assert.equal(sem.available, 0, "the cancelled waiter was also granted a permit");
    sem.release();
    assert.equal(sem.available, 1);
    assert.throws(() => sem.release(), Error, "the cancelled waiter holds a permit");
  });

  it("lets smaller waiters behind a cancelled head proceed at once when they fit", async (t) => {
    const [holder] = cancellable(t);
    const [a, cancelA] = cancellable(t);
    const [b] = cancellable(t);
    const sem = new Semaphore(3);
    await sem.acquire(holder, 2);
    const big = track(sem.acquire(a, 3));
    const small = track(sem.acquire(b, 1));
    await delay(5);
    assert.deepEqual(states([big, small]), ["pending", "pending"]);
    cancelA();
    await ticks(2);
    assert.deepEqual(states([big, small]), ["rejected", "fulfilled"]);
    assert.equal(sem.available, 0);
    sem.release(3);
  });

  it("rejects with DeadlineExceeded when the deadline passes while queued, holding nothing", async (t) => {
    keepAlive(t);
    const [holder] = cancellable(t);
    const [ctx, cancel] = withTimeout(background(), 5);
    t.after(cancel);
    const sem = new Semaphore(2);
    await sem.acquire(holder, 2);
    await assert.rejects(sem.acquire(ctx, 1), (e) => e === DeadlineExceeded);
    sem.release(2);
    assert.equal(sem.available, 2);
  });

  it("keeps permits granted before the ctx ends", async (t) => {
    const [holder] = cancellable(t);
    const [a, cancelA] = cancellable(t);
    const sem = new Semaphore(1);
    await sem.acquire(holder);
    const w = sem.acquire(a);
    sem.release();
    await w;
    cancelA();
    await ticks(2);
    assert.equal(sem.available, 0, "cancelling after the grant gave the permit back");
    sem.release();
  });
});

// ---- tryAcquire ------------------------------------------------------------------------------------------------

describe("Semaphore.tryAcquire", () => {
  it("takes permits that are free and returns false, taking nothing, when they are not", () => {
    const sem = new Semaphore(3);
    assert.equal(sem.tryAcquire(2), true);
    assert.equal(sem.available, 1);
    assert.equal(sem.tryAcquire(2), false);
    assert.equal(sem.available, 1);
    assert.equal(sem.tryAcquire(), true);
    assert.equal(sem.available, 0);
    assert.equal(sem.tryAcquire(), false);
    sem.release(3);
  });
});

// ---- misuse ----------------------------------------------------------------------------------------------------

describe("Semaphore misuse", () => {
  it("throws when more permits are released than are held", () => {
    const sem = new Semaphore(3);
    assert.throws(() => sem.release(), (e: unknown) => e instanceof Error && /release/.test(e.message));
    assert.ok(sem.tryAcquire(2));
    assert.throws(() => sem.release(3), (e: unknown) => e instanceof Error && /release/.test(e.message));
    assert.equal(sem.available, 1, "a failed release changed the count");
    sem.release(2);
    assert.equal(sem.available, 3);
  });

  describe("rejects a count that is not an integer from 1 to size with a TypeError", () => {
    const bad: [label: string, n: number][] = [
      ["0", 0],
      ["-1", -1],
      ["size + 1", 4],
      ["1.5", 1.5],
      ["NaN", NaN],
      ["\"1\"", "1" as unknown as number],
    ];
    const calls: [name: string, call: (sem: Semaphore, n: number) => unknown][] = [
      ["acquire", (sem, n) => sem.acquire(background(), n)],
      ["tryAcquire", (sem, n) => sem.tryAcquire(n)],
      ["release", (sem, n) => sem.release(n)],
    ];
    for (const [name, call] of calls) {
      for (const [label, n] of bad) {
        it(`${name}(${label})`, () => {
          const sem = new Semaphore(3);
          assert.throws(
            () => call(sem, n),
            (e: unknown) => e instanceof TypeError && e.message.includes(`Semaphore.${name}`),
          );
          assert.equal(sem.available, 3);
        });
      }
    }
  });

  it("rejects an acquire ctx that is not a Context with a TypeError", () => {
    const sem = new Semaphore(1);
    assert.throws(() => sem.acquire({} as Context), TypeError);
    assert.equal(sem.available, 1);
  });

  describe("rejects a size that is not a positive integer with a TypeError", () => {
    for (const size of [0, -1, 1.5, NaN, Infinity, "2" as unknown as number]) {
      it(`new Semaphore(${String(size)})`, () => {
        assert.throws(() => new Semaphore(size), (e: unknown) => e instanceof TypeError && /Semaphore/.test(e.message));
      });
    }
  });
});

after(() => assertNoLeaks());
