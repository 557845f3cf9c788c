import { background, withCancel, withCancelCause, type CancelFunc } from "../5-cancel/cancel.js";
import { sleep } from "../7-sync/time.js";
import { Channel, type ReceiveChannel } from "../4-chan/chan.js";
import { checkParent, type Context } from "../2-context/context.js";
import { isCanceled, isDeadlineExceeded } from "../1-base/errors.js";
import { describe } from "../1-base/describe.js";
import { recv, select } from "../7-sync/select.js";
import { DoneView, go } from "../6-task/task.js";
import { WaitGroup } from "../7-sync/waitgroup.js";

/** PoolOptions configure a {@link workerPool}. */
export interface PoolOptions {
  /** workers is how many jobs run at once: a positive integer. */
  readonly workers: number;
  /** name prefixes the workers' and jobs' task names (default "worker"). */
  readonly name?: string;
}

/** PoolReport says what became of the jobs a {@link workerPool} took. */
export interface PoolReport<J> {
  /** completed counts jobs whose handler returned normally. */
  completed: number;
  /** failed lists jobs whose handler threw or rejected, with the error (cancellations by the pool excepted). */
  failed: Array<{ job: J; error: unknown }>;
  /** aborted lists jobs that were still running when the pool aborted them and that ended with that error. */
  aborted: J[];
}

/** WorkerPool is a running {@link workerPool}. */
export interface WorkerPool<J> {
  /**
   * shutdown stops the pool in two phases: drain (the workers stop taking new jobs and in-flight jobs go
   * on), then, if jobs are still running after `graceMs`, abort (their context is cancelled with a cause
   * saying the grace period expired). It resolves when every worker has exited, as {@link WorkerPool.wait}.
   * Jobs left in the channel stay there.
   */
  shutdown(graceMs: number): Promise<PoolReport<J>>;
  /** wait resolves when every worker has exited: the job channel closed and drained, shutdown, or ctx ended. */
  wait(): Promise<PoolReport<J>>;
}

/**
 * workerPool starts `options.workers` workers that take jobs from `jobs` and run `handle(ctx, job)`, one
 * job per worker at a time, each job as a task (seed 003's processJobs, with a two-phase shutdown).
 * Workers exit when the channel is closed and drained, when {@link WorkerPool.shutdown} is called, or when
 * `ctx` ends (which also cancels running jobs at once). Failed jobs are collected in the report, not thrown.
 *
 * @throws TypeError if `ctx` is not a Context, `jobs` not a {@link Channel} (a hand-written object is refused at
 * the call, as the ReceiveChannel type refuses it), `handle` not a function, or
 * `options.workers` not a positive integer.
 */
export function workerPool<J>(
  ctx: Context,
  jobs: ReceiveChannel<J>,
  handle: (ctx: Context, job: J) => unknown,
  options: PoolOptions,
): WorkerPool<J> {
  checkParent("workerPool", ctx);
  // The workers select on it: only lifeline's own channels can be waited on there (ReceiveChannel is branded so).
  if (!(jobs instanceof Channel || jobs instanceof DoneView)) {
    throw new TypeError(`workerPool: jobs must be a Channel, got ${describe(jobs)}`);
  }
  if (typeof handle !== "function") throw new TypeError(`workerPool: handle must be a function, got ${describe(handle)}`);
  const workers = options?.workers;
  if (!Number.isSafeInteger(workers) || workers <= 0) {
    throw new TypeError(`workerPool: options.workers must be a positive integer, got ${describe(workers)}`);
  }
  const name = options.name ?? "worker";

  const [jobCtx, abort] = withCancelCause(ctx); // the jobs' context: ends on abort
  const [pullCtx, stopPulling] = withCancelCause(jobCtx); // the workers' context: ends on drain
  const report: PoolReport<J> = { completed: 0, failed: [], aborted: [] };
  const wg = new WaitGroup();

  const work = async (wctx: Context): Promise<void> => {
    for (;;) {
      if (wctx.err() !== undefined) return; // draining: never take another job
      const r = await select([recv(wctx.done()), recv(jobs)]);
      if (r.index === 0 || !r.ok) return;
      const job = r.value as J;
      try {
        await go(jobCtx, (ctx) => handle(ctx, job), { name: `${name} job` });
        report.completed++;
      } catch (error) {
        if (jobCtx.err() !== undefined && (isCanceled(error) || isDeadlineExceeded(error))) report.aborted.push(job);
        else report.failed.push({ job, error });
      }
    }
  };
  for (let i = 0; i < workers; i++) wg.go(pullCtx, work, { name: `${name} ${i + 1}` });

  let stopGrace: CancelFunc | undefined; // the grace period's sleep: core's timer, so 2^31+ ms and Infinity work
  let exited = false;
  // Workers always exit (pullCtx ends on drain, abort, or when ctx ends), so this wait needs no deadline.
  const finished = wg.wait(background()).then(() => {
    exited = true;
    stopGrace?.();
    abort(); // everything has exited: release the contexts
    return report;
  });

  return {
    shutdown(graceMs: number): Promise<PoolReport<J>> {
      if (typeof graceMs !== "number" || Number.isNaN(graceMs) || graceMs < 0) {
        throw new TypeError(`WorkerPool.shutdown: graceMs must be a non-negative number, got ${describe(graceMs)}`);
      }
      stopPulling(new Error("worker pool: draining"));
      if (!exited && stopGrace === undefined) {
        const [graceCtx, stop] = withCancel(background());
        stopGrace = stop;
        sleep(graceCtx, graceMs).then(
          () => abort(new Error(`worker pool: grace period of ${graceMs} ms expired`)),
          () => {}, // the workers exited first
        );
      }
      return finished;
    },
    wait(): Promise<PoolReport<J>> {
      return finished;
    },
  };
}
