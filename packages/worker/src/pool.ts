import { MessageChannel, Worker, type MessagePort, type Transferable, type WorkerOptions } from "node:worker_threads";
import { afterFunc, blockOn, cause, Canceled, DeadlineExceeded, isContext, type Context } from "@lifeline/core";
import { WorkerCrashedError, WorkerPoolClosedError } from "./errors.js";
import {
  CANCELED_CAUSE,
  DEADLINE_CAUSE,
  FLAG_KIND,
  FLAG_SEQ,
  FLAG_SLOTS,
  fromWire,
  KIND_CANCELED,
  KIND_DEADLINE,
  MAX_TIMER_MS,
  seqAfter,
  toWire,
  type DoneMessage,
  type EndMessage,
  type InitMessage,
  type RunMessage,
} from "./internal/wire.js";

/** StoppedBy names the rung of the stop ladder that stopped a task whose context ended. */
export type StoppedBy =
  /** the context ended while the task waited in the queue: it never ran. */
  | "queue"
  /** the task returned (or threw) within `graceMs` of its context ending; its thread was reused. */
  | "cooperative"
  /** the task was still running `graceMs` after its context ended: its thread was terminated and replaced. */
  | "terminate"
  /** the thread died on its own while the task was stopping. */
  | "crash";

/** StopReport says how a task whose context ended was stopped, for logs and dashboards. */
export interface StopReport {
  /** stoppedBy is the rung that stopped the task. */
  readonly stoppedBy: StoppedBy;
  /** ms is the time from the context's end to the task being stopped (thread exited, for "terminate"). */
  readonly ms: number;
  /** threadId is the thread the task ran on, undefined for a task stopped in the queue. */
  readonly threadId: number | undefined;
}

/** WorkerPoolOptions size the pool and set its stop ladder. */
export interface WorkerPoolOptions {
  /** size is the most threads the pool runs at once (each runs one task at a time). Default: 4. */
  readonly size?: number;
  /**
   * graceMs is how long a task may keep running after its context ended before its thread is terminated.
   * Default: 1000. 0 terminates at once. At most 2^31 − 1 (~24.8 days), the longest delay a timer takes.
   */
  readonly graceMs?: number;
  /** workerOptions go to each `new Worker(url, workerOptions)` (e.g. `resourceLimits`, `env`, `workerData`). */
  readonly workerOptions?: WorkerOptions;
}

/** RunOptions are per call. */
export interface RunOptions {
  /** transfer moves these objects (ArrayBuffers, MessagePorts…) to the worker instead of copying them. */
  readonly transfer?: readonly Transferable[];
  /** onStop hears how the task was stopped, if its context ended before the task settled. */
  readonly onStop?: (report: StopReport) => void;
}

const RUNNING = 0;
const STOPPING = 1;
const DONE = 2;

/** Job is one run() call, queued or on a thread. The ladder's timer is the job's, never the thread's. */
interface Job {
  readonly seq: number;
  readonly ctx: Context;
  readonly input: unknown;
  readonly transfer: readonly Transferable[];
  readonly onStop: ((report: StopReport) => void) | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  state: number;
  thread: Thread | undefined;
  stopWatch: (() => boolean) | undefined;
  endedAt: number;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Thread is one worker thread; it runs at most one job. */
interface Thread {
  readonly worker: Worker;
  readonly flag: Int32Array;
  readonly control: MessagePort;
  readonly threadId: number;
  job: Job | undefined;
  /** gone: terminated by us or exited; never given another job. */
  gone: boolean;
  crash: unknown;
}

let lastSeq = 0;


function checkNumber(fn: string, name: string, v: unknown, min: number, max = Infinity): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (name === "size" && !Number.isInteger(v))) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new TypeError(`${fn}: ${name} must be ${name === "size" ? "an integer" : "a number"} ${range}, got \`${String(v)}\` (${typeof v})`);
  }
}

function checkOptions(fn: string, options: unknown): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${fn}: options must be an object, got \`${String(options)}\` (${typeof options})`);
  }
}

/**
 * WorkerPool runs tasks on a fixed number of worker threads, each running one task at a time, and stops a
 * task whose context ends with a ladder: (1) cooperative — the task's context inside the worker ends (its
 * `err()` at once through a shared flag, `done()`/`signal` when the thread's event loop runs); (2) grace —
 * the pool waits `graceMs` for the task to return, and reuses the thread if it does; (3) terminate — the
 * thread is terminated and replaced. A thread that may be terminated never runs another task, so stopping
 * one task never touches another. The module at `url` must call {@link serve}.
 *
 * Threads start on demand, up to `size`, and are unref'd while idle (an idle pool does not keep the process
 * alive). The caller owns the pool: call `close(ctx)` when done with it.
 */
export class WorkerPool<I = unknown, O = unknown> {
  readonly #url: URL | string;
  readonly #size: number;
  readonly #graceMs: number;
  readonly #workerOptions: WorkerOptions;
  readonly #threads = new Set<Thread>();
  readonly #queue: Job[] = [];
  #closed = false;
  /** drained is resolved when nothing is queued or running, while a close() waits for that. */
  #drained: (() => void) | undefined = undefined;
  #drainedPromise: Promise<void> | undefined = undefined;
  /** terminating holds the threads the ladder is terminating; close() waits for them too. */
  readonly #terminating = new Set<Promise<unknown>>();

  /**
   * @throws TypeError if `url` is not a URL or a string, `options` not an object, or an option is out of range.
   */
  constructor(url: URL | string, options: WorkerPoolOptions = {}) {
    if (!(url instanceof URL) && typeof url !== "string") {
      throw new TypeError(`WorkerPool: url must be a URL or a path, got \`${String(url)}\` (${typeof url})`);
    }
    checkOptions("WorkerPool", options);
    const { size = 4, graceMs = 1000, workerOptions = {} } = options;
    checkNumber("WorkerPool", "size", size, 1);
    checkNumber("WorkerPool", "graceMs", graceMs, 0, MAX_TIMER_MS);
    this.#url = url;
    this.#size = size;
    this.#graceMs = graceMs;
    this.#workerOptions = workerOptions;
  }

  /** threadIds returns the ids of the pool's live threads (for tests and dashboards). */
  threadIds(): number[] {
    return [...this.#threads].filter((t) => !t.gone).map((t) => t.threadId);
  }

  /** queued returns how many tasks wait for a thread. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * run returns a promise of the result of the worker's function for `input` (structured-cloned, `transfer`
   * moved). It waits for a free thread (in a queue, first come first served); while it waits, the caller's
   * task shows as blocked on `worker run`.
   *
   * When `ctx` ends first, it rejects with `ctx.err()` — once the task has stopped: at once if it was still
   * queued (it leaves the queue), when it returns if it returns within `graceMs`, else when its thread has
   * been terminated. So the work never outlives the call. `onStop` hears which rung stopped it.
   *
   * A task that throws rejects with an Error of the same name, message, stack and cause. A thread that dies
   * while running the task rejects with {@link WorkerCrashedError}; other tasks are not affected. A thread that
   * cannot be created (Node's `new Worker` throws: a bad path or worker option) rejects the task with that error.
   *
   * @throws TypeError (synchronously) if `ctx` is not a Context, `options` not an object, or an option is malformed.
   */
  run(ctx: Context, input: I, options: RunOptions = {}): Promise<O> {
    if (!isContext(ctx)) throw new TypeError(`WorkerPool.run: ctx must be a Context, got \`${String(ctx)}\` (${typeof ctx})`);
    checkOptions("WorkerPool.run", options);
    const { transfer = [], onStop } = options;
    if (!Array.isArray(transfer)) throw new TypeError(`WorkerPool.run: options.transfer must be an array, got \`${String(transfer)}\``);
    if (onStop !== undefined && typeof onStop !== "function") {
      throw new TypeError(`WorkerPool.run: options.onStop must be a function, got \`${String(onStop)}\``);
    }
    if (this.#closed) return Promise.reject(new WorkerPoolClosedError());
    const err = ctx.err();
    if (err !== undefined) return Promise.reject(err);
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    const settled = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const job: Job = {
      seq: (lastSeq = seqAfter(lastSeq)),
      ctx,
      input,
      transfer,
      onStop,
      resolve,
      reject,
      state: RUNNING,
      thread: undefined,
      stopWatch: undefined,
      endedAt: 0,
      graceTimer: undefined,
    };
    this.#queue.push(job);
    job.stopWatch = afterFunc(ctx, () => this.#ctxEnded(job));
    this.#dispatch();
    return blockOn(ctx, "worker run", settled) as Promise<O>;
  }

  /**
   * close stops the pool taking tasks (later `run` calls reject with {@link WorkerPoolClosedError}), waits for
   * the queued and running tasks to finish, then terminates the threads. If `ctx` ends first, it terminates
   * the threads at once — the tasks still queued or running reject with WorkerPoolClosedError — and rejects
   * with `ctx.err()`. Calling it again waits again.
   */
  async close(ctx: Context): Promise<void> {
    if (!isContext(ctx)) throw new TypeError(`WorkerPool.close: ctx must be a Context, got \`${String(ctx)}\` (${typeof ctx})`);
    this.#closed = true;
    if (!this.#idle()) {
      // Several close() calls share one wait; each also stops waiting when its own ctx ends.
      this.#drainedPromise ??= new Promise<void>((resolve) => (this.#drained = resolve));
      let stopWaiting!: () => void;
      const ended = new Promise<void>((resolve) => (stopWaiting = resolve));
      const stop = afterFunc(ctx, stopWaiting);
      try {
        await blockOn(ctx, "worker pool close", Promise.race([this.#drainedPromise, ended]));
      } finally {
        stop();
      }
    }
    const err = ctx.err();
    for (const job of this.#queue.splice(0)) this.#finish(job, undefined, new WorkerPoolClosedError());
    const exits: Promise<number>[] = [];
    for (const t of this.#threads) {
      t.gone = true;
      const job = t.job;
      if (job?.state === STOPPING) this.#finish(job, "terminate", job.ctx.err()); // its own ctx had ended: its err
      else if (job !== undefined) this.#finish(job, undefined, new WorkerPoolClosedError("worker pool closed: its close(ctx) ended; the thread was terminated"));
      t.control.close();
      exits.push(t.worker.terminate());
    }
    this.#threads.clear();
    await Promise.all([...exits, ...this.#terminating]);
    if (err !== undefined) throw err;
  }

  #drainedNow(): void {
    this.#drained?.();
    this.#drained = undefined;
    this.#drainedPromise = undefined;
  }

  #idle(): boolean {
    if (this.#queue.length > 0) return false;
    for (const t of this.#threads) if (t.job !== undefined) return false;
    return true;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let thread: Thread | undefined;
      for (const t of this.#threads) {
        if (!t.gone && t.job === undefined) {
          thread = t;
          break;
        }
      }
      if (thread === undefined) {
        if (this.#threads.size >= this.#size) return;
        try {
          thread = this.#spawn();
        } catch (error) {
          // new Worker threw (a bad path, bad workerOptions): the first task waiting fails with why, not the caller
          // of whatever event dispatched it, and nothing is left queued.
          this.#finish(this.#queue.shift()!, undefined, error);
          continue;
        }
      }
      const job = this.#queue.shift()!;
      job.thread = thread;
      thread.job = job;
      thread.worker.ref();
      const message: RunMessage = { t: "run", seq: job.seq, input: job.input, deadline: job.ctx.deadline() ?? null };
      try {
        thread.worker.postMessage(message, job.transfer);
      } catch (error) {
        // The input could not be cloned: the thread is untouched, the call fails.
        thread.job = undefined;
        thread.worker.unref();
        this.#finish(job, undefined, error);
      }
    }
    if (this.#drained !== undefined && this.#idle()) this.#drainedNow();
  }

  #spawn(): Thread {
    const worker = new Worker(this.#url, this.#workerOptions);
    const flag = new Int32Array(new SharedArrayBuffer(FLAG_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    const { port1: control, port2 } = new MessageChannel();
    control.unref();
    const thread: Thread = { worker, flag, control, threadId: worker.threadId, job: undefined, gone: false, crash: undefined };
    this.#threads.add(thread);
    worker.postMessage({ t: "init", flag, control: port2 } satisfies InitMessage, [port2]);
    worker.on("message", (m: unknown) => this.#message(thread, m));
    worker.on("error", (error) => (thread.crash = error));
    worker.on("exit", (code) => this.#exit(thread, code));
    return thread;
  }

  #message(thread: Thread, m: unknown): void {
    if (typeof m !== "object" || m === null || (m as { t?: unknown }).t !== "done") return;
    const d = m as DoneMessage;
    const job = thread.job;
    if (job === undefined || d.seq !== job.seq || thread.gone) return;
    thread.job = undefined;
    thread.worker.unref();
    if (job.state === STOPPING) {
      // The thread goes on to other tasks: clear the flag, so that the seq it holds cannot match a later task
      // once the numbers wrap (seqAfter).
      Atomics.store(thread.flag, FLAG_SEQ, 0);
      this.#finish(job, "cooperative", job.ctx.err());
    } else if (d.expired === true) {
      // The worker's copy of the deadline stopped the task before this thread's timer fired (this thread was busy):
      // the task was stopped by its ctx all the same, so it rejects with the err that ctx is about to report.
      job.endedAt = performance.now();
      this.#finish(job, "cooperative", job.ctx.err() ?? DeadlineExceeded);
    } else if (d.ok) {
      this.#finish(job, undefined, undefined, d.value, false);
    } else {
      this.#finish(job, undefined, fromWire(d.error));
    }
    this.#dispatch();
  }

  #exit(thread: Thread, code: number): void {
    const wasOurs = thread.gone;
    thread.gone = true;
    thread.control.close();
    this.#threads.delete(thread);
    const job = thread.job;
    thread.job = undefined;
    if (job !== undefined && !wasOurs) {
      if (job.state === STOPPING) this.#finish(job, "crash", job.ctx.err());
      else this.#finish(job, undefined, new WorkerCrashedError(thread.threadId, code, thread.crash));
    } else if (!wasOurs) {
      // Nobody waits on an idle thread: report its death as the core reports a failed task nobody awaited.
      void Promise.reject(new WorkerCrashedError(thread.threadId, code, thread.crash, false));
    }
    this.#dispatch();
  }

  /** #ctxEnded runs (in a microtask) when a job's context ended before the job finished. */
  #ctxEnded(job: Job): void {
    if (job.state !== RUNNING) return;
    const err = job.ctx.err() ?? Canceled;
    job.endedAt = performance.now();
    const thread = job.thread;
    if (thread === undefined) {
      const i = this.#queue.indexOf(job);
      if (i >= 0) this.#queue.splice(i, 1);
      this.#finish(job, "queue", err);
      if (this.#drained !== undefined && this.#idle()) this.#drainedNow();
      return;
    }
    job.state = STOPPING;
    // Rung 1: the end message (wakes a task that awaits), then the flag (a synchronous loop sees it at its next
    // err(), and reads that message there): in this order, whoever sees the flag finds the message queued.
    const kind = err === DeadlineExceeded ? KIND_DEADLINE : KIND_CANCELED;
    const why = cause(job.ctx);
    const wired = why === Canceled ? CANCELED_CAUSE : why === DeadlineExceeded ? DEADLINE_CAUSE : toWire(why);
    thread.control.postMessage({ t: "end", seq: job.seq, kind, cause: wired } satisfies EndMessage);
    Atomics.store(thread.flag, FLAG_KIND, kind);
    Atomics.store(thread.flag, FLAG_SEQ, job.seq);
    // Rung 2: the grace period, on the job's own timer.
    job.graceTimer = setTimeout(() => this.#terminate(job), this.#graceMs);
  }

  /** #terminate is rung 3: the task ignored its context for graceMs; its thread goes, and the pool replaces it. */
  #terminate(job: Job): void {
    job.graceTimer = undefined;
    const thread = job.thread;
    if (job.state !== STOPPING || thread === undefined || thread.job !== job) return;
    thread.gone = true;
    thread.job = undefined;
    this.#threads.delete(thread);
    this.#dispatch(); // a replacement may start now: this thread will never run another task
    const gone = thread.worker.terminate().then(
      () => this.#finish(job, "terminate", job.ctx.err()),
      () => this.#finish(job, "terminate", job.ctx.err()),
    );
    this.#terminating.add(gone);
    void gone.then(() => this.#terminating.delete(gone));
  }

  /** #finish settles a job once: with `value` when `failed` is false, else with `error`. */
  #finish(job: Job, stoppedBy: StoppedBy | undefined, error: unknown, value?: unknown, failed = true): void {
    if (job.state === DONE) return;
    job.state = DONE;
    job.stopWatch?.();
    if (job.graceTimer !== undefined) clearTimeout(job.graceTimer);
    job.graceTimer = undefined;
    if (stoppedBy !== undefined && job.onStop !== undefined) {
      const report: StopReport = {
        stoppedBy,
        ms: stoppedBy === "queue" ? 0 : performance.now() - job.endedAt,
        threadId: stoppedBy === "queue" ? undefined : job.thread?.threadId,
      };
      try {
        job.onStop(report);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    if (failed) job.reject(error);
    else job.resolve(value);
  }
}
