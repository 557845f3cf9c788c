import { cause } from "../5-cancel/cancel.js";
import {
  checkContext,
  contextName,
  Ctx,
  Key,
  MISS,
  type channelBrand,
  type Context,
  type ReceiveChannel,
  type RecvResult,
} from "../2-context/context.js";
import { describe } from "../1-base/describe.js";
import { ListenerHost, timeEnd, type Listener, type Source } from "../3-wait/listeners.js";
import { setTaskOf } from "../3-wait/parked.js";
import { report } from "../1-base/report.js";
import { tracker, type TrackKind } from "../1-base/track.js";
import { exactNow, lazyStamp, readStamp, Stamp } from "../1-base/stamp.js";

/**
 * TaskState: `running` (not waiting on a lifeline primitive), `blocked` (waiting on one, or on several:
 * {@link Task.blockedOn} lists them), or `done` (for good: a later wait on its context is not the task's).
 * A wait belongs to the task whose context it was made with (or whose done channel a select waits on); when
 * an installed tracker follows async context (`@lifeline/testing`'s does), to the task whose code made it.
 */
export type TaskState = "running" | "blocked" | "done";

/** TaskOptions name a task for the registry, the task dump and failure reports. */
export interface TaskOptions {
  /** name defaults to the function's name, else `"task"`. */
  readonly name?: string;
}

/** @internal taskKey finds the task a context belongs to. */
export const taskKey: Key<Task<unknown>> = new Key("lifeline.task");

let nextId = 1;
// Pure: a bundle that never starts a task drops it.
let stacks = /* @__PURE__ */ readDebugSwitch();
// Live tasks, oldest first: an intrusive list, so spawn and finish cost no hashing and no allocation.
let firstLive: Task<unknown> | null = null;
let lastLive: Task<unknown> | null = null;
let liveCount = 0;

function readDebugSwitch(): boolean {
  let v: string | undefined;
  try {
    v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LIFELINE_DEBUG;
  } catch {
    return false; // Deno without --allow-env throws NotCapable on reading the environment: no switch, then.
  }
  return v !== undefined && v !== "" && v !== "0" && v !== "false";
}

/**
 * captureTaskStacks turns the capture of creation stacks on or off for tasks started from now on (also on
 * when the environment variable `LIFELINE_DEBUG` is set). Off by default: a stack costs microseconds.
 * Returns the previous setting.
 */
export function captureTaskStacks(on: boolean): boolean {
  if (typeof on !== "boolean") throw new TypeError(`captureTaskStacks: on must be a boolean, got ${describe(on)}`);
  const previous = stacks;
  stacks = on;
  return previous;
}

/**
 * TaskFailureHandler receives the error of a task that failed while nobody awaited it.
 * @see setTaskFailureHandler
 */
export type TaskFailureHandler = (error: TaskError, task: Task<unknown>) => void;

let failureHandler: TaskFailureHandler | undefined;

/**
 * setTaskFailureHandler sets the one hook that hears of tasks that failed while nobody awaited their
 * handle; `undefined` restores the default, which raises the {@link TaskError} as an unhandled promise
 * rejection (logged by Node, fatal under its default `--unhandled-rejections=throw`). A task that ends
 * with its own context's error after that context ended — exactly `ctx.err()` or `cause(ctx)` of the context it
 * was given — is not a failure and is not reported; any other error is, a Canceled or DeadlineExceeded from some
 * other context included (`Canceled` is one shared value: a task whose context was cancelled cannot be told from
 * one that failed with another cancelled context's error). Returns the previous handler.
 */
export function setTaskFailureHandler(handler: TaskFailureHandler | undefined): TaskFailureHandler | undefined {
  if (handler !== undefined && typeof handler !== "function") {
    throw new TypeError(`setTaskFailureHandler: handler must be a function or undefined, got ${describe(handler)}`);
  }
  const previous = failureHandler;
  failureHandler = handler;
  return previous;
}

/**
 * TaskError reports a task that failed with nobody waiting: it names the task and, when stacks are
 * captured, where it was started. The original error is its `cause`.
 */
export class TaskError extends Error {
  declare readonly name: "TaskError";
  /** task is the handle of the task that failed. */
  readonly task: Task<unknown>;
  constructor(task: Task<unknown>, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`task ${task.id} "${task.name}" failed with nobody waiting: ${why}${task.stack ? `\n  started ${task.stack}` : ""}`, {
      cause,
    });
    Object.defineProperty(this, "name", { value: "TaskError", writable: false, enumerable: false, configurable: true });
    // Raised from a timer: our own frames say nothing; the creation site is in the message, the failure in cause.
    this.stack = `TaskError: ${this.message}`;
    this.task = task;
  }
}

/** @internal TaskCtx is the context a task runs under: its parent, plus who the task is. */
class TaskCtx extends Ctx {
  readonly parent: Context;
  readonly task: Task<unknown>;
  #done: DoneView | undefined = undefined;
  constructor(parent: Context, task: Task<unknown>) {
    super(parent);
    this.taskRef = task;
    this.parent = parent;
    this.task = task;
  }
  /** @internal */
  get endsWith(): Context | undefined {
    return this.parent;
  }
  /** @internal */
  own(key: Key<unknown>): unknown {
    return key === taskKey ? this.task : MISS;
  }
  deadline(): number | undefined {
    return this.parent.deadline();
  }
  done(): ReceiveChannel<never> {
    // A view of the parent's done channel that remembers the task, so a select on it can say who is blocked.
    if (this.#done === undefined) {
      const parentDone = this.parent.done();
      this.#done = new DoneView(parentDone instanceof DoneView ? parentDone.channel : parentDone, this.task);
    }
    return this.#done;
  }
  err(): Error | undefined {
    return this.parent.err();
  }
  get signal(): AbortSignal {
    return this.parent.signal;
  }
  toString(): string {
    return contextName(this.parent);
  }
}

/** @internal DoneView is a task context's done channel: the parent's, tagged with the task. */
export class DoneView implements ReceiveChannel<never> {
  /** @internal */
  declare readonly [channelBrand]: true;
  constructor(
    readonly channel: ReceiveChannel<never>,
    readonly task: Task<unknown>,
  ) {}
  recv(ctx: Context): Promise<RecvResult<never>> {
    return this.channel.recv(ctx);
  }
  tryRecv(): RecvResult<never> | undefined {
    return this.channel.tryRecv();
  }
  get length(): number {
    return 0;
  }
  get capacity(): number {
    return 0;
  }
  range(ctx: Context): AsyncIterable<never, undefined, undefined> {
    return this.channel.range(ctx);
  }
  [Symbol.asyncIterator](): AsyncIterator<never, undefined, undefined> {
    return this.channel[Symbol.asyncIterator]();
  }
}

/** @internal taskOf returns the task `ctx` belongs to, if any. */
export function taskOf(ctx: Context): Task<unknown> | undefined {
  if (ctx instanceof Ctx) {
    const t = ctx.taskRef; // found when ctx was made (Ctx.taskRef); undefined: a foreign context on the way
    if (t !== undefined) return t === null ? undefined : (t as Task<unknown>);
  }
  return ctx.value(taskKey);
}

// A wait (3-wait/parked.ts, a lower layer) learns the task it blocks through this: no task can exist before
// this module has run.
setTaskOf(taskOf);

// Tasks whose first step is due, in go() order. Each go() queues one reaction on `due`, which starts the oldest
// task queued here: reactions run in the order they were queued, so each starts its own, and no task costs a
// closure or an async function for its start. Pure: a bundle that never starts a task drops it.
const due = /* @__PURE__ */ Promise.resolve();
let firstDue: Task<unknown> | null = null;
let lastDue: Task<unknown> | null = null;
// Set while the registry attaches its own reactions to a task: they do not observe its outcome.
let quiet = false;

/**
 * Task is the handle of work started with {@link go}: a Promise of fn's result (await it, or call then/catch/
 * finally). While the task runs it is in the registry ({@link tasks}) with its state, what it is blocked on and
 * since when; once it settles, the registry forgets it. It is not made with `new` (use go): the Promise statics
 * inherited on `Task` (Task.resolve, Task.all…) throw a TypeError.
 */
export class Task<T> extends Promise<T> implements Listener {
  /** id is unique in this process, increasing. */
  readonly id: number;
  /** ctx is the context the task runs under (passed to its function): it prints as the parent's chain. */
  readonly ctx: Context;
  /**
   * parent is the context given to {@link go}; `ctx` is it plus the task's identity. Tasks started with the
   * same context share it: group them by this object's identity (their `String(ctx)` may differ in time left).
   */
  readonly parent: Context;
  /** stack is where go() was called, when stacks are captured ({@link captureTaskStacks}); else undefined. */
  readonly stack: string | undefined;
  #name: string | undefined;
  #fn: (ctx: Context) => T | PromiseLike<T>;
  // Done for good; else blocked while a wait is recorded (#what), running otherwise.
  #done = false;
  // The waits in progress, oldest first: a task may park on several at once (Promise.all of two recvs). #what
  // describes the oldest, undefined when none; the others are in #more as [wait, what] pairs laid flat. The
  // oldest wait's identity is not kept (it is the one pending wait not in #more): a task lives long, its waits
  // do not, and storing a new object in an old one costs the garbage collector's write barrier on every park.
  #what: string | undefined = undefined;
  #more: (object | string)[] | null = null;
  #created: Stamp;
  #since: Stamp;
  #observed = false;
  #ctxEndedAt: number | undefined = undefined;
  // What times the end of the task's context (see timeEnd): its cancel node, or a foreign context's Hub.
  #ends: ListenerHost | Source | undefined;
  #resolve: (value: T) => void;
  #reject: (error: unknown) => void;
  #nextDue: Task<unknown> | null = null;
  // A task is attached as a Listener only to a foreign context's Hub, which keeps its listeners in a Set.
  /** @internal */
  declare prevSibling: Listener | null;
  /** @internal */
  declare nextSibling: Listener | null;
  /** @internal */
  declare attachedTo: ListenerHost | null;
  /** @internal */
  prevLive: Task<unknown> | null = null;
  /** @internal */
  nextLive: Task<unknown> | null = null;

  /** @internal */
  constructor(parent: Context, fn: (ctx: Context) => T | PromiseLike<T>, name: string | undefined, stack: string | undefined) {
    // Promise's statics (Task.resolve, Task.all…) construct `new Task(executor)`: not a task.
    if (typeof fn !== "function") throw new TypeError("Task: tasks are started with go(), not constructed");
    super(capture);
    this.#resolve = capturedResolve as (value: T) => void;
    this.#reject = capturedReject;
    this.id = nextId++;
    this.#name = name;
    this.#fn = fn;
    this.parent = parent;
    this.ctx = new TaskCtx(parent, this as Task<unknown>);
    this.stack = stack;
    // Know exactly when the task's context ends, to measure how long the task takes to stop (time-to-stop).
    if (parent.err() !== undefined) {
      const now = exactNow();
      this.#created = this.#since = new Stamp(now);
      this.#ctxEndedAt = now;
      this.#ends = undefined;
    } else {
      this.#created = this.#since = lazyStamp();
      this.#ends = timeEnd(parent, exactNow, this);
    }
    register(this as Task<unknown>);
    // Started in a microtask, as `go` starts a goroutine: the caller holds the handle before any of fn runs. A
    // tracker that follows async context queues the start as the task's, so it can name the task of any wait.
    if (tracker?.run !== undefined) tracker.run(this, () => Task.#queue(this as Task<unknown>));
    else Task.#queue(this as Task<unknown>);
  }

  /** name is the name given in the options, else the function's name, else "task". */
  get name(): string {
    // Read on demand: a function's name costs ~15 ns to read, and most tasks are never named anywhere.
    return (this.#name ??= this.#fn.name || "task");
  }

  /** state is `running`, `blocked` (waiting on a channel, select, sleep, semaphore or WaitGroup) or `done`. */
  get state(): TaskState {
    return this.#done ? "done" : this.#what !== undefined ? "blocked" : "running";
  }

  /**
   * blockedOn says what a blocked task waits on (`chan recv`, `select (3 cases)`, `sleep 200ms`…): every wait
   * still pending, oldest first, joined with ", " (`chan recv, sleep 50ms` under a Promise.all); undefined
   * when it is not blocked.
   */
  get blockedOn(): string | undefined {
    const more = this.#more;
    if (this.#what === undefined || more === null || more.length === 0) return this.#what;
    let all = this.#what;
    for (let i = 1; i < more.length; i += 2) all += `, ${more[i] as string}`;
    return all;
  }

  /**
   * createdAt is when go() was called, approximately, as {@link Task.since} is: epoch milliseconds on the
   * monotonic clock (`performance.timeOrigin + performance.now()`, with a fractional part), never before the
   * call and at most ~1 s after it (when timers run on time). Compare it with `performance.timeOrigin +
   * performance.now()`, not `Date.now()`. createdAt ≤ since ≤ the time of the read.
   */
  get createdAt(): number {
    return readStamp(this.#created);
  }

  /**
   * since is when the task entered its current state: epoch ms on the monotonic clock, as {@link Task.createdAt}.
   * It is approximate, as Go's wait time in a goroutine dump is: a change of state reads no clock; a sampler (one
   * unref'd timer, armed only while some change is unstamped) stamps changes once a second, and a read of an
   * unstamped change stamps it with the time of the read. So `since` is never before the change, at most 1 s
   * after it (later only if the event loop held the sampler's timer up, or fake timers froze it), and the same
   * on every read. Exact, though, for a task that settled after its context ended: then `since − ctxEndedAt` is
   * its time-to-stop, to a fraction of a millisecond.
   */
  get since(): number {
    return readStamp(this.#since);
  }

  /**
   * ctxEndedAt is when the task's context ended (epoch ms on the monotonic clock, exact), or undefined while it
   * is live. For a done task, `since - ctxEndedAt` is how long it took to stop after cancellation, in
   * milliseconds with a fractional part; for a running one, `performance.timeOrigin + performance.now() -
   * ctxEndedAt` is how long it has been ignoring it.
   */
  get ctxEndedAt(): number | undefined {
    const ends = this.#ends;
    if (!(ends instanceof ListenerHost)) return this.#ctxEndedAt;
    const at = ends.endedAt;
    return typeof at === "number" ? at : undefined;
  }

  /** @internal a foreign context's Hub tells the task its context ended. */
  ended(): void {
    this.#ends = undefined;
    this.#ctxEndedAt = exactNow();
  }

  /**
   * @internal block records that the task waits on `wait` (described by `what`) and returns true; false,
   * recording nothing, once the task is done (a late wait on a finished task's context is not the task's).
   */
  block(wait: object, what: string): boolean {
    if (this.#done) return false;
    if (this.#what === undefined) {
      this.#what = what;
      this.#since = lazyStamp();
    } else {
      (this.#more ??= []).push(wait, what);
    }
    return true;
  }

  /**
   * @internal unblock records that `wait` (one that block recorded) is over; the task runs again when no other
   * wait is pending.
   */
  unblock(wait: object): void {
    if (this.#done) return;
    const more = this.#more;
    if (more !== null && more.length > 0) {
      const i = more.indexOf(wait);
      if (i >= 0) {
        more.splice(i, 2);
      } else {
        // Not among the others: the oldest is over, and the next oldest takes its place.
        more.shift();
        this.#what = more.shift() as string;
      }
    } else {
      this.#what = undefined;
      this.#since = lazyStamp();
    }
  }

  /** #start runs fn: it has been started from the queue of due tasks. */
  #start(): void {
    let result: T | PromiseLike<T>;
    try {
      result = this.#fn(this.ctx);
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (result instanceof Promise) {
      (result as Promise<T>).then(
        (value) => this.#succeeded(value),
        (error: unknown) => this.#failed(error),
      );
    } else if (isThenable(result)) {
      Promise.resolve(result).then(
        (value) => this.#succeeded(value),
        (error: unknown) => this.#failed(error),
      );
    } else {
      this.#succeeded(result);
    }
  }

  /** #queue puts `t` last in the queue of due tasks, to start in a microtask. */
  static #queue(t: Task<unknown>): void {
    if (lastDue === null) firstDue = t;
    else lastDue.#nextDue = t;
    lastDue = t;
    void due.then(Task.#startDue);
  }

  /** #startDue starts the oldest due task (see `due`). */
  static #startDue(): void {
    const t = firstDue!;
    firstDue = t.#nextDue;
    if (firstDue === null) lastDue = null;
    t.#nextDue = null;
    t.#start();
  }

  /** #succeeded: fn returned `value`; the task leaves the registry, then its handle resolves. */
  #succeeded(value: T): void {
    this.#settled();
    this.#resolve(value);
  }

  /** #failed: fn failed with `error`, reported if nobody awaits the handle; then as #succeeded, rejecting. */
  #failed(error: unknown): void {
    // Reported whatever the registry's listeners do: the report is scheduled before they run.
    if (!this.#observed) {
      // Our report stands for the handle's rejection: the platform must not report it as unhandled as well.
      this.#quietly(undefined, ignore);
      // Give the owner the rest of this turn to attach a handler, as Node's unhandled-rejection check does.
      setTimeout(() => {
        if (this.#observed || this.#ownEnd(error)) return;
        const taskError = new TaskError(this as Task<unknown>, error);
        if (failureHandler !== undefined) failureHandler(taskError, this as Task<unknown>);
        else report(taskError);
      }, 0);
    }
    this.#settled();
    this.#reject(error);
  }

  /** #settled records that fn returned: the task is done and leaves the registry. */
  #settled(): void {
    // From now on ctxEndedAt is what it is now: a context that ends after the task is not the task's concern.
    const ends = this.#ends;
    if (ends instanceof ListenerHost) this.#ctxEndedAt = this.ctxEndedAt;
    else ends?.detach(this);
    this.#ends = undefined;
    this.#done = true;
    this.#what = undefined;
    this.#more = null;
    // Exact when it measures a stop (time-to-stop is since − ctxEndedAt); else as lazy as any other change.
    this.#since = this.#ctxEndedAt === undefined ? lazyStamp() : new Stamp(exactNow());
    unregister(this as Task<unknown>);
  }

  /** #ownEnd: the task ended with its own context's error (err or cause) after that context ended. */
  #ownEnd(error: unknown): boolean {
    const err = this.ctx.err();
    return err !== undefined && (error === err || error === cause(this.ctx));
  }

  /** #quietly attaches reactions that do not count as observing the outcome. */
  #quietly(onfulfilled: (() => void) | undefined, onrejected: () => void): Promise<void> {
    quiet = true;
    try {
      return super.then(onfulfilled, onrejected);
    } finally {
      quiet = false;
    }
  }

  /** @internal whenSettled resolves after the task settled and left the registry; it does not observe the outcome. */
  whenSettled(): Promise<void> {
    return this.#quietly(ignore, ignore);
  }

  /**
   * How a handle's outcome is observed. Every way to use a promise reads its `constructor` first: `await` and
   * Promise.resolve (ECMAScript's PromiseResolve, to tell a native promise), then/catch/finally (its species),
   * Promise.all and its kin (through Promise.resolve). A task answers Promise, and so this read is where the
   * registry learns that someone awaits it; and `await task` takes the engine's path for a native promise, not
   * the thenable job a PromiseLike costs (two more microtask turns and a promise: ~115 ns of `await go(ctx, fn)`).
   * (A computed key: a class cannot declare an accessor named constructor.)
   * @internal
   */
  override get ["constructor"](): PromiseConstructor {
    if (!(#observed in this)) return Task as unknown as PromiseConstructor; // Task.prototype.constructor
    if (!quiet) this.#observed = true;
    return Promise;
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as { then?: unknown }).then === "function";
}

// The executor of every Task's promise: one function for all, so a task allocates no closure for it.
let capturedResolve: (value: never) => void;
let capturedReject: (error: unknown) => void;
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

function ignore(): void {}

/**
 * track tells the tracker that a task began (`kind` given) or ended. A tracker that throws must not break the
 * task's start or settlement, nor swallow its failure report: its error is reported, never dropped.
 */
function track(t: Task<unknown>, kind?: TrackKind): void {
  try {
    if (kind === undefined) tracker?.end(t);
    else tracker?.begin(kind, t, t.name);
  } catch (error) {
    report(error);
  }
}

function register(t: Task<unknown>): void {
  if (tracker !== undefined) track(t, "task");
  t.prevLive = lastLive;
  if (lastLive === null) firstLive = t;
  else lastLive.nextLive = t;
  lastLive = t;
  liveCount++;
}

function unregister(t: Task<unknown>): void {
  if (t.prevLive === null) firstLive = t.nextLive;
  else t.prevLive.nextLive = t.nextLive;
  if (t.nextLive === null) lastLive = t.prevLive;
  else t.nextLive.prevLive = t.prevLive;
  t.prevLive = t.nextLive = null;
  liveCount--;
  if (tracker !== undefined) track(t);
}

/**
 * go starts `fn(ctx)` as a tracked task and returns its handle; await the handle for fn's result. fn starts
 * in a microtask, after go returns. The task runs under a context that is `ctx` plus the task's identity:
 * pass that context on to every call, so channels, select, sleep, semaphores and WaitGroups can record
 * what the task is blocked on.
 *
 * Cancellation is cooperative, as in Go: ending `ctx` does not stop fn; fn must watch its context. A task
 * that fails while nobody awaits its handle is reported ({@link setTaskFailureHandler}), never dropped.
 *
 * @throws TypeError if `ctx` is not a Context or `fn` is not a function.
 */
export function go<T>(ctx: Context, fn: (ctx: Context) => T | PromiseLike<T>, options?: TaskOptions): Task<Awaited<T>> {
  checkContext("go", ctx);
  if (typeof fn !== "function") throw new TypeError(`go: fn must be a function, got ${describe(fn)}`);
  const given = options?.name;
  if (given !== undefined && typeof given !== "string") {
    throw new TypeError(`go: options.name must be a string, got ${describe(given)}`);
  }
  const stack = stacks ? creationSite() : undefined;
  return new Task(ctx, fn as (ctx: Context) => Awaited<T>, given, stack);
}

function creationSite(): string | undefined {
  // The caller's frames only: not ours (any lifeline package's built code), not Node's internals; at most 5.
  const ours = /[\\/](?:@lifeline|packages)[\\/][\w-]+[\\/]dist[\\/]|\(node:|at node:/;
  const frames = (new Error().stack?.split("\n") ?? []).slice(1).filter((l) => !ours.test(l));
  return frames.slice(0, 5).map((l) => l.trim()).join("\n  ") || undefined;
}

/** tasks returns the live tasks (started, not yet settled), oldest first: a snapshot. */
export function tasks(): Task<unknown>[] {
  const out: Task<unknown>[] = new Array(liveCount);
  let i = 0;
  for (let t = firstLive; t !== null; t = t.nextLive) out[i++] = t;
  return out;
}
