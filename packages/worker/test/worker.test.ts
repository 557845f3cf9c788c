import { after, describe, it } from "node:test";
import { assertNoLeaks, withVirtualClock } from "@lifeline/testing";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import {
  background,
  Canceled,
  DeadlineExceeded,
  go,
  isCanceled,
  isDeadlineExceeded,
  withCancel,
  withCancelCause,
  withTimeout,
} from "@lifeline/core";
import { WorkerCrashedError, WorkerPool, WorkerPoolClosedError, type StopReport } from "@lifeline/worker";
import type { Op } from "./fixtures/tasks.js";

const TASKS = new URL("./fixtures/tasks.js", import.meta.url);
const execFileAsync = promisify(execFile);

function pool(size: number, graceMs: number): WorkerPool<Op, unknown> {
  return new WorkerPool<Op, unknown>(TASKS, { size, graceMs });
}

function flag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** started resolves once the worker stored 1 in the flag (Atomics.waitAsync: no polling, no sleep). */
async function started(f: Int32Array): Promise<void> {
  const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync;
  const r = waitAsync(f, 0, 0);
  if (r.async) await r.value;
}

function release(f: Int32Array): void {
  Atomics.store(f, 0, 1);
  Atomics.notify(f, 0);
}

function firstMessage(port: MessagePort): Promise<Record<string, unknown>> {
  return new Promise((resolve) => port.once("message", resolve));
}

async function withPool<T>(p: WorkerPool<Op, unknown>, fn: (p: WorkerPool<Op, unknown>) => Promise<T>): Promise<T> {
  try {
    return await fn(p);
  } finally {
    await p.close(background());
  }
}

describe("WorkerPool.run", () => {
  it("returns the worker's result, structured-cloned, and moves transferred buffers", () =>
    withPool(pool(1, 1000), async (p) => {
      assert.deepEqual(await p.run(background(), { op: "echo", value: { a: [1, 2], m: new Map([["k", 1]]) } }), {
        a: [1, 2],
        m: new Map([["k", 1]]),
      });
      const data = new Uint8Array(1024);
      assert.equal(await p.run(background(), { op: "bytes", data }, { transfer: [data.buffer] }), 1024);
      assert.equal(data.byteLength, 0, "the buffer was moved, not copied");
    }));

  it("stops a cooperative CPU loop when the context ends, and reuses its thread", () =>
    withPool(pool(1, 60_000), async (p) => {
      const [ctx, cancel] = withCancel(background());
      const s = flag();
      const stops: StopReport[] = [];
      const run = p.run(ctx, { op: "coop", started: s }, { onStop: (r) => stops.push(r) });
      await started(s);
      const [before] = p.threadIds();
      cancel();
      await assert.rejects(run, (e) => e === Canceled);
      assert.equal(stops.length, 1);
      assert.equal(stops[0]!.stoppedBy, "cooperative");
      assert.equal(stops[0]!.threadId, before);
      // The same thread runs the next task: it was not terminated (the grace period is a minute).
      assert.equal(await p.run(background(), { op: "threadId" }), before);
    }));

  it("terminates a task that ignores its context after the grace period, and serves the next task on a fresh thread", () =>
    withPool(pool(1, 50), async (p) => {
      const [ctx, cancel] = withCancel(background());
      const s = flag();
      const stops: StopReport[] = [];
      const run = p.run(ctx, { op: "spin", started: s }, { onStop: (r) => stops.push(r) });
      await started(s);
      const [spinner] = p.threadIds();
      cancel();
      await assert.rejects(run, (e) => isCanceled(e));
      assert.deepEqual(
        stops.map((r) => [r.stoppedBy, r.threadId]),
        [["terminate", spinner]],
      );
      // Not before the grace period (less a few ms: Node's timers may fire up to a millisecond early).
      assert.ok(stops[0]!.ms >= 45, `terminated only after the grace period, got ${stops[0]!.ms} ms`);
      const next = await p.run(background(), { op: "threadId" });
      assert.notEqual(next, spinner);
      assert.deepEqual(p.threadIds(), [next]);
    }));

  it("never touches a task on another thread while it terminates one", () =>
    withPool(pool(2, 20), async (p) => {
      const [ctx, cancel] = withCancel(background());
      const s1 = flag();
      const s2 = flag();
      const r2 = flag();
      const spin = p.run(ctx, { op: "spin", started: s1 });
      const hold = p.run(background(), { op: "hold", started: s2, release: r2 });
      await Promise.all([started(s1), started(s2)]);
      cancel();
      await assert.rejects(spin, (e) => e === Canceled);
      release(r2);
      const held = (await hold) as { threadId: number; err: string | undefined };
      assert.equal(held.err, undefined, "the other task's context never ended");
      assert.ok(p.threadIds().includes(held.threadId));
    }));

  it("removes a queued task whose context ends from the queue", () =>
    withPool(pool(1, 1000), async (p) => {
      const s = flag();
      const r = flag();
      const hold = p.run(background(), { op: "hold", started: s, release: r });
      await started(s);
      const [ctx, cancel] = withCancel(background());
      const stops: StopReport[] = [];
      const queued = p.run(ctx, { op: "threadId" }, { onStop: (x) => stops.push(x) });
      assert.equal(p.queued, 1);
      cancel();
      await assert.rejects(queued, (e) => e === Canceled);
      assert.equal(p.queued, 0);
      assert.deepEqual(stops.map((x) => [x.stoppedBy, x.threadId]), [["queue", undefined]]);
      release(r);
      await hold;
    }));

  it("fails only the crashed task with WorkerCrashedError, and replaces the thread", () =>
    withPool(pool(2, 1000), async (p) => {
      const s = flag();
      const r = flag();
      const hold = p.run(background(), { op: "hold", started: s, release: r });
      await started(s);
      await assert.rejects(p.run(background(), { op: "crash" }), (e) => {
        assert.ok(e instanceof WorkerCrashedError);
        assert.equal(e.name, "WorkerCrashedError");
        assert.ok(e.cause instanceof Error && e.cause.message === "boom outside the task", String(e.cause));
        assert.match(e.message, /while running a task: Error: boom outside the task/);
        return true;
      });
      release(r);
      assert.equal(((await hold) as { err: unknown }).err, undefined);
      assert.equal(typeof (await p.run(background(), { op: "threadId" })), "number");
    }));

  it("keeps the grace timer of a stopped task away from the next task on the same thread", () =>
    withPool(pool(1, 50), async (p) => {
      const [ctx, cancel] = withCancel(background());
      const s = flag();
      const first = p.run(ctx, { op: "coop", started: s });
      await started(s);
      const [thread] = p.threadIds();
      cancel();
      await assert.rejects(first, (e) => e === Canceled);
      // The next task outlives the first one's grace period (50 ms) on the same thread: it must not be terminated.
      const s2 = flag();
      const r2 = flag();
      const next = p.run(background(), { op: "hold", started: s2, release: r2 });
      await started(s2);
      await new Promise((r) => setTimeout(r, 150)); // "not yet": well past the old grace timer
      release(r2);
      assert.deepEqual(await next, { threadId: thread, err: undefined });
    }));

  it("fails the task with WorkerCrashedError when the worker module fails to load", async () => {
    const p = new WorkerPool(new URL("./fixtures/broken.js", import.meta.url), { size: 1 });
    try {
      await assert.rejects(p.run(background(), 1), (e) => {
        assert.ok(e instanceof WorkerCrashedError);
        assert.ok(e.cause instanceof Error && e.cause.message === "broken module", String(e.cause));
        return true;
      });
    } finally {
      await p.close(background());
    }
  });

  it("rejects the task (and leaves the queue) when its thread cannot even be created; close() does not hang", async () => {
    // Node's Worker constructor throws at once for a path that is neither absolute nor ./-relative.
    const p = new WorkerPool("no-such-dir-relative.js", { size: 1 });
    await assert.rejects(p.run(background(), 1), (e) => e instanceof Error && (e as { code?: unknown }).code === "ERR_WORKER_PATH");
    await assert.rejects(p.run(background(), 2), (e) => e instanceof Error && (e as { code?: unknown }).code === "ERR_WORKER_PATH");
    assert.equal(p.queued, 0);
    await p.close(background());
  });

  it("rejects with a DataCloneError when the result cannot be cloned, and keeps the thread", () =>
    withPool(pool(1, 1000), async (p) => {
      const before = await p.run(background(), { op: "threadId" });
      await assert.rejects(p.run(background(), { op: "uncloneable" }), (e) => e instanceof Error && e.name === "DataCloneError");
      assert.equal(await p.run(background(), { op: "threadId" }), before);
    }));

  it("reports a thread that dies while idle as an unhandled rejection, and replaces it", async () => {
    const script = fileURLToPath(new URL("./fixtures/idle-crash.js", import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, [script]);
    const { message, ...rest } = JSON.parse(stdout) as { message: string };
    assert.deepEqual(rest, { crashed: true, sameThread: true, replaced: true });
    assert.match(message, /^worker thread \d+ died \(exit code 1\) while idle: Error: boom after the task$/);
  });

  it("delivers errors thrown in the worker with their name, message, stack, cause and fields", () =>
    withPool(pool(1, 1000), async (p) => {
      await assert.rejects(p.run(background(), { op: "throw" }), (e) => {
        assert.ok(e instanceof TypeError);
        assert.equal(e.message, "bad thing");
        assert.match(e.stack ?? "", /tasks\.js/);
        assert.ok(e.cause instanceof RangeError && e.cause.message === "inner reason");
        assert.equal((e as { code?: unknown }).code, "E_BAD");
        assert.deepEqual((e as { detail?: unknown }).detail, { n: 1 });
        return true;
      });
    }));

  it("carries the caller's deadline into the worker", () =>
    withPool(pool(1, 1000), async (p) => {
      const [ctx, cancel] = withTimeout(background(), 60_000);
      try {
        assert.equal(await p.run(ctx, { op: "deadline" }), ctx.deadline());
      } finally {
        cancel();
      }
      assert.equal(await p.run(background(), { op: "deadline" }), undefined);
    }));

  it("ends the worker's context when the caller's deadline passes, and rejects with DeadlineExceeded", () =>
    withPool(pool(1, 60_000), async (p) => {
      const [ctx, cancel] = withTimeout(background(), 30);
      const { port1, port2 } = new MessageChannel();
      try {
        const seen = firstMessage(port1);
        await assert.rejects(p.run(ctx, { op: "awaitDone", port: port2 }, { transfer: [port2] }), (e) => e === DeadlineExceeded);
        assert.ok(isDeadlineExceeded(await p.run(ctx, { op: "threadId" }).catch((e: unknown) => e)));
        assert.deepEqual(await seen, { err: "TimeoutError", cause: { name: "TimeoutError", message: "context deadline exceeded", cause: undefined } });
      } finally {
        cancel();
        port1.close();
      }
    }));

  it("rejects with DeadlineExceeded when the worker's copy of the deadline stops the task before the caller's timer fires", () =>
    // The caller's clock is virtual and never advanced, so its deadline timer cannot fire; the deadline itself is
    // already past on the worker's real clock. This is the order a busy caller thread sees under load.
    withPool(pool(1, 60_000), (p) =>
      withVirtualClock(
        async () => {
          const [ctx, cancel] = withTimeout(background(), 5_000);
          const { port1, port2 } = new MessageChannel();
          try {
            const seen = firstMessage(port1);
            await assert.rejects(p.run(ctx, { op: "awaitDone", port: port2 }, { transfer: [port2] }), (e) => e === DeadlineExceeded);
            assert.deepEqual((await seen as { err: string }).err, "TimeoutError");
          } finally {
            cancel();
            port1.close();
          }
        },
        { now: Date.now() - 60_000 },
      ),
    ));

  it("wakes a sleep in the worker on cancel and carries the cause across", () =>
    withPool(pool(1, 60_000), async (p) => {
      const [ctx, cancel] = withCancelCause(background());
      const { port1, port2 } = new MessageChannel();
      const asleep = firstMessage(port1);
      const run = p.run(ctx, { op: "sleep", port: port2 }, { transfer: [port2] });
      // Cancel once the task is asleep: the end message, not the flag, must wake it.
      assert.deepEqual(await asleep, { sleeping: true });
      const seen = firstMessage(port1);
      cancel(new Error("the user closed the tab", { cause: new Error("socket closed") }));
      await assert.rejects(run, (e) => e === Canceled);
      assert.deepEqual(await seen, {
        threw: "AbortError",
        err: "AbortError",
        cause: { name: "Error", message: "the user closed the tab", cause: { name: "Error", message: "socket closed", cause: undefined } },
      });
      port1.close();
    }));

  it("shows the caller's task as blocked on `worker run`, and the task in the worker's own dump", () =>
    withPool(pool(1, 1000), async (p) => {
      const s = flag();
      const r = flag();
      const t = go(background(), (ctx) => p.run(ctx, { op: "hold", started: s, release: r }), { name: "report" });
      await started(s);
      assert.equal(t.state, "blocked");
      assert.equal(t.blockedOn, "worker run");
      release(r);
      await t;
      assert.deepEqual(await p.run(background(), { op: "dump" }), [{ name: "crunch", state: "running" }]);
    }));

  it("rejects at once when the context has already ended, without using a thread", () =>
    withPool(pool(1, 1000), async (p) => {
      const [ctx, cancel] = withCancel(background());
      cancel();
      await assert.rejects(p.run(ctx, { op: "threadId" }), (e) => e === Canceled);
      assert.deepEqual(p.threadIds(), []);
    }));

  it("rejects bad input with a TypeError naming the function and the value", async () => {
    assert.throws(() => new WorkerPool(3 as never), /WorkerPool: url must be a URL or a path, got `3` \(number\)/);
    assert.throws(() => new WorkerPool(TASKS, { size: 0 }), /WorkerPool: size must be an integer ≥ 1, got `0`/);
    assert.throws(() => new WorkerPool(TASKS, { graceMs: Number.NaN }), /WorkerPool: graceMs must be a number in \[0, 2147483647\], got `NaN`/);
    // A grace longer than a timer can hold (2^31 - 1 ms) would fire after 1 ms and terminate at once: refused.
    assert.throws(() => new WorkerPool(TASKS, { graceMs: 2 ** 31 }), /WorkerPool: graceMs must be a number in \[0, 2147483647\], got `2147483648`/);
    const p = pool(1, 1000);
    assert.throws(() => p.run(undefined as never, { op: "threadId" }), /WorkerPool.run: ctx must be a Context, got `undefined`/);
    assert.throws(() => p.run(background(), { op: "threadId" }, { transfer: 3 as never }), /options.transfer must be an array/);
    // Options that are not an object are refused by name, not destructured (null threw a bare TypeError, and a
    // number, e.g. a size given in place of the options, was taken for the defaults).
    assert.throws(() => new WorkerPool(TASKS, 8 as never), /WorkerPool: options must be an object, got `8` \(number\)/);
    assert.throws(() => new WorkerPool(TASKS, null as never), /WorkerPool: options must be an object, got `null` \(object\)/);
    assert.throws(() => p.run(background(), { op: "threadId" }, null as never), /WorkerPool.run: options must be an object, got `null` \(object\)/);
    await p.close(background());
  });
});

describe("WorkerPool.close", () => {
  it("waits for running tasks, then refuses new ones", async () => {
    const p = pool(1, 1000);
    const s = flag();
    const r = flag();
    const hold = p.run(background(), { op: "hold", started: s, release: r });
    await started(s);
    const closing = p.close(background());
    await assert.rejects(p.run(background(), { op: "threadId" }), (e) => e instanceof WorkerPoolClosedError);
    release(r);
    await closing;
    assert.equal(((await hold) as { err: unknown }).err, undefined);
    assert.deepEqual(p.threadIds(), []);
  });

  it("lets several close() calls wait together", async () => {
    const p = pool(1, 1000);
    const s = flag();
    const r = flag();
    const hold = p.run(background(), { op: "hold", started: s, release: r });
    await started(s);
    const closes = [p.close(background()), p.close(background())];
    release(r);
    await Promise.all(closes);
    assert.equal(((await hold) as { err: unknown }).err, undefined);
  });

  it("terminates what still runs when its context ends, failing those tasks, and rejects with ctx.err()", async () => {
    const p = pool(1, 60_000);
    const s = flag();
    const spin = p.run(background(), { op: "spin", started: s }).catch((e: unknown) => e);
    await started(s);
    const [ctx, cancel] = withCancel(background());
    const closing = p.close(ctx);
    cancel();
    await assert.rejects(closing, (e) => e === Canceled);
    assert.ok((await spin) instanceof WorkerPoolClosedError);
    assert.deepEqual(p.threadIds(), []);
  });
});

after(() => assertNoLeaks());
