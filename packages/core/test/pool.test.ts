import { after, describe, it } from "node:test";
import { assertNoLeaks } from "@lifeline/testing";
import assert from "node:assert/strict";
import {
  background,
  Canceled,
  cause,
  Channel,
  createKey,
  sleep,
  tasks,
  withCancel,
  withValue,
  workerPool,
  type Context,
  type PoolReport,
  type ReceiveChannel,
} from "@lifeline/core";
import { assertNoTasks, cancellable, deferred, delay, recordFailures, track } from "./support.js";

// ---- helpers ---------------------------------------------------------------------------------------------------

/** jobsOf returns a buffered channel holding `jobs`, closed after them if `close`. */
function jobsOf(jobs: number[], close: boolean): Channel<number> {
  const ch = new Channel<number>(jobs.length + 10);
  for (const j of jobs) assert.ok(ch.trySend(j));
  if (close) ch.close();
  return ch;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * gated is a job handler whose jobs run until the test releases them (or, with `untilCancelled`, until their ctx
 * ends). Each job announces itself on `started` when it begins; `active`/`max` count jobs running at once.
 */
function gated(jobs: number[], opts: { untilCancelled?: number[] } = {}) {
  const gates = new Map(jobs.map((j) => [j, deferred()]));
  const started = new Channel<number>(jobs.length);
  const ctxs = new Map<number, Context>();
  const errAtEnd = new Map<number, Error | undefined>();
  const counts = { active: 0, max: 0 };
  const handle = async (ctx: Context, job: number): Promise<string> => {
    counts.active++;
    counts.max = Math.max(counts.max, counts.active);
    ctxs.set(job, ctx);
    assert.ok(started.trySend(job));
    try {
      if (opts.untilCancelled?.includes(job)) await sleep(ctx, Infinity);
      else await gates.get(job)!.promise;
      errAtEnd.set(job, ctx.err());
      return `done ${job}`;
    } finally {
      counts.active--;
    }
  };
  /** next receives the next started job. */
  const next = (ctx: Context): Promise<number> => started.recv(ctx).then(([job]) => job!);
  const release = (job: number): void => gates.get(job)!.resolve();
  const releaseAll = (): void => gates.forEach((g) => g.resolve());
  return { handle, started: started as ReceiveChannel<number>, next, release, releaseAll, ctxs, errAtEnd, counts };
}

/**
 * twoInFlight starts a pool of 2 workers on jobs 1-4 (the channel left open), whose jobs only stop when their ctx
 * ends, and waits until two of them run.
 */
async function twoInFlight(ctx: Context) {
  const jobs = range(1, 4);
  const g = gated(jobs, { untilCancelled: jobs });
  const ch = jobsOf(jobs, false);
  const pool = workerPool(ctx, ch, g.handle, { workers: 2 });
  await g.next(ctx);
  await g.next(ctx);
  return { g, ch, pool };
}

function sortedReport(r: PoolReport<number>): PoolReport<number> {
  return {
    completed: r.completed,
    failed: [...r.failed].sort((a, b) => a.job - b.job),
    aborted: [...r.aborted].sort((a, b) => a - b),
  };
}

after(() => assertNoTasks());

// ---- running jobs ----------------------------------------------------------------------------------------------

describe("workerPool", () => {
  it("runs every job and ends once the closed channel is drained", async (t) => {
    const [ctx] = cancellable(t);
    const ch = jobsOf(range(1, 10), true);
    const seen: number[] = [];
    const pool = workerPool(
      ctx,
      ch,
      async (_c, job: number) => {
        await Promise.resolve();
        seen.push(job);
      },
      { workers: 3 },
    );
    const report = await pool.wait();
    assert.deepEqual(report, { completed: 10, failed: [], aborted: [] });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      range(1, 10),
    );
    assert.equal(ch.length, 0);
    assert.equal(await pool.wait(), report, "wait returned a different report the second time");
  });

  it("keeps running while the channel is open, taking jobs as they are sent", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const seen: number[] = [];
    const pool = workerPool(ctx, ch, (_c, job: number) => void seen.push(job), { workers: 2 });
    const done = track(pool.wait());
    await ch.send(ctx, 1);
    await ch.send(ctx, 2);
    await ch.send(ctx, 3);
    await delay(5);
    assert.equal(done.state, "pending", "the pool ended while its channel was open");
    ch.close();
    const report = await pool.wait();
    assert.equal(report.completed, 3);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [1, 2, 3],
    );
  });

  for (const workers of [1, 3]) {
    it(`runs at most ${workers} job(s) at once with ${workers} worker(s), counted`, async (t) => {
      const [ctx] = cancellable(t);
      const jobs = range(1, 12);
      const g = gated(jobs);
      const pool = workerPool(ctx, jobsOf(jobs, true), g.handle, { workers });
      const running: number[] = [];
      for (let i = 0; i < workers; i++) running.push(await g.next(ctx));
      await delay(5);
      assert.equal(g.started.length, 0, "a job started beyond the number of workers");
      assert.equal(g.counts.active, workers);
      // Each finished job lets exactly one more start.
      g.release(running[0]!);
      running.push(await g.next(ctx));
      await delay(5);
      assert.equal(g.started.length, 0);
      assert.equal(g.counts.active, workers);
      g.releaseAll();
      const report = await pool.wait();
      assert.equal(report.completed, 12);
      assert.equal(g.counts.max, workers);
    });
  }

  it("reports failing jobs in `failed` with their error, without throwing or reporting them as unawaited", async (t) => {
    const { reports } = recordFailures(t);
    const [ctx] = cancellable(t);
    const errors = new Map<number, unknown>();
    const pool = workerPool(
      ctx,
      jobsOf(range(1, 6), true),
      (_c, job: number) => {
        if (job === 2) {
          const e = new Error("sync 2");
          errors.set(job, e);
          throw e;
        }
        if (job === 5) {
          const e = new Error("async 5");
          errors.set(job, e);
          return Promise.reject(e);
        }
        return job;
      },
      { workers: 2 },
    );
    const report = sortedReport(await pool.wait());
    assert.deepEqual(report, {
      completed: 4,
      failed: [
        { job: 2, error: errors.get(2) },
        { job: 5, error: errors.get(5) },
      ],
      aborted: [],
    });
    assert.equal(report.failed[0]!.error, errors.get(2));
    await delay(20);
    assert.deepEqual(reports, []);
  });

  it("runs jobs under a context that carries the pool ctx's values", async (t) => {
    const key = createKey<string>("tenant");
    const [parent] = cancellable(t);
    const ctx = withValue(parent, key, "acme");
    const seen: (string | undefined)[] = [];
    const pool = workerPool(ctx, jobsOf([1, 2], true), (c) => void seen.push(c.value(key)), { workers: 1 });
    await pool.wait();
    assert.deepEqual(seen, ["acme", "acme"]);
  });

  it("shows its workers and jobs in the task registry by name while running, and none after", async (t) => {
    const [ctx] = cancellable(t);
    const g = gated([1]);
    const ch = jobsOf([1], false); // open: the idle worker stays, waiting for a job
    const pool = workerPool(ctx, ch, g.handle, { workers: 2, name: "mailer" });
    await g.next(ctx);
    const names = tasks()
      .map((x) => x.name)
      .filter((n) => n.startsWith("mailer"))
      .sort();
    assert.deepEqual(names, ["mailer 1", "mailer 2", "mailer job"].sort());
    g.releaseAll();
    ch.close();
    await pool.wait();
    assert.equal(
      tasks().some((x) => x.name.startsWith("mailer")),
      false,
    );
  });
});

// ---- shutdown: drain, then abort -------------------------------------------------------------------------------

describe("WorkerPool.shutdown", () => {
  it("drains: stops pulling jobs, leaves the rest in the channel, and lets in-flight jobs finish within the grace", async (t) => {
    const [ctx] = cancellable(t);
    const jobs = range(1, 5);
    const g = gated(jobs);
    const ch = jobsOf(jobs, false);
    const pool = workerPool(ctx, ch, g.handle, { workers: 2 });
    const inFlight = [await g.next(ctx), await g.next(ctx)].sort();
    assert.deepEqual(inFlight, [1, 2]);
    assert.equal(ch.length, 3);

    const report = track(pool.shutdown(10_000));
    g.release(1);
    await delay(5);
    assert.equal(g.started.length, 0, "a worker took a new job after shutdown");
    assert.equal(ch.length, 3, "jobs were taken from the channel after shutdown");
    assert.equal(report.state, "pending", "shutdown returned before the in-flight jobs finished");

    g.release(2);
    const final = await pool.wait();
    assert.deepEqual(sortedReport(final), { completed: 2, failed: [], aborted: [] });
    assert.equal(report.state, "fulfilled");
    assert.equal(report.value, final);
    assert.equal(ch.length, 3, "jobs left in the channel were consumed");
    assert.equal(g.errAtEnd.get(1), undefined, "a job's ctx ended during the grace period");
    assert.equal(g.errAtEnd.get(2), undefined, "a job's ctx ended during the grace period");
    ch.close();
  });

  it("returns at once when no job is in flight", async (t) => {
    const [ctx] = cancellable(t);
    const ch = new Channel<number>();
    const pool = workerPool(ctx, ch, () => assert.fail("no job was sent"), { workers: 3 });
    assert.deepEqual(await pool.shutdown(10_000), { completed: 0, failed: [], aborted: [] });
  });

  it("aborts: after the grace, cancels the ctx of in-flight jobs that only stop when it ends, and lists them", async (t) => {
    const [ctx] = cancellable(t);
    const { g, ch, pool } = await twoInFlight(ctx);
    const report = pool.shutdown(20);
    await Promise.resolve();
    assert.equal(g.ctxs.get(1)!.err(), undefined, "draining cancelled the in-flight jobs at once");
    const final = await report;
    assert.deepEqual(sortedReport(final), { completed: 0, failed: [], aborted: [1, 2] });
    assert.equal(ch.length, 2, "jobs left in the channel were consumed");
    const jobCtx = g.ctxs.get(1)!;
    assert.equal(jobCtx.err(), Canceled);
    assert.match(String((cause(jobCtx) as Error).message), /grace/);
    assert.equal(ctx.err(), undefined, "the pool cancelled its parent ctx");
    ch.close();
  });

  it("counts jobs that finish within the grace as completed and aborts only the rest", async (t) => {
    const [ctx] = cancellable(t);
    const g = gated([1, 2], { untilCancelled: [2] });
    const ch = jobsOf([1, 2, 3], false);
    const pool = workerPool(ctx, ch, g.handle, { workers: 2 });
    await g.next(ctx);
    await g.next(ctx);
    const report = pool.shutdown(20);
    g.release(1);
    assert.deepEqual(sortedReport(await report), { completed: 1, failed: [], aborted: [2] });
    assert.equal(ch.length, 1);
    ch.close();
  });

  it("lists an aborted job that ends with an error of its own in `failed`, not `aborted`", async (t) => {
    const [ctx] = cancellable(t);
    const own = new Error("rolled back");
    const reached = deferred();
    const pool = workerPool(
      ctx,
      jobsOf([7], true),
      async (c) => {
        reached.resolve();
        await sleep(c, Infinity).catch(() => {});
        throw own;
      },
      { workers: 1 },
    );
    await reached.promise;
    const report = await pool.shutdown(10);
    assert.deepEqual(report, { completed: 0, failed: [{ job: 7, error: own }], aborted: [] });
  });

  it("ends at once when the parent ctx is cancelled, aborting in-flight jobs", async (t) => {
    const [ctx, cancel] = cancellable(t);
    const { g, ch, pool } = await twoInFlight(ctx);
    cancel();
    // No grace period, no shutdown call: nothing but the cancellation can end these jobs.
    const final = await pool.wait();
    assert.deepEqual(sortedReport(final), { completed: 0, failed: [], aborted: [1, 2] });
    assert.equal(g.ctxs.get(1)!.err(), Canceled);
    assert.equal(ch.length, 2);
    ch.close();
  });

  it("takes no job when the parent ctx has already ended", async () => {
    const [ctx, cancel] = withCancel(background());
    cancel();
    const ch = jobsOf([1, 2], false);
    const pool = workerPool(ctx, ch, () => assert.fail("ran a job under an ended ctx"), { workers: 2 });
    assert.deepEqual(await pool.wait(), { completed: 0, failed: [], aborted: [] });
    assert.equal(ch.length, 2);
    ch.close();
  });

  it("leaves no grace timer behind when called after the pool has ended", async (t) => {
    const [ctx] = cancellable(t);
    const pool = workerPool(ctx, jobsOf([1], true), () => {}, { workers: 1 });
    const report = await pool.wait();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    assert.equal(await pool.shutdown(300), report);
    assert.equal(timers(), before, "shutdown on an ended pool left a timer that keeps the process alive for the grace");
  });

  describe("rejects a grace that is not a non-negative number with a TypeError", () => {
    for (const grace of [-1, NaN, "10" as unknown as number]) {
      it(`shutdown(${String(grace)})`, async (t) => {
        const [ctx] = cancellable(t);
        const pool = workerPool(ctx, jobsOf([], true), () => {}, { workers: 1 });
        assert.throws(() => pool.shutdown(grace), (e: unknown) => e instanceof TypeError && /shutdown/.test(e.message));
        await pool.wait();
      });
    }
  });
});

// ---- misuse ----------------------------------------------------------------------------------------------------

describe("workerPool misuse", () => {
  const ch = new Channel<number>();
  const handWritten = {
    recv: () => Promise.resolve([1, true]),
    tryRecv: () => undefined,
    length: 0,
    capacity: 0,
    range: () => ch.range(background()),
    [Symbol.asyncIterator]: () => ch[Symbol.asyncIterator](),
  };
  const handle = (): void => {};
  const cases: [what: string, call: () => unknown][] = [
    ["ctx is not a Context", () => workerPool({} as Context, ch, handle, { workers: 1 })],
    ["jobs is not a channel", () => workerPool(background(), [1, 2] as unknown as Channel<number>, handle, { workers: 1 })],
    ["jobs is null", () => workerPool(background(), null as unknown as Channel<number>, handle, { workers: 1 })],
    [
      // Used to pass (it has tryRecv), then every worker task died with an unhandled TaskError (issue 9).
      "jobs is a hand-written ReceiveChannel",
      () => workerPool(background(), handWritten as unknown as ReceiveChannel<number>, handle, { workers: 1 }),
    ],
    ["handle is not a function", () => workerPool(background(), ch, "run" as unknown as typeof handle, { workers: 1 })],
    ["workers is 0", () => workerPool(background(), ch, handle, { workers: 0 })],
    ["workers is 1.5", () => workerPool(background(), ch, handle, { workers: 1.5 })],
    ["workers is missing", () => workerPool(background(), ch, handle, {} as { workers: number })],
  ];
  for (const [what, call] of cases) {
    it(`throws a TypeError naming workerPool when ${what}`, () => {
      const before = tasks().length;
      assert.throws(call, (e: unknown) => e instanceof TypeError && /workerPool/.test(e.message));
      assert.equal(tasks().length, before, "a rejected call started workers");
    });
  }
});

after(() => assertNoLeaks());
