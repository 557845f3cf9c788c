import { afterFunc, cause, DeadlineExceeded, go, remaining, withoutCancel, type Context } from "@lifeline/core";
import type { Job, JobsOptions, Queue } from "bullmq";
import { cancelJob } from "./cancel-job.js";
import { checkValues, type JobValue } from "./job-value.js";
import { checkCtx, checkQueue } from "./internal/check.js";
import { race } from "./internal/race.js";
import { redisOffset } from "./internal/redis.js";
import { describe, encodeReason, HEADER_OPTION, plainDataProblem, type Header } from "./internal/wire.js";

/**
 * DEADLINE_MARGIN_MS is what {@link addJob} takes off the producer's remaining budget by default (20 ms): the
 * job's deadline falls that much before the producer's own, so the producer still has time to hear the outcome.
 */
export const DEADLINE_MARGIN_MS = 20;

/** AddJobOptions are BullMQ's job options plus lifeline's. */
export interface AddJobOptions extends JobsOptions {
  /**
   * tie cancels the job (through {@link cancelJob}, from this process) when `ctx` ends, wherever the job runs;
   * the reason sent is `cause(ctx)` when it can travel, else `ctx.err()`. Default false: the job outlives the
   * request that enqueued it and keeps only its deadline (Go: work handed to another service keeps the deadline,
   * not the caller's cancellation).
   */
  readonly tie?: boolean;
  /** values lists the context values that travel with the job ({@link jobValue}). */
  readonly values?: readonly JobValue<unknown>[];
  /** marginMs is taken off the producer's remaining budget to make the job's deadline (default {@link DEADLINE_MARGIN_MS}). */
  readonly marginMs?: number;
}

/**
 * addJob adds a job to `queue` (BullMQ's `queue.add(name, data, opts)`) and returns BullMQ's Job. The job
 * records `ctx`'s deadline as an absolute time in Redis's clock, `marginMs` before the producer's (so clocks of
 * producer and worker machines need not agree), and the values listed in `options.values`; the worker
 * ({@link work}) gives the job a ctx with that deadline and those values, and does not start a job whose
 * deadline has passed.
 *
 * It rejects with `ctx.err()` if ctx has already ended, and with {@link DeadlineExceeded} without adding
 * anything if the budget left is not more than the margin. Once the add is on the wire it cannot be taken
 * back: if ctx ends meanwhile, the job is still added and returned (with `tie`, it is then cancelled at once).
 * A failure of the tied cancel (Redis unreachable) is reported as a failed task, never dropped. The tie lasts
 * as long as ctx: use it with a context that ends when nobody wants the result any more.
 *
 * @throws TypeError (synchronously, before anything is sent) for a ctx that is not a Context, a queue that is not
 * a BullMQ Queue, a name that is not a string, options that are not valid, or a carried value that is not plain
 * JSON data.
 */
export function addJob<D, R = unknown>(
  ctx: Context,
  queue: Queue<D, R>,
  name: string,
  data: D,
  options: AddJobOptions = {},
): Promise<Job<D, R>> {
  checkCtx("addJob", ctx);
  checkQueue("addJob", queue);
  if (typeof name !== "string") throw new TypeError(`addJob: name must be a string, got ${describe(name)}`);
  if (typeof options !== "object" || options === null) throw new TypeError(`addJob: options must be an object, got ${describe(options)}`);
  const { tie = false, values, marginMs = DEADLINE_MARGIN_MS, ...jobOptions } = options;
  if (typeof tie !== "boolean") throw new TypeError(`addJob: options.tie must be a boolean, got ${describe(tie)}`);
  if (typeof marginMs !== "number" || !(marginMs >= 0) || marginMs === Infinity) {
    throw new TypeError(`addJob: options.marginMs must be a finite number >= 0, got ${describe(marginMs)}`);
  }
  const carried = checkValues("addJob", values);
  const x: Record<string, unknown> = {};
  let any = false;
  for (const v of carried) {
    const value = ctx.value(v.key);
    if (value === undefined) continue;
    const problem = plainDataProblem(value);
    if (problem !== undefined) throw new TypeError(`addJob: value ${JSON.stringify(v.name)} must be plain JSON data, but it holds ${problem}`);
    x[v.name] = value;
    any = true;
  }
  const header: { d?: number; x?: Record<string, unknown> } = {};
  if (any) header.x = x;
  return add(ctx, queue as Queue, name, data, jobOptions, header, tie, marginMs) as Promise<Job<D, R>>;
}

async function add(
  ctx: Context,
  queue: Queue,
  name: string,
  data: unknown,
  jobOptions: JobsOptions,
  header: { d?: number; x?: Record<string, unknown> },
  tie: boolean,
  marginMs: number,
): Promise<Job> {
  const err = ctx.err();
  if (err !== undefined) throw err;
  const left = remaining(ctx);
  if (left !== Infinity) {
    if (left <= marginMs) throw DeadlineExceeded;
    const offset = await race(ctx, queue.client.then((client) => redisOffset(client)));
    // From the deadline itself, not from `left`: the wait for Redis above must not push the job's deadline later.
    header.d = Math.floor(ctx.deadline()! + offset - marginMs);
  }
  // Last moment to leave without adding anything.
  const late = ctx.err();
  if (late !== undefined) throw late;
  const opts = { ...jobOptions, [HEADER_OPTION]: header as Header } as JobsOptions;
  const job = await queue.add(name, data, opts);
  if (tie && job.id !== undefined) tieTo(ctx, queue, job.id);
  return job;
}

function tieTo(ctx: Context, queue: Queue, jobId: string): void {
  afterFunc(ctx, () => {
    const c = cause(ctx);
    const reason = typeof encodeReason(c) === "string" ? ctx.err() : c;
    // A task nobody awaits, under a ctx that keeps ctx's values but not its end: if the cancel fails (Redis
    // down), core reports it instead of dropping it.
    go(withoutCancel(ctx), (ctx) => cancelJob(ctx, queue, jobId, reason), { name: `cancel job ${jobId} (tied)` });
  });
}
