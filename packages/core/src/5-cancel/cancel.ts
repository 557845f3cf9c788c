import { Channel, closeInternal, receiveOnly } from "../4-chan/chan.js";
import {
  cancelCtxKey,
  checkContext,
  checkParent,
  contextName,
  Ctx,
  isSignalLike,
  MISS,
  type Context,
  type Key,
  type ReceiveChannel,
  type SignalLike,
} from "../2-context/context.js";
import { Canceled, DeadlineExceeded } from "../1-base/errors.js";
import { Alarm } from "../3-wait/alarm.js";
import { now } from "../1-base/clock.js";
import { describe } from "../1-base/describe.js";
import {
  attach,
  beginBatch,
  causeOf,
  endBatch,
  errFor,
  hubFor,
  ListenerHost,
  queueAbort,
  type Listener,
  type Source,
} from "../3-wait/listeners.js";
import { report } from "../1-base/report.js";
import { tracker } from "../1-base/track.js";

/**
 * CancelFunc ends its context with {@link Canceled}. It does not wait for the work to stop. It is idempotent:
 * after the first call, later calls do nothing. Call it as soon as the work the context was made for is
 * done (in a `finally`), so its timer and its place in the parent are released.
 */
export type CancelFunc = () => void;

/**
 * CancelCauseFunc is a {@link CancelFunc} that also records why: `cause(ctx)` returns `cause` afterwards.
 * Without a cause (`undefined` or `null`, Go's nil), the cause is {@link Canceled}. Only the first call counts.
 */
export type CancelCauseFunc = (cause?: unknown) => void;

const KIND_CANCEL = 0;
const KIND_DEADLINE = 1;
const KIND_SIGNAL = 2;
type Kind = typeof KIND_CANCEL | typeof KIND_DEADLINE | typeof KIND_SIGNAL;

function onDeadline(ctx: CancelCtx): void {
  ctx.expire();
}

/** @internal CancelCtx is Go's cancelCtx and timerCtx in one class: a node of the cancel tree. */
export class CancelCtx extends ListenerHost implements Listener {
  readonly parent: Context;
  readonly #kind: Kind;
  #err: Error | undefined = undefined;
  #cause: unknown = undefined;
  // The listeners form a ring (`#lastChild.nextSibling` is the first), so that linking into an empty list
  // writes one field of this long-lived node (each store of a new object into an old one is a write barrier).
  #lastChild: Listener | null = null;
  prevSibling: Listener | null = null;
  nextSibling: Listener | null = null;
  attachedTo: ListenerHost | null = null;
  #done: Channel<never> | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #source: Source | undefined = undefined;
  #signalSource: Source | undefined = undefined;
  #alarm: Alarm<CancelCtx> | undefined = undefined;
  #deadlineCause: unknown = undefined;
  /** @internal */
  endedAt: number | (() => number) | undefined = undefined;

  constructor(parent: Context, kind: Kind) {
    super(parent);
    this.parent = parent;
    this.#kind = kind;
    const err = parent.err();
    if (err !== undefined) {
      // Born ended: a child of an ended parent carries the parent's err and cause.
      this.#err = err;
      this.#cause = causeOf(parent);
    } else {
      this.#source = attach(parent, this);
    }
  }

  /** @internal tracked tells a tracker about a context with a cancel function, once it is fully made. */
  tracked(): this {
    if (tracker !== undefined && this.#err === undefined) tracker.begin("context", this, this.toString());
    return this;
  }

  /** @internal */
  get endsWith(): Context | undefined {
    return this;
  }

  /** @internal adoptSignal makes this context also end when a foreign signal aborts (withSignal). */
  adoptSignal(signal: SignalLike): void {
    if (this.#err !== undefined) return;
    if (signal.aborted) this.cancel(errFor(signal.reason), signal.reason);
    else this.#signalSource = hubFor(signal, signal, undefined).add(this);
  }

  /** @internal setDeadline arms the deadline timer (withDeadline). */
  setDeadline(deadline: number, deadlineCause: unknown): void {
    this.#deadlineCause = deadlineCause;
    const alarm = new Alarm<CancelCtx>(deadline, onDeadline, this, false);
    this.#alarm = alarm;
    this.timed = true;
    if (this.#err !== undefined) return;
    if (deadline <= now()) this.expire();
    else alarm.start();
  }

  /** @internal expire ends the context because its deadline passed. */
  expire(): void {
    this.cancel(DeadlineExceeded, this.#deadlineCause ?? DeadlineExceeded);
  }

  /** @internal link appends `l` to this context's listeners (the intrusive ring: O(1), no allocation). */
  link(l: Listener): void {
    const last = this.#lastChild;
    l.attachedTo = this;
    if (last === null) l.prevSibling = l.nextSibling = l;
    else {
      const first = last.nextSibling!;
      l.prevSibling = last;
      l.nextSibling = first;
      last.nextSibling = first.prevSibling = l;
    }
    this.#lastChild = l;
  }

  detach(l: Listener): void {
    if (l.attachedTo !== this) return;
    if (l.nextSibling === l) this.#lastChild = null;
    else {
      l.prevSibling!.nextSibling = l.nextSibling;
      l.nextSibling!.prevSibling = l.prevSibling;
      if (this.#lastChild === l) this.#lastChild = l.prevSibling;
    }
    l.prevSibling = l.nextSibling = l.attachedTo = null;
  }

  ended(err: Error, why: unknown): void {
    this.cancel(err, why);
  }

  /**
   * cancel ends this context and, before it returns, every descendant; then it leaves its parent (and its
   * foreign signal), so a long-lived parent never accumulates ended children.
   */
  cancel(err: Error, why: unknown): void {
    if (this.#err !== undefined) return;
    if (typeof this.endedAt === "function") this.endedAt = this.endedAt();
    if (tracker !== undefined) tracker.end(this);
    beginBatch();
    this.#err = err;
    this.#cause = why ?? err;
    if (this.#done !== undefined) closeInternal(this.#done);
    // Take children from the head until none is left: a child's end may detach a later sibling.
    for (let last = this.#lastChild; last !== null; last = this.#lastChild) {
      const child = last.nextSibling!;
      this.detach(child);
      child.ended(err, this.#cause);
    }
    this.#alarm?.stop();
    if (this.#source !== undefined) {
      this.#source.detach(this);
      this.#source = undefined;
    }
    if (this.#signalSource !== undefined) {
      this.#signalSource.detach(this);
      this.#signalSource = undefined;
    }
    if (this.#controller !== undefined) queueAbort(this.#controller, err);
    endBatch();
  }

  /** @internal the deadline timer, if this context has its own deadline. */
  get alarm(): Alarm<CancelCtx> | undefined {
    return this.#alarm;
  }

  /** @internal */
  get causeValue(): unknown {
    return this.#cause;
  }

  deadline(): number | undefined {
    return this.#alarm !== undefined ? this.#alarm.due : this.parent.deadline();
  }

  done(): ReceiveChannel<never> {
    if (this.#done === undefined) {
      this.#done = receiveOnly(new Channel<never>(0));
      this.#done.owner = this; // lets a select on it find the task it runs in
      if (this.#err !== undefined) closeInternal(this.#done);
    }
    return this.#done;
  }

  err(): Error | undefined {
    return this.#err;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#err !== undefined) this.#controller.abort(this.#err);
    }
    return this.#controller.signal;
  }

  /** @internal */
  own(key: Key<unknown>): unknown {
    return key === cancelCtxKey ? this : MISS;
  }

  toString(): string {
    const name = contextName(this.parent);
    switch (this.#kind) {
      case KIND_DEADLINE: {
        const due = this.#alarm!.due;
        // A Date spans ±8.64e15 ms; a deadline beyond it (withTimeout(ctx, Number.MAX_SAFE_INTEGER)) prints as a number.
        const at = Math.abs(due) <= 8.64e15 ? new Date(due).toISOString() : String(due);
        return `${name}.WithDeadline(${at} [${Math.round(due - now())}ms])`;
      }
      case KIND_SIGNAL:
        return `${name}.WithSignal`;
      default:
        return `${name}.WithCancel`;
    }
  }
}


let never: Channel<never> | undefined;
let neverSignal: AbortSignal | undefined;

/** EmptyCtx is a context that never ends: background, todo and withoutCancel. */
class EmptyCtx extends Ctx {
  readonly parent: Context | undefined;
  readonly #name: string;
  constructor(parent: Context | undefined, name: string) {
    super(parent);
    this.timed = false; // it never ends: a deadline above it ends nothing below it
    this.parent = parent;
    this.#name = name;
  }
  /** @internal */
  get endsWith(): Context | undefined {
    return undefined;
  }
  deadline(): number | undefined {
    return undefined;
  }
  done(): ReceiveChannel<never> {
    return (never ??= receiveOnly(new Channel<never>(0)));
  }
  err(): Error | undefined {
    return undefined;
  }
  get signal(): AbortSignal {
    return (neverSignal ??= new AbortController().signal);
  }
  /** @internal */
  own(key: Key<unknown>): unknown {
    // withoutCancel hides the parent's cancel tree from cause() and from children, but keeps its values.
    return key === cancelCtxKey ? undefined : MISS;
  }
  toString(): string {
    return this.parent === undefined ? this.#name : `${contextName(this.parent)}${this.#name}`;
  }
}

const backgroundCtx = new EmptyCtx(undefined, "context.Background");
const todoCtx = new EmptyCtx(undefined, "context.TODO");

/**
 * background returns the root context: never ends, has no deadline and no values. Use it at the top of
 * `main`, in initialisation and in tests, and derive everything else from it. Always the same object.
 */
export function background(): Context {
  return backgroundCtx;
}

/**
 * todo returns a root context like {@link background}, marking a place where the right context is not yet
 * plumbed through. Always the same object; prints as `context.TODO`.
 */
export function todo(): Context {
  return todoCtx;
}

/**
 * withoutCancel returns a context that keeps `parent`'s values but never ends: no deadline, `err()` always
 * undefined, `cause()` undefined. Use it for work that must outlive the request that started it (an audit
 * write after the response). The caller owns stopping that work some other way.
 */
export function withoutCancel(parent: Context): Context {
  checkParent("withoutCancel", parent);
  return new EmptyCtx(parent, ".WithoutCancel");
}

export { KIND_CANCEL, KIND_DEADLINE, KIND_SIGNAL };

/**
 * withCancel returns a child of `parent` and a function that ends it with {@link Canceled}.
 *
 * The child ends when `cancel` is called or when the parent ends, whichever happens first; ending is
 * synchronous: when `cancel()` returns, the child and all its descendants report `err()`, their `done()`
 * channels are closed and their signals aborted. Ending the child never affects the parent. An ended child
 * leaves its parent at once, so a long-lived parent does not grow.
 *
 * The caller owns `cancel`: call it as soon as the work is done (`try { … } finally { cancel() }`), even if
 * the context has ended another way. Cancelling does not wait for the work to stop; cooperating code sees
 * `ctx.err()`, `ctx.done()` or `ctx.signal`.
 *
 * @throws TypeError if `parent` is not a Context.
 */
export function withCancel(parent: Context): [ctx: Context, cancel: CancelFunc] {
  checkParent("withCancel", parent);
  const ctx = new CancelCtx(parent, KIND_CANCEL).tracked();
  return [ctx, () => ctx.cancel(Canceled, Canceled)];
}

/**
 * withCancelCause is {@link withCancel} whose cancel function records why: afterwards `ctx.err()` is
 * {@link Canceled} and `cause(ctx)` (and the cause of every descendant) is the value given.
 *
 * @throws TypeError if `parent` is not a Context.
 */
export function withCancelCause(parent: Context): [ctx: Context, cancel: CancelCauseFunc] {
  checkParent("withCancelCause", parent);
  const ctx = new CancelCtx(parent, KIND_CANCEL).tracked();
  return [ctx, (why?: unknown) => ctx.cancel(Canceled, why ?? Canceled)];
}

/**
 * withSignal returns a child of `parent` that also ends when `signal` aborts: with {@link DeadlineExceeded}
 * if the signal's reason is a `TimeoutError` (as from `AbortSignal.timeout`), else {@link Canceled}; the
 * cause is the signal's reason. An already-aborted signal ends the child before withSignal returns.
 * Signals from other realms and polyfills are accepted (anything with `aborted`, `reason`,
 * `addEventListener` and `removeEventListener`). `cancel` removes our listener from the signal; one native
 * listener serves every context adopting the same signal.
 *
 * @throws TypeError if `parent` is not a Context or `signal` is not AbortSignal-like.
 */
export function withSignal(parent: Context, signal: AbortSignal): [ctx: Context, cancel: CancelFunc] {
  checkParent("withSignal", parent);
  if (!isSignalLike(signal)) throw new TypeError(`withSignal: signal must be an AbortSignal, got ${describe(signal)}`);
  const ctx = new CancelCtx(parent, KIND_SIGNAL);
  ctx.adoptSignal(signal);
  ctx.tracked();
  return [ctx, () => ctx.cancel(Canceled, Canceled)];
}

/**
 * cause returns why `ctx` ended: undefined while it is live; else the first cause given to a
 * {@link CancelCauseFunc} or a `with*Cause` deadline on it or an ancestor; else `ctx.err()`
 * ({@link Canceled} or {@link DeadlineExceeded}). As Go's `context.Cause`.
 *
 * @throws TypeError if `ctx` is not a Context.
 */
export function cause(ctx: Context): unknown {
  checkContext("cause", ctx);
  return causeOf(ctx);
}

const ARMED = 0;
const FIRED = 1;
const STOPPED = 2;

class AfterFunc implements Listener {
  prevSibling: Listener | null = null;
  nextSibling: Listener | null = null;
  attachedTo: ListenerHost | null = null;
  readonly #f: () => unknown;
  #state = ARMED;
  #source: Source | undefined = undefined;

  constructor(f: () => unknown) {
    this.#f = f;
  }

  arm(ctx: Context): void {
    if (ctx.err() !== undefined) this.ended();
    else this.#source = attach(ctx, this);
  }

  ended(): void {
    if (this.#state !== ARMED) return;
    this.#state = FIRED;
    this.#source = undefined;
    queueMicrotask(() => this.#run());
  }

  #run(): void {
    try {
      const result = this.#f();
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
        (result as PromiseLike<unknown>).then(undefined, report);
      }
    } catch (error) {
      report(error);
    }
  }

  stop(): boolean {
    if (this.#state !== ARMED) return false;
    this.#state = STOPPED;
    this.#source?.detach(this);
    this.#source = undefined;
    return true;
  }
}

/**
 * afterFunc arranges for `f` to run once, asynchronously (in a microtask), after `ctx` ends; at once if it
 * already has. It returns `stop`, which unregisters `f` and returns true if that prevented `f` from
 * running, false if `f` has already been started or stopped. `stop` does not wait for a running `f`.
 * An error thrown by `f` (or a rejection of the promise it returns) is reported as an unhandled rejection,
 * never dropped.
 *
 * @throws TypeError if `ctx` is not a Context or `f` is not a function.
 */
export function afterFunc(ctx: Context, f: () => unknown): () => boolean {
  checkContext("afterFunc", ctx);
  if (typeof f !== "function") throw new TypeError(`afterFunc: f must be a function, got ${describe(f)}`);
  const a = new AfterFunc(f);
  a.arm(ctx);
  return () => a.stop();
}
