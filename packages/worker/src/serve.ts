import { isMainThread, MessagePort, parentPort, receiveMessageOnPort } from "node:worker_threads";
import {
  background,
  Canceled,
  DeadlineExceeded,
  go,
  withSignal,
  type Context,
  type Key,
  type ReceiveChannel,
} from "@lifeline/core";
import {
  FLAG_KIND,
  FLAG_SEQ,
  fromWire,
  KIND_CANCELED,
  KIND_DEADLINE,
  MAX_TIMER_MS,
  toWire,
  type DoneMessage,
  type EndMessage,
  type RunMessage,
} from "./internal/wire.js";

/**
 * TaskFunction is the worker side of a {@link WorkerPool}: it gets the task's context and the structured-clone
 * of the caller's input, and returns (or resolves to) a structured-cloneable result.
 */
export type TaskFunction<I = unknown, O = unknown> = (ctx: Context, input: I) => O | PromiseLike<O>;

/** ServeOptions name the task in this thread's task dump. */
export interface ServeOptions {
  /** name of each task in `tasks()` inside the worker; defaults to the function's name, else `"worker task"`. */
  readonly name?: string;
}

/**
 * WorkerTaskContext is the context a task runs under inside the worker: it mirrors the caller's. Its
 * `err()` is one atomic load of a flag the caller's thread sets when the caller's context ends, so a
 * synchronous loop sees the end at once; on seeing it, err() reads the end message synchronously and ends
 * the context (done, signal, cause, derived contexts). An awaiting task is woken by the same message when
 * this thread's event loop delivers it. Contexts derived from it learn of the end at either moment, never
 * from the flag alone: in a tight loop, check this context's err().
 */
class WorkerTaskContext implements Context {
  readonly #inner: Context;
  readonly #end: EndSignal;
  readonly #deadline: number | undefined;
  readonly #flag: Int32Array;
  readonly #seq: number;
  readonly #drain: () => void;
  #flagErr: Error | undefined = undefined;

  constructor(ctx: Context, end: EndSignal, deadline: number | undefined, flag: Int32Array, seq: number, drain: () => void) {
    this.#inner = ctx;
    this.#end = end;
    this.#deadline = deadline;
    this.#flag = flag;
    this.#seq = seq;
    this.#drain = drain;
  }

  err(): Error | undefined {
    // Every end of this context goes through #end (the caller's end message, the deadline, the task's return),
    // so while it has not aborted, the flag is the only thing to read: one atomic load per call.
    if (this.#end.aborted) return this.#inner.err();
    if (Atomics.load(this.#flag, FLAG_SEQ) !== this.#seq) return this.#flagErr;
    if (this.#flagErr !== undefined) return this.#flagErr;
    // The caller's context ended. Its end message was posted before the flag was set: read it now, so that
    // the context ends here with the caller's err and cause, done() closed and signal aborted.
    this.#drain();
    if (this.#end.aborted) return this.#inner.err();
    this.#flagErr = Atomics.load(this.#flag, FLAG_KIND) === KIND_DEADLINE ? DeadlineExceeded : Canceled;
    return this.#flagErr;
  }
  deadline(): number | undefined {
    return this.#deadline;
  }
  done(): ReceiveChannel<never> {
    return this.#inner.done();
  }
  value<T>(key: Key<T>): T | undefined {
    return this.#inner.value(key);
  }
  get signal(): AbortSignal {
    return this.#inner.signal;
  }
  toString(): string {
    return `worker task ${this.#seq}`;
  }
}

/**
 * EndSignal is the abort-signal-like object (aborted, reason, add/removeEventListener) that withSignal
 * accepts from other realms: a real AbortController per task cost more than the rest of a round trip.
 */
class EndSignal {
  aborted = false;
  reason: unknown = undefined;
  #listener: (() => void) | undefined = undefined;
  addEventListener(_type: "abort", listener: () => void): void {
    this.#listener = listener; // withSignal adds one listener (its hub) at most
  }
  removeEventListener(_type: "abort", listener: () => void): void {
    if (this.#listener === listener) this.#listener = undefined;
  }
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.#listener;
    this.#listener = undefined;
    l?.();
  }
}

/** Running is the task this thread runs: one at a time. */
interface Running {
  readonly seq: number;
  readonly controller: EndSignal;
}

let served = false;

/**
 * serve makes this worker thread run `fn` for each task a {@link WorkerPool} sends it, one task at a time,
 * and returns nothing. Call it once, at the top level of the module the pool was given.
 *
 * Each task runs as a lifeline task (`go`) under a context that mirrors the caller's: the same deadline, and
 * it ends when the caller's context ends, with the same err and a structured clone of the cause (an Error
 * crosses with its name, message, stack, cause and cloneable fields; the core's sentinels map to this
 * thread's `Canceled`/`DeadlineExceeded`). The worker keeps its own copy of the deadline, so a deadline ends
 * the task's context even while the caller's thread is busy; its cause is then `DeadlineExceeded` (a custom
 * deadline cause, from `withDeadlineCause`, crosses only when the caller's end message comes first, wrapped in
 * an Error named `TimeoutError`). The context ends with `Canceled` once the task has returned.
 *
 * What `fn` returns is structured-cloned to the caller; what it throws arrives there as an Error of the
 * same name. It does NOT stop `fn`: the caller's pool waits its grace period for `fn` to return, then
 * terminates this thread. Check `ctx.err()` in loops; pass `ctx` to every call that may block.
 *
 * @throws TypeError if called on the main thread, twice, or with a non-function.
 */
export function serve<I = unknown, O = unknown>(fn: TaskFunction<I, O>, options?: ServeOptions): void {
  if (typeof fn !== "function") throw new TypeError(`serve: fn must be a function, got \`${String(fn)}\` (${typeof fn})`);
  const port = parentPort;
  if (isMainThread || port === null) throw new TypeError("serve: must be called inside a worker thread started by a WorkerPool");
  if (served) throw new TypeError("serve: already called in this thread; a thread serves one function");
  const given = options?.name;
  if (given !== undefined && typeof given !== "string") throw new TypeError(`serve: options.name must be a string, got \`${String(given)}\``);
  served = true;
  const name = given ?? (fn.name || "worker task");
  let flag: Int32Array | undefined;
  let control: MessagePort | undefined;
  let running: Running | undefined;
  // The end of a task whose run message has not been handled yet (the two come on different ports).
  let early: EndMessage | undefined;

  const onEnd = (m: unknown): void => {
    if (typeof m !== "object" || m === null || (m as { t?: unknown }).t !== "end") return;
    const e = m as EndMessage;
    if (!Number.isSafeInteger(e.seq)) return;
    if (running !== undefined && e.seq === running.seq) running.controller.abort(reasonFor(e.kind, fromWire(e.cause)));
    else if (running === undefined || e.seq > running.seq) early = e;
  };
  const drain = (): void => {
    for (let m = control && receiveMessageOnPort(control); m !== undefined; m = receiveMessageOnPort(control!)) onEnd(m.message);
  };

  port.on("message", (m: unknown) => {
    if (typeof m !== "object" || m === null) return;
    const t = (m as { t?: unknown }).t;
    if (t === "init" && flag === undefined) {
      const { flag: f, control: c } = m as { flag?: unknown; control?: unknown };
      if (!(f instanceof Int32Array && f.buffer instanceof SharedArrayBuffer && f.length >= 2 && c instanceof MessagePort)) return;
      flag = f;
      control = c;
      control.on("message", onEnd);
      control.unref(); // the pool decides how long this thread lives
    } else if (t === "run" && flag !== undefined && running === undefined) {
      const r = m as RunMessage;
      if (!Number.isSafeInteger(r.seq)) return;
      const deadline = typeof r.deadline === "number" && Number.isFinite(r.deadline) ? r.deadline : undefined;
      running = start(port, fn, name, flag, drain, r.seq, r.input, deadline, () => (running = undefined));
      const e = early;
      early = undefined;
      // Only this task's own: an end kept for an older task (it came after that task's reply) is dropped here,
      // not kept until the numbers wrap round to it (seqAfter).
      if (e !== undefined && e.seq === r.seq) onEnd(e);
    }
  });
}

/** reasonFor is the abort reason that makes withSignal end a context with the caller's err and cause. */
function reasonFor(kind: unknown, wired: unknown): unknown {
  const isSentinel = (v: unknown, s: string) => typeof v === "object" && v !== null && (v as { $sentinel?: unknown }).$sentinel === s;
  if (kind === KIND_DEADLINE) {
    if (isSentinel(wired, "deadline")) return DeadlineExceeded;
    if (wired instanceof Error && wired.name === "TimeoutError") return wired;
    const wrapped = new Error("context deadline exceeded", { cause: wired });
    Object.defineProperty(wrapped, "name", { value: "TimeoutError", writable: true, enumerable: false, configurable: true });
    return wrapped;
  }
  if (isSentinel(wired, "canceled") || kind !== KIND_CANCELED) return Canceled;
  // A cause named TimeoutError would read as a deadline: keep it as the cause of a plain cancel.
  return wired instanceof Error && wired.name === "TimeoutError" ? new Error("context canceled", { cause: wired }) : wired;
}


function start<I, O>(
  port: MessagePort,
  fn: TaskFunction<I, O>,
  name: string,
  flag: Int32Array,
  drain: () => void,
  seq: number,
  input: unknown,
  deadline: number | undefined,
  finished: () => void,
): Running {
  const end = new EndSignal();
  const [base, cancelBase] = withSignal(background(), end as unknown as AbortSignal);
  // The worker's own copy of the deadline: it ends the context even while the caller's thread is busy.
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (deadline !== undefined) {
    const ms = deadline - Date.now();
    if (ms <= 0) end.abort(DeadlineExceeded);
    // A deadline further away than a timer can wait is left to the caller's end message.
    else if (ms <= MAX_TIMER_MS) timer = setTimeout(() => end.abort(DeadlineExceeded), ms);
  }
  // The task runs under base (a context of the core's: go() need not check it), and fn gets the mirror of
  // the task's context, whose err() reads the flag. Reading a custom context's signal (as every check of one
  // does) would make an AbortController per task: that is left to tasks that use it.
  const task = go(base, (ctx) => fn(new WorkerTaskContext(ctx, end, deadline, flag, seq, drain), input as I), { name });
  const reply = (message: DoneMessage): void => {
    if (timer !== undefined) clearTimeout(timer);
    if (end.aborted && end.reason === DeadlineExceeded) message = { ...message, expired: true };
    end.abort(Canceled);
    cancelBase();
    finished();
    try {
      port.postMessage(message);
    } catch (error) {
      // The result could not be cloned (a function, a class instance with private state…): say so.
      port.postMessage({ t: "done", seq, ok: false, error: toWire(error) } satisfies DoneMessage);
    }
  };
  task.then(
    (value) => reply({ t: "done", seq, ok: true, value }),
    (error: unknown) => reply({ t: "done", seq, ok: false, error: toWire(error) }),
  );
  return { seq, controller: end };
}
