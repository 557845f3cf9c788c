import {
  Canceled,
  DeadlineExceeded,
  go,
  withCancelCause,
  withDeadline,
  withoutCancel,
  withValue,
  afterFunc,
  type CancelCauseFunc,
  type CancelFunc,
  type Context,
} from "@lifeline/core";
import { UnrecoverableError, WaitingError, Worker, type Job, type JobJsonRaw, type RedisClient, type WorkerOptions } from "bullmq";
import { JobCanceledError, LockLostError, WorkerShutdownError } from "./errors.js";
import { checkValues, type JobValue } from "./job-value.js";
import { checkCtx } from "./internal/check.js";
import { cancelChannel, peekCancels, redisOffset } from "./internal/redis.js";
import { CANCEL_FIELD, describe, HEADER_OPTION, parseHeader, parsePush, parseRecord } from "./internal/wire.js";

/** JobHandler runs one job under the job's own ctx; its result is the job's result. */
export type JobHandler<D, R> = (ctx: Context, job: Job<D, R>) => R | Promise<R>;

/** StopKind says why a job's ctx ended before its handler settled. */
export type StopKind = "cancel" | "deadline" | "lock" | "shutdown";

/** JobStop describes a job whose ctx was ended by the worker (see {@link WorkOptions.onStop}). */
export interface JobStop {
  readonly job: Job;
  /** by says why: a cancel, the deadline (at pick-up only: a running job's deadline ends its ctx by itself), lock loss, shutdown. */
  readonly by: StopKind;
  /** cause is what `cause(ctx)` is (or would have been) in the handler. */
  readonly cause: unknown;
  /**
   * via says how the worker learnt it: the push, the check at a lock renewal, the check at pick-up, its own timer,
   * or BullMQ's local `worker.cancelJob` in this process.
   */
  readonly via: "push" | "renewal" | "pickup" | "timer" | "local";
  /** started is false when the handler never ran. */
  readonly started: boolean;
  /** issuedAt is when cancelJob ran (epoch ms in this machine's clock, converted through Redis's), for a cancel. */
  readonly issuedAt: number | undefined;
  /** at is when the worker ended the job's ctx (epoch ms). */
  readonly at: number;
}

/** WorkOptions are BullMQ's Worker options plus lifeline's. */
export interface WorkOptions extends WorkerOptions {
  /**
   * graceMs is how long running jobs may finish after the worker's root ctx ends (or `close()` is called)
   * before their contexts are cancelled with a {@link WorkerShutdownError} (default 5000; 0 cancels at once; Infinity never does; a finite grace is at most 2^31 − 1 ms, the longest timer).
   */
  readonly graceMs?: number;
  /** values lists the context values restored from each job's header ({@link jobValue}). */
  readonly values?: readonly JobValue<unknown>[];
  /** onStop hears of every job the worker stops (for logs and dashboards); it must not throw. */
  readonly onStop?: (stop: JobStop) => void;
}

interface Running {
  readonly id: string;
  readonly job: Job;
  /** ctx is the job's ctx (the handler's task runs under a child of it). */
  readonly ctx: Context;
  readonly stopCtx: CancelCauseFunc;
  readonly stopDeadline: CancelFunc | undefined;
  readonly started: boolean;
  stopped: { by: StopKind; cause: unknown } | undefined;
  /** leaseUntil is when the job's lock may run out in Redis: the worker's lease timer ends the job's ctx then. */
  leaseUntil: number;
  /** The neighbours in the worker's list of running jobs (see JobWorker.#first). */
  prev: Running | undefined;
  next: Running | undefined;
}

type Subscriber = {
  subscribe(channel: string): Promise<unknown>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  disconnect(): void;
};

const DEFAULT_GRACE_MS = 5000;
const RECENT_MAX = 10_000;
// The longest delay a Node timer takes: a longer one fires after 1 ms (TimeoutOverflowWarning).
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * work starts a BullMQ Worker on `queueName` that runs `handler(ctx, job)` for every job, and returns that
 * Worker (BullMQ's: its options, events, retries and `close()` work as usual).
 *
 * Every job runs as a task named after the job (`job <name>#<id>` in the task dump) under its **own** ctx,
 * a child of `ctx` (its values, and the worker's shutdown), with the deadline and values the job carries
 * ({@link addJob}). A job whose deadline has passed, or that was cancelled, before it is picked up never runs
 * its handler. The job's ctx ends, with a distinct cause each, when: the job is cancelled from any process
 * ({@link cancelJob}; the cause is the reason sent), its deadline passes ({@link DeadlineExceeded}), this worker
 * loses the job's lock (a {@link LockLostError}: a renewal refused, or the lease ran out without one), or the
 * worker shuts down past its grace ({@link WorkerShutdownError}).
 *
 * The final state is written once, when the handler settles, and only through the job's lock token (BullMQ
 * refuses a write from a worker that no longer holds the job). A job whose ctx ended before the handler settled
 * never completes, whatever the handler returns: a cancel fails it with a {@link JobCanceledError} (no retries),
 * a passed deadline fails it without retries, a lost lock writes nothing (or, if Redis still held this worker's
 * lock when the lease ran out here, moves it back to waiting), a shutdown moves it back to waiting.
 * Other failures are retried as the job's options say.
 *
 * Cancels arrive by pub/sub at once; the worker also reads the cancel records of its jobs at each lock renewal,
 * so a missed push costs at most one `lockRenewTime`. When `ctx` ends, the worker stops taking jobs, lets the
 * running ones finish for `graceMs`, then cancels their contexts; it does not kill a handler that ignores its
 * ctx (BullMQ's `close()` waits for it). Attach an `'error'` listener to the Worker, as BullMQ requires: lost
 * locks and refused writes are reported there.
 *
 * @throws TypeError for a ctx that is not a Context, an empty queue name, a handler that is not a function,
 * or invalid options (BullMQ's own checks throw its errors).
 */
export function work<D = unknown, R = unknown>(
  ctx: Context,
  queueName: string,
  handler: JobHandler<D, R>,
  options: WorkOptions,
): Worker<D, R> {
  checkCtx("work", ctx);
  if (typeof queueName !== "string" || queueName === "") throw new TypeError(`work: queueName must be a non-empty string, got ${describe(queueName)}`);
  if (typeof handler !== "function") throw new TypeError(`work: handler must be a function, got ${describe(handler)}`);
  if (typeof options !== "object" || options === null) throw new TypeError(`work: options must be an object with a connection, got ${describe(options)}`);
  const { graceMs = DEFAULT_GRACE_MS, values, onStop, ...workerOptions } = options;
  // Infinity waits for ever (no timer); a finite grace is a timer, which Node fires after 1 ms past 2^31 - 1 ms.
  if (typeof graceMs !== "number" || !(graceMs >= 0) || (graceMs > MAX_TIMER_MS && graceMs !== Infinity)) {
    throw new TypeError(`work: options.graceMs must be a number >= 0, at most ${MAX_TIMER_MS} or Infinity, got ${describe(graceMs)}`);
  }
  if (onStop !== undefined && typeof onStop !== "function") throw new TypeError(`work: options.onStop must be a function, got ${describe(onStop)}`);
  const carried = checkValues("work", values);
  const holder: { worker?: JobWorker<D, R> } = {};
  const worker = new JobWorker<D, R>(
    queueName,
    JobWorker.processor(holder),
    workerOptions,
    { root: ctx, handler, graceMs, values: carried, onStop },
  );
  holder.worker = worker;
  return worker;
}

interface Settings<D, R> {
  readonly root: Context;
  readonly handler: JobHandler<D, R>;
  readonly graceMs: number;
  readonly values: readonly JobValue<unknown>[];
  readonly onStop: ((stop: JobStop) => void) | undefined;
}

/** @internal JobWorker is BullMQ's Worker with per-job contexts; work() is its only constructor. */
class JobWorker<D, R> extends Worker<D, R> {
  readonly #settings: Settings<D, R>;
  // The root's values without its end, made once and shared by every job's ctx (the grace ladder in close()
  // ends them).
  // eslint-disable-next-line lifeline/no-stored-context -- the worker's root lives exactly as long as the worker
  readonly #detachedRoot: Context;
  // The running jobs, oldest first, as a doubly-linked list: adding and removing one allocates nothing (a Map
  // keyed by job id rebuilds its table over and over as a worker fills and drains: ~150 bytes a job). Looked up
  // by id only on a push, a renewal or a local cancel.
  #first: Running | undefined;
  #last: Running | undefined;
  // Pushes for jobs not (yet) running here: a job picked up just before its cancel was recorded checks this.
  readonly #recent = new Map<string, { reason: unknown; at: number | undefined; seen: number }>();
  // Cancel records read with the job's hash at pick-up (moveToActive returns the whole hash).
  readonly #pickedUp = new WeakMap<object, string>();
  readonly #subscribed: Promise<void>;
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  // One timer for every running job's lease, due at the earliest leaseUntil (or before: it then looks again).
  // A timer per job would cost a Node timer per job; leases only move later (a renewal), so one suffices.
  #leaseWake: ReturnType<typeof setTimeout> | undefined;
  #leaseWakeAt = Infinity;
  readonly #stopWatching: () => boolean;
  #subscriber: Subscriber | undefined;
  // Set when the attempt to subscribe to cancel pushes has settled, either way (see waitUntilReady).
  #subscribeSettled = false;
  #offset: Promise<number> | undefined;
  #offsetMs: number | undefined;
  #closing = false;
  #closed = false;
  #graceOver = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    name: string,
    processor: (job: Job<D, R>, token?: string) => Promise<R>,
    opts: WorkerOptions,
    settings: Settings<D, R>,
  ) {
    super(name, processor, opts);
    this.#settings = settings;
    this.#detachedRoot = withoutCancel(settings.root);
    const lockDuration = this.opts.lockDuration ?? 30_000;
    this.#sweepTimer = setInterval(() => this.#checkLeases(), Math.max(10, lockDuration / 4));
    this.#sweepTimer.unref();
    this.#subscribed = this.#subscribe();
    // A worker without pushes still works (by renewals): report why, unless it is closing (nothing to lose then).
    this.#subscribed.then(
      () => {
        this.#subscribeSettled = true;
      },
      (e: unknown) => {
        this.#subscribeSettled = true;
        if (!this.#closing) this.#report(e);
      },
    );
    this.#stopWatching = afterFunc(settings.root, () => {
      this.close().catch((e: unknown) => this.#report(e));
    });
  }

  /**
   * waitUntilReady also waits for the attempt to subscribe to cancel pushes, so that a cancel sent afterwards
   * arrives by push. If the subscription failed (reported as an 'error' event) it resolves all the same: the
   * worker then learns of cancels at its lock renewals, and BullMQ, which awaits this before completing every
   * job, must not fail the jobs for it.
   */
  override waitUntilReady(): Promise<RedisClient> {
    // Once settled it is BullMQ's own, without the awaits below (three promises, two microtask turns per job).
    if (this.#subscribeSettled) return super.waitUntilReady();
    return this.#untilSubscribed();
  }

  async #untilSubscribed(): Promise<RedisClient> {
    const client = await super.waitUntilReady();
    await this.#subscribed.catch(() => {}); // reported in the constructor
    return client;
  }

  async #subscribe(): Promise<void> {
    const client = await this.client;
    this.#offset = redisOffset(client);
    this.#offsetMs = await this.#offset;
    const sub = client.duplicate() as unknown as Partial<Subscriber>;
    if (typeof sub.subscribe !== "function" || typeof sub.on !== "function" || typeof sub.disconnect !== "function") {
      throw new TypeError("work: the connection's client cannot subscribe to pub/sub (use ioredis, BullMQ's default)");
    }
    const s = sub as Subscriber;
    if (this.#closed) {
      s.disconnect(); // closed while we connected: close()'s cleanup has already run
      return;
    }
    this.#subscriber = s;
    s.on("error", (e) => this.#report(e));
    s.on("message", (_channel, message) => this.#onPush(message));
    await s.subscribe(cancelChannel(this.qualifiedName));
  }

  #report(e: unknown): void {
    if (this.listenerCount("error") > 0) this.emit("error", e instanceof Error ? e : new Error(String(e)));
    else queueMicrotask(() => {
      throw e;
    });
  }

  /** @internal createJob keeps the cancel record that came with the job's hash at pick-up. */
  protected override createJob(data: JobJsonRaw, jobId: string): Job<D, R, string> {
    const job = super.createJob(data, jobId);
    const record = (data as unknown as Record<string, unknown>)[CANCEL_FIELD];
    if (typeof record === "string") this.#pickedUp.set(job, record);
    return job;
  }

  /** extendJobLocks is BullMQ's lock renewal; lifeline also reads the jobs' cancel records and learns of lost locks. */
  override async extendJobLocks(jobIds: string[], tokens: string[], duration: number): Promise<string[]> {
    const sentAt = Date.now();
    const peek = this.#peek(jobIds);
    const refused = await super.extendJobLocks(jobIds, tokens, duration);
    const lost = new Set(refused);
    const running = this.#byId();
    for (const id of jobIds) {
      const r = running.get(id);
      if (r === undefined) continue;
      if (lost.has(id)) this.#stop(r, "lock", new LockLostError(this.name, id, "refused"), "renewal", undefined);
      else r.leaseUntil = Math.max(r.leaseUntil, sentAt + duration); // later only: the lease timer looks again when due
    }
    await peek;
    return refused;
  }

  async #peek(ids: string[]): Promise<void> {
    try {
      const records = await peekCancels(await this.client, `${this.qualifiedName}:`, ids);
      const running = this.#byId();
      records.forEach((text, i) => {
        const r = running.get(ids[i]!);
        if (text === null || r === undefined) return;
        const { reason, at } = parseRecord(text);
        this.#stop(r, "cancel", reason, "renewal", at);
      });
    } catch (e) {
      if (!this.#closing) this.#report(e); // a closing worker's connection may go away under the read
    }
  }

  #onPush(message: string): void {
    const push = parsePush(message);
    if (push === undefined) return;
    const r = this.#find(push.id);
    if (r !== undefined) this.#stop(r, "cancel", push.reason, "push", push.at);
    else if (this.#recent.size < RECENT_MAX) this.#recent.set(push.id, { reason: push.reason, at: push.at, seen: Date.now() });
  }

  #checkLeases(): void {
    const now = Date.now();
    for (let r = this.#first; r !== undefined; r = r.next) {
      if (now > r.leaseUntil) this.#stop(r, "lock", new LockLostError(this.name, r.id, "expired"), "timer", undefined);
    }
    const keep = 2 * (this.opts.lockDuration ?? 30_000);
    for (const [id, p] of this.#recent) if (now - p.seen > keep) this.#recent.delete(id);
  }

  /**
   * wakeBy makes sure the lease timer fires no later than `at` (epoch ms): a job's lease ends then. The timer
   * is due at the earliest lease of the running jobs, so a lease ending later (most: leases are taken in
   * order and renewals only extend them) costs nothing here.
   */
  #wakeBy(at: number): void {
    if (at >= this.#leaseWakeAt) return;
    if (this.#leaseWake !== undefined) clearTimeout(this.#leaseWake);
    this.#leaseWakeAt = at;
    // Capped: a lease further away than a timer can wait (a lockDuration of ~25 days) is looked at again then.
    this.#leaseWake = setTimeout(() => this.#onLeaseWake(), Math.min(MAX_TIMER_MS, Math.max(1, at - Date.now())));
    this.#leaseWake.unref();
  }

  /** onLeaseWake ends the ctx of every job whose lease ran out, then waits for the next lease to end. */
  #onLeaseWake(): void {
    this.#leaseWake = undefined;
    this.#leaseWakeAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (let r = this.#first; r !== undefined; r = r.next) {
      if (r.stopped !== undefined) continue;
      if (now >= r.leaseUntil) this.#stop(r, "lock", new LockLostError(this.name, r.id, "expired"), "timer", undefined);
      else if (r.leaseUntil < next) next = r.leaseUntil; // also when the wall clock lags the timer's clock
    }
    if (next !== Infinity && !this.#closed) this.#wakeBy(next);
  }

  /** add appends a job to the running list. */
  #add(r: Running): void {
    r.prev = this.#last;
    if (this.#last === undefined) this.#first = r;
    else this.#last.next = r;
    this.#last = r;
  }

  /** remove takes a job out of the running list (once: its handler settled). */
  #remove(r: Running): void {
    if (r.prev === undefined) this.#first = r.next;
    else r.prev.next = r.next;
    if (r.next === undefined) this.#last = r.prev;
    else r.next.prev = r.prev;
    r.prev = r.next = undefined;
  }

  /**
   * find returns the running job with this id, the newest if there are two (an old copy that lost its lock,
   * whose handler has not returned yet, and the job taken again here).
   */
  #find(id: string): Running | undefined {
    for (let r = this.#last; r !== undefined; r = r.prev) if (r.id === id) return r;
    return undefined;
  }

  /** byId maps the running jobs by id (the newest copy wins, as in #find), for a renewal's list of ids. */
  #byId(): Map<string, Running> {
    const m = new Map<string, Running>();
    for (let r = this.#first; r !== undefined; r = r.next) m.set(r.id, r);
    return m;
  }

  #stop(r: Running, by: StopKind, cause: unknown, via: JobStop["via"], at: number | undefined): void {
    if (r.stopped !== undefined) return; // the first cause stays, as in a context
    r.stopped = { by, cause };
    r.stopCtx(cause);
    this.#notify(r.job, by, cause, via, r.started, at);
  }

  #notify(job: Job, by: StopKind, cause: unknown, via: JobStop["via"], started: boolean, at: number | undefined): void {
    const onStop = this.#settings.onStop;
    if (onStop === undefined) return;
    const issuedAt = at === undefined || this.#offsetMs === undefined ? undefined : at - this.#offsetMs;
    try {
      onStop({ job, by, cause, via, started, issuedAt, at: Date.now() });
    } catch (e) {
      this.#report(e);
    }
  }

  /** @internal processor returns the function BullMQ calls for each job (the worker exists by then). */
  static processor<D, R>(holder: { worker?: JobWorker<D, R> }): (job: Job<D, R>, token?: string) => Promise<R> {
    return (job, token) => holder.worker!.#run(job, token);
  }

  /**
   * run is the processor: it starts the job's task and settles with the job's one final state. It is not an
   * async function on purpose: the common path costs one promise reaction on the task, no more (see #start).
   */
  #run(job: Job<D, R>, token: string | undefined): Promise<R> {
    if (this.#offsetMs === undefined) {
      // Before the clock offset is known (the subscription is still being set up): read it first.
      return (async () => {
        const offset = await (this.#offset ?? redisOffset(await this.client));
        return this.#start(job, token, offset);
      })();
    }
    try {
      return this.#start(job, token, this.#offsetMs);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** start checks the job at pick-up, makes its ctx and starts its task; it throws for a job that must not run. */
  #start(job: Job<D, R>, token: string | undefined, offset: number): Promise<R> {
    const id = job.id ?? "";
    const header = parseHeader((job.opts as Record<string, unknown>)[HEADER_OPTION]);
    if (typeof header === "string") throw new UnrecoverableError(`job ${id} carries a malformed lifeline header: ${header}`);
    // From here to the registration below, nothing awaits: a push is either in #recent or finds the job.
    const picked = this.#pickedUp.get(job);
    const early = picked !== undefined ? parseRecord(picked) : this.#recent.size === 0 ? undefined : this.#recent.get(id);
    if (early !== undefined) {
      this.#recent.delete(id);
      this.#notify(job, "cancel", early.reason, "pickup", false, early.at);
      throw new JobCanceledError(this.name, id, early.reason);
    }
    const now = Date.now();
    // In whole milliseconds, as addJob records it (floored): the clock offset is fractional, and a fractional
    // deadline would give each job's timer a delay no other timer shares (Node keeps one timer list per delay).
    const deadline = header.deadline === undefined ? undefined : Math.floor(header.deadline - offset);
    if (deadline !== undefined && deadline <= now) {
      this.#notify(job, "deadline", DeadlineExceeded, "pickup", false, undefined);
      throw new UnrecoverableError(`job ${id} not started: its deadline had passed when it was picked up`);
    }
    // The root's values, not its end: when the root ends, the grace ladder in close() ends the job's ctx.
    const [base, stopCtx] = withCancelCause(this.#detachedRoot);
    let jobCtx = base;
    let stopDeadline: CancelFunc | undefined;
    if (deadline !== undefined) [jobCtx, stopDeadline] = withDeadline(base, deadline);
    for (const v of this.#settings.values) {
      if (!(v.name in header.values)) continue;
      const value = v.parse(header.values[v.name]);
      if (value !== undefined) jobCtx = withValue(jobCtx, v.key, value);
    }
    const r: Running = {
      id,
      job: job as Job,
      ctx: jobCtx,
      stopCtx,
      stopDeadline,
      started: true,
      stopped: undefined,
      leaseUntil: (typeof job.processedOn === "number" ? job.processedOn : now) + (this.opts.lockDuration ?? 30_000),
      prev: undefined,
      next: undefined,
    };
    this.#add(r);
    this.#wakeBy(r.leaseUntil);
    // Picked up from BullMQ's prefetch after the grace ran out: it gets no grace of its own.
    if (this.#graceOver) this.#stop(r, "shutdown", new WorkerShutdownError(this.#settings.graceMs), "timer", undefined);
    const handler = this.#settings.handler;
    return go(jobCtx, (ctx) => handler(ctx, job), { name: `job ${job.name}#${id}` }).then(
      (result) => this.#settle(r, id, token, false, result),
      (error: unknown) => this.#settle(r, id, token, true, error),
    );
  }

  /** settle decides the job's one final state once its handler settled: a ctx that ended first wins over the outcome. */
  #settle(r: Running, id: string, token: string | undefined, failed: boolean, outcome: unknown): R | Promise<R> {
    this.#remove(r); // its lease no longer matters: the lease timer skips it
    r.stopDeadline?.();
    r.stopCtx();
    if (r.stopped === undefined && Date.now() > r.leaseUntil) {
      this.#stop(r, "lock", new LockLostError(this.name, id, "expired"), "timer", undefined);
    }
    const stopped = r.stopped ?? (r.ctx.err() === DeadlineExceeded ? { by: "deadline" as const, cause: DeadlineExceeded } : undefined);
    if (stopped === undefined) {
      if (failed) throw outcome;
      return outcome as R;
    }
    switch (stopped.by) {
      case "cancel":
        throw new JobCanceledError(this.name, id, stopped.cause);
      case "deadline":
        throw new UnrecoverableError(`job ${id} stopped: its deadline passed while it ran`);
      case "lock":
        // Not the job's failure. Hand it back if Redis still holds our lock (the lease ran out here first); if
        // another worker holds it, the script refuses our token and nothing is written, as for a connection error
        // (the stalled check then hands it back). Either way nothing is lost, so the refusal is not reported.
        return r.job.moveToWait(token).catch(() => {}).then(() => {
          throw new WaitingError();
        });
      case "shutdown":
        return r.job.moveToWait(token).then(() => {
          throw new WaitingError();
        });
    }
  }

  /**
   * cancelJob is BullMQ's local cancel (this process only): it ends the job's ctx with `reason` (or `Canceled`)
   * as {@link cancelJob} from `@lifeline/jobs` would, but records nothing in Redis. Returns whether the job runs here.
   */
  override cancelJob(jobId: string, reason?: string): boolean {
    const r = this.#find(jobId);
    if (r === undefined) return false;
    this.#stop(r, "cancel", reason ?? Canceled, "local", undefined);
    return true;
  }

  /** cancelAllJobs is BullMQ's local cancel of every job running here; see {@link JobWorker.cancelJob}. */
  override cancelAllJobs(reason?: string): void {
    for (let r = this.#first; r !== undefined; r = r.next) this.#stop(r, "cancel", reason ?? Canceled, "local", undefined);
  }

  /**
   * close is BullMQ's close with lifeline's grace: running jobs get `graceMs` (none when `force`), then their
   * contexts are cancelled with a {@link WorkerShutdownError} and they are moved back to waiting. A `close(true)`
   * while an earlier close() still waits ends the grace at once.
   */
  override close(force = false): Promise<void> {
    const shutdown = (): void => {
      this.#graceOver = true;
      for (let r = this.#first; r !== undefined; r = r.next) {
        this.#stop(r, "shutdown", new WorkerShutdownError(this.#settings.graceMs), "timer", undefined);
      }
    };
    if (!this.#closing) {
      this.#closing = true;
      this.#stopWatching();
      if (force || this.#settings.graceMs === 0) shutdown();
      else if (this.#settings.graceMs !== Infinity) {
        this.#graceTimer = setTimeout(() => {
          shutdown();
          this.#graceTimer = undefined;
        }, this.#settings.graceMs);
      }
      const closing = super.close(force);
      closing
        .finally(() => {
          this.#closed = true;
          clearTimeout(this.#graceTimer);
          clearInterval(this.#sweepTimer);
          clearTimeout(this.#leaseWake);
          this.#leaseWake = undefined;
          this.#subscriber?.disconnect();
          this.#recent.clear();
        })
        .catch(() => {});
      return closing;
    }
    // close(true) while a graceful close() waits: the grace is over now (BullMQ's own close ignores a later force).
    if (force && !this.#graceOver) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
      shutdown();
    }
    return super.close(force);
  }
}
