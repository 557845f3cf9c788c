import { cancelCtxKey, Ctx, isSignalLike, type Context, type SignalLike } from "../2-context/context.js";
import { Canceled, DeadlineExceeded, DeadlineExceededError } from "../1-base/errors.js";
import { describe } from "../1-base/describe.js";

// Layer: internal primitives. How anything learns, synchronously, that a context ended: the interface of a
// cancel node (ListenerHost, which keeps its listeners), attach (which finds that node, or listens on a foreign
// context's signal) and the abort batch. The cancel tree (5-cancel/cancel.ts) implements ListenerHost; a parked wait attaches
// here without knowing that tree.

/**
 * @internal Listener is told, synchronously, that the context it is attached to ended. A ListenerHost keeps its
 * listeners in an intrusive doubly-linked list (the three sibling fields): attach and detach are O(1) with
 * no allocation, which a Set's add/delete is not (it dominated withCancel+cancel).
 */
export interface Listener {
  ended(err: Error, cause: unknown): void;
  prevSibling: Listener | null;
  nextSibling: Listener | null;
  attachedTo: ListenerHost | null;
}

/** @internal Source is where a listener is attached; detach is idempotent. */
export interface Source {
  detach(listener: Listener): void;
}

/** @internal errFor maps an abort reason to the context error: a TimeoutError is a deadline, anything else a cancel. */
export function errFor(reason: unknown): Error {
  if (reason instanceof DeadlineExceededError) return DeadlineExceeded;
  const name = typeof reason === "object" && reason !== null ? (reason as { name?: unknown }).name : undefined;
  return name === "TimeoutError" ? DeadlineExceeded : Canceled;
}

// Signals are aborted after the whole subtree has been marked ended: abort listeners run user code, and that
// code must see every descendant's err() already set.
let batchDepth = 0;
let pendingAborts: AbortController[] = [];
let pendingErrors: Error[] = [];

/** @internal beginBatch defers the aborts queued with queueAbort until the matching endBatch. */
export function beginBatch(): void {
  batchDepth++;
}

/** @internal queueAbort aborts `controller` with `err` when the outermost batch ends. */
export function queueAbort(controller: AbortController, err: Error): void {
  pendingAborts.push(controller);
  pendingErrors.push(err);
}

/** @internal endBatch ends a batch; the outermost one aborts every queued signal, in order. */
export function endBatch(): void {
  if (--batchDepth !== 0 || pendingAborts.length === 0) return;
  const controllers = pendingAborts;
  const errors = pendingErrors;
  pendingAborts = [];
  pendingErrors = [];
  for (let i = 0; i < controllers.length; i++) controllers[i]!.abort(errors[i]);
}

/**
 * @internal ListenerHost is a context node that ends by itself (the cancel tree's CancelCtx, a higher layer):
 * it keeps the listeners attached to it, in an intrusive list. It says nothing of how or when it ends. It has
 * no fields of its own, so it costs a CancelCtx nothing to be one (V8 skips its default constructor).
 */
export abstract class ListenerHost extends Ctx implements Source {
  /** @internal causeValue is why this node ended, once it has. */
  abstract get causeValue(): unknown;
  /** @internal alarm is this node's own deadline timer, if any. */
  abstract get alarm(): Held | undefined;
  /** @internal link appends `l` to this node's listeners; the node must be live. */
  abstract link(l: Listener): void;
  abstract detach(l: Listener): void;
  /**
   * @internal endedAt is undefined, or a clock (a function) that this node reads when it ends, keeping the time
   * here: what a task's time-to-stop is measured from (see timeEnd). Only a node asked pays for the read.
   */
  abstract endedAt: number | (() => number) | undefined;
}

/** @internal Held is a deadline timer kept alive while something waits on it (an Alarm). */
export interface Held {
  hold(by: 1 | -1): void;
}

/** @internal causeOf is `cause(ctx)` without the argument check. */
export function causeOf(ctx: Context): unknown {
  const cc = ctx.value(cancelCtxKey);
  if (cc instanceof ListenerHost) {
    const why = cc.causeValue;
    if (why !== undefined) return why;
  }
  return ctx.err();
}

/**
 * Hub is the one native 'abort' listener we put on a signal, fanning out to a Set of listeners (many
 * addEventListener calls on one signal are O(n) each: shared/PITFALLS.md). For a custom Context it reports
 * that context's err and cause; for a foreign signal, err and cause derive from the signal's reason.
 */
class Hub implements Source {
  readonly #signal: SignalLike;
  readonly #ctx: Context | undefined;
  #listeners = new Set<Listener>();
  readonly #onAbort = (): void => this.#fire();

  constructor(signal: SignalLike, ctx: Context | undefined) {
    this.#signal = signal;
    this.#ctx = ctx;
  }

  add(listener: Listener): this {
    if (this.#listeners.size === 0) this.#signal.addEventListener("abort", this.#onAbort);
    this.#listeners.add(listener);
    return this;
  }

  detach(listener: Listener): void {
    if (this.#listeners.delete(listener) && this.#listeners.size === 0) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
  }

  #fire(): void {
    const listeners = this.#listeners;
    this.#listeners = new Set();
    this.#signal.removeEventListener("abort", this.#onAbort);
    const reason = this.#signal.reason;
    const ctx = this.#ctx;
    const err = ctx === undefined ? errFor(reason) : (ctx.err() ?? errFor(reason));
    const why = ctx === undefined ? reason : causeOf(ctx);
    batchDepth++;
    for (const l of listeners) l.ended(err, why ?? err);
    endBatch();
  }
}

const hubs = new WeakMap<object, Hub>();

/** @internal hubFor returns the one Hub listening on `signal` for `key` (a foreign context, or the signal itself). */
export function hubFor(key: object, signal: SignalLike, ctx: Context | undefined): Hub {
  let hub = hubs.get(key);
  if (hub === undefined) hubs.set(key, (hub = new Hub(signal, ctx)));
  return hub;
}

/**
 * @internal attach makes `listener` hear, synchronously, that `ctx` ended; ctx must be live. It returns where
 * the listener is attached (detach from it when no longer interested), or undefined when ctx never ends.
 */
export function attach(ctx: Context, listener: Listener): Source | undefined {
  let c: Context | undefined = ctx;
  while (c instanceof Ctx) {
    if (c instanceof ListenerHost) {
      c.link(listener);
      return c;
    }
    c = c.endsWith; // a value context ends with its parent; background and withoutCancel never end
  }
  if (c === undefined) return undefined;
  // A context we did not make. If it wraps one of ours (Go's parentCancelCtx), join that one's children.
  const inner = c.value(cancelCtxKey);
  if (inner instanceof ListenerHost && inner.err() === undefined && inner.done() === c.done()) {
    inner.link(listener);
    return inner;
  }
  const signal: unknown = c.signal;
  if (!isSignalLike(signal)) {
    throw new TypeError(`lifeline: a custom Context must have an AbortSignal as its signal, got ${describe(signal)}`);
  }
  if (signal.aborted) {
    // The context's own err() said live but its signal is aborted: treat the signal as the truth.
    listener.ended(c.err() ?? errFor(signal.reason), causeOf(c) ?? signal.reason);
    return undefined;
  }
  return hubFor(c, signal, c).add(listener);
}

/**
 * @internal timeEnd makes the time `ctx` ends known, read on `read` (ctx must be live): it returns the cancel
 * node whose end is ctx's end, asked to time it (read its endedAt), or, for a context we did not make, the Source where
 * `listener` is attached (it hears the end); undefined when ctx never ends. A task costs its cancel node one
 * clock read when it ends, and nothing to link or unlink.
 */
export function timeEnd(ctx: Context, read: () => number, listener: Listener): ListenerHost | Source | undefined {
  let c: Context | undefined = ctx;
  while (c instanceof Ctx) {
    if (c instanceof ListenerHost) {
      c.endedAt ??= read;
      return c;
    }
    c = c.endsWith;
  }
  if (c === undefined) return undefined;
  const inner = c.value(cancelCtxKey);
  if (inner instanceof ListenerHost && inner.err() === undefined && inner.done() === c.done()) {
    inner.endedAt ??= read;
    return inner;
  }
  return attach(c, listener); // a foreign context's signal: a Hub, which keeps listeners in a Set
}

/**
 * @internal holdDeadline keeps the process alive for the deadline that will end `ctx` (the nearest own
 * deadline up the chain, which is always the earliest) while something waits on ctx: a deadline alone never
 * keeps a process alive, but a program blocked until its deadline must not exit before it. Returns what to
 * release when the wait is over.
 */
export function holdDeadline(ctx: Context | undefined): Held | undefined {
  if (!(ctx instanceof Ctx) || !ctx.timed) return undefined; // no deadline of ours up the chain (the common case)
  for (let c: Context | undefined = ctx; c instanceof Ctx; c = c instanceof ListenerHost ? c.parent : c.endsWith) {
    const alarm = c instanceof ListenerHost ? c.alarm : undefined;
    if (alarm !== undefined) {
      if (c.err() !== undefined) return undefined;
      alarm.hold(1);
      return alarm;
    }
  }
  return undefined;
}
