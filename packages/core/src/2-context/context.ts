import { describe } from "../1-base/describe.js";

/**
 * Context carries a cancellation signal, a deadline and request-scoped values across API boundaries,
 * as Go's `context.Context` does. Pass it as the first parameter, named `ctx`, to every call that may
 * block or take long; never store it in a long-lived object.
 *
 * A context is immutable: derive children with {@link withCancel}, {@link withTimeout},
 * {@link withDeadline}, {@link withSignal} and {@link withValue}. When a context ends, every context derived
 * from it ends too, synchronously, before the call that ended it returns.
 *
 * You may implement Context yourself; such a context works as a parent for every `with*` function as long
 * as `signal` aborts when it ends, with `signal.reason === err()`. Its `done()` returns a `Channel`
 * that you close when it ends (a ReceiveChannel is always one of lifeline's channels).
 */
export interface Context {
  /**
   * deadline returns the time (epoch milliseconds, as `Date.now()`) at which this context ends by itself,
   * or undefined when it has no deadline.
   */
  deadline(): number | undefined;
  /**
   * done returns a channel that is closed when this context ends. Every call returns the same channel.
   * For a context that never ends, it is a channel that is never closed. Use it as a `select` case:
   * `recv(ctx.done())`.
   */
  done(): ReceiveChannel<never>;
  /**
   * err returns undefined while the context is live; once it has ended, exactly {@link Canceled} or
   * {@link DeadlineExceeded}, the same on every later call. Why it ended is in {@link cause}.
   */
  err(): Error | undefined;
  /** value returns the value stored under `key` by the nearest {@link withValue}, or undefined. */
  value<T>(key: Key<T>): T | undefined;
  /**
   * signal is an AbortSignal that aborts when this context ends, with `signal.reason === ctx.err()`.
   * Hand it to APIs that take a signal (`fetch`, streams, `timers/promises`). It is created on first read,
   * then the same object on every read.
   */
  readonly signal: AbortSignal;
}

/**
 * RecvResult is what a receive gives: `[value, true]` for a value that was sent, `[undefined, false]` once
 * the channel is closed and drained (Go's `v, ok := <-ch`).
 */
export type RecvResult<T> = [value: T, ok: true] | [value: undefined, ok: false];

/**
 * @internal channelBrand marks lifeline's own channels. Declared, never exported from the package: a
 * hand-written object cannot satisfy ReceiveChannel or SendChannel, because select and every channel consumer
 * need the real queues behind them (the calls also check at run time and throw a TypeError).
 */
export declare const channelBrand: unique symbol;

/**
 * ReceiveChannel is the receive side of a {@link Channel} (Go's `<-chan T`), for function signatures. It is a
 * view of a Channel, not an interface to implement: only a {@link Channel} (or a context's done channel) is one.
 */
export interface ReceiveChannel<T> {
  /** @internal */
  readonly [channelBrand]: true;
  /**
   * recv waits for a value. It resolves to `[value, true]`, or `[undefined, false]` once the channel is
   * closed and drained. If `ctx` has ended, or ends first, it rejects with `ctx.err()` and no value is
   * consumed. Waiting receivers are served first come, first served.
   */
  recv(ctx: Context): Promise<RecvResult<T>>;
  /** tryRecv receives without waiting: a {@link RecvResult}, or undefined when nothing is ready. */
  tryRecv(): RecvResult<T> | undefined;
  /** length is the number of values buffered now. */
  readonly length: number;
  /** capacity is the buffer size given at creation; 0 for an unbuffered (rendezvous) channel. */
  readonly capacity: number;
  /**
   * range returns an async iterable over received values (Go's `for v := range ch`, cancellable): each step
   * is `recv(ctx)`, so the loop ends when the channel is closed and drained, and throws `ctx.err()` as soon as
   * `ctx` has ended (at the next step, or at once while it waits), no value consumed. Leaving the loop early
   * (`break`, `return`, a throw in its body) leaves nothing behind. As in Go, the channel is not closed.
   *
   * @example
   * for await (const job of jobs.range(ctx)) await handle(ctx, job); // throws Canceled/DeadlineExceeded on ctx's end
   * @throws TypeError (at the call) if `ctx` is not a Context.
   */
  range(ctx: Context): AsyncIterable<T, undefined, undefined>;
  /**
   * Iterates over received values until the channel is closed and drained (`for v := range ch`). It waits
   * with `background()`, so it cannot be cancelled: a loop over a channel nobody closes waits forever. Use
   * {@link ReceiveChannel.range} with a context to stop when the context ends.
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined, undefined>;
}

/**
 * SendChannel is the send side of a {@link Channel} (Go's `chan<- T`), for function signatures; like
 * {@link ReceiveChannel}, a view of a Channel, not an interface to implement.
 */
export interface SendChannel<T> {
  /** @internal */
  readonly [channelBrand]: true;
  /**
   * send waits until the value is taken by a receiver (unbuffered) or fits in the buffer. If `ctx` has
   * ended, or ends first, it rejects with `ctx.err()` and the value is not sent. It rejects with
   * {@link ChannelClosedError} on a closed channel. Waiting senders are served first come, first served.
   */
  send(ctx: Context, value: T): Promise<void>;
  /**
   * trySend sends without waiting: true if a receiver took the value or the buffer had room, false if it
   * would have to wait. @throws ChannelClosedError on a closed channel.
   */
  trySend(value: T): boolean;
  /**
   * close marks the channel closed: waiting receivers get `[undefined, false]` once the buffer is drained,
   * waiting senders reject with {@link ChannelClosedError}. Only the sender should close.
   * @throws ChannelClosedError if the channel is already closed.
   */
  close(): void;
  readonly length: number;
  readonly capacity: number;
}

/**
 * Key identifies a value stored in a context. Make keys with {@link createKey}; two keys made with the same
 * name are different keys, so packages cannot collide (Go's unexported key types).
 */
export class Key<T> {
  readonly #name: string;
  /** @internal */
  declare readonly __type?: T;
  /** @internal */
  constructor(name: string) {
    this.#name = name;
  }
  /** name is the label given to {@link createKey}; it is for printing only, never for lookup. */
  get name(): string {
    return this.#name;
  }
  toString(): string {
    return this.#name;
  }
  /** @internal */
  static is(value: unknown): value is Key<unknown> {
    return typeof value === "object" && value !== null && #name in value;
  }
}

/**
 * createKey returns a new, unique key for {@link withValue} and `ctx.value`. `name` is used only when the
 * context is printed. Keys are compared by identity: export the key (or accessor functions) from the
 * module that owns the value.
 */
export function createKey<T>(name: string): Key<T> {
  if (typeof name !== "string") throw new TypeError(`createKey: name must be a string, got ${describe(name)}`);
  return new Key<T>(name);
}

/** @internal MISS is what Ctx.own returns to continue a value lookup at the parent. */
export const MISS: unique symbol = Symbol("lifeline.miss");

/** @internal Ctx is the base of every context this package makes. */
export abstract class Ctx implements Context {
  /**
   * @internal taskRef is the task this context belongs to (what `value` of the tasks layer's key gives), found
   * once when the context is made, so a wait need not walk the chain: a task context's own task, else the
   * parent's; null for none; undefined when a foreign parent hides it (then a wait looks it up). Opaque here:
   * tasks are a higher layer. Both fields are `declare`d and set in the constructor: a class field initializer
   * on this base class costs every context made ~13 ns on Node 20 (withCancel + cancel: 40 → 56 ns).
   */
  declare taskRef: object | null | undefined;
  /**
   * @internal timed: an own deadline timer may be found up the chain through contexts of ours (a deadline context
   * or a descendant of one, not past a withoutCancel); false means a wait has no deadline to hold.
   */
  declare timed: boolean;

  constructor(parent: Context | undefined) {
    if (parent instanceof Ctx) {
      this.taskRef = parent.taskRef;
      this.timed = parent.timed;
    } else {
      this.taskRef = parent === undefined ? null : undefined;
      this.timed = false;
    }
  }

  abstract deadline(): number | undefined;
  abstract done(): ReceiveChannel<never>;
  abstract err(): Error | undefined;
  abstract get signal(): AbortSignal;
  abstract toString(): string;
  /** @internal The parent, or undefined for a root. */
  abstract readonly parent: Context | undefined;
  /** @internal The context whose end is this one's end (itself for a cancel node), or undefined if it never ends. */
  abstract get endsWith(): Context | undefined;
  /** @internal own returns this node's value for `key`, or MISS to ask the parent. */
  abstract own(key: Key<unknown>): unknown;

  value<T>(key: Key<T>): T | undefined {
    // A loop, not recursion: value chains can be long.
    let c: Context | undefined = this; // eslint-disable-line @typescript-eslint/no-this-alias
    while (c instanceof Ctx) {
      const v = c.own(key);
      if (v !== MISS) return v as T | undefined;
      c = c.parent;
    }
    return c === undefined ? undefined : c.value(key);
  }
}

/** @internal SignalLike is the duck type we accept for foreign (other-realm, polyfilled) AbortSignals. */
export interface SignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** @internal isSignalLike: has what we use of an AbortSignal (aborted, reason, add/removeEventListener). */
export function isSignalLike(value: unknown): value is SignalLike {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return typeof s.aborted === "boolean" && typeof s.addEventListener === "function" && typeof s.removeEventListener === "function";
}

/**
 * isContext reports whether `value` can be used as a Context: one this package made, or an object with
 * `deadline`, `done`, `err` and `value` methods and an AbortSignal-like `signal` (read only for those).
 * For integrations that validate their `ctx` argument.
 */
export function isContext(value: unknown): value is Context {
  if (value instanceof Ctx) return true;
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.deadline === "function" &&
    typeof c.done === "function" &&
    typeof c.err === "function" &&
    typeof c.value === "function" &&
    isSignalLike(c.signal)
  );
}

/** @internal checkContext throws the TypeError every function gives for a `name` argument that is not a Context. */
export function checkContext(fn: string, ctx: unknown, name = "ctx"): asserts ctx is Context {
  // One of ours first, inline: on every hot path (a channel op) the duck-typed check is then never called.
  if (!(ctx instanceof Ctx) && !isContext(ctx)) throw new TypeError(`${fn}: ${name} must be a Context, got ${describe(ctx)}`);
}

/** @internal checkParent is checkContext for a `with*` function's parent. */
export function checkParent(fn: string, parent: unknown): asserts parent is Context {
  checkContext(fn, parent, "parent");
}

/** @internal contextName prints a context for String(ctx) chains, as Go's contextName does. */
export function contextName(ctx: Context): string {
  if (ctx instanceof Ctx) return ctx.toString();
  const own = (ctx as { toString?: unknown }).toString;
  if (typeof own === "function" && own !== Object.prototype.toString) return String(ctx);
  return (ctx as { constructor?: { name?: string } }).constructor?.name || "Context";
}

/** @internal stringify prints a key or value as Go's context stringify does: strings as is, else a type name. */
function stringify(v: unknown): string {
  if (v === undefined || v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "object" || typeof v === "function") {
    const own = (v as { toString?: unknown }).toString;
    if (typeof own === "function" && own !== Object.prototype.toString && own !== Function.prototype.toString) {
      return String(v);
    }
    return (v as { constructor?: { name?: string } }).constructor?.name || "Object";
  }
  return typeof v;
}

/** @internal cancelCtxKey is Go's &cancelCtxKey: value(cancelCtxKey) finds the nearest cancellable ancestor. */
export const cancelCtxKey: Key<unknown> = new Key("lifeline.cancelCtx");

class ValueCtx extends Ctx {
  readonly parent: Context;
  readonly #key: Key<unknown>;
  readonly #val: unknown;
  constructor(parent: Context, key: Key<unknown>, val: unknown) {
    super(parent);
    this.parent = parent;
    this.#key = key;
    this.#val = val;
  }
  deadline(): number | undefined {
    return this.parent.deadline();
  }
  done(): ReceiveChannel<never> {
    return this.parent.done();
  }
  err(): Error | undefined {
    return this.parent.err();
  }
  get signal(): AbortSignal {
    return this.parent.signal;
  }
  /** @internal */
  get endsWith(): Context | undefined {
    return this.parent;
  }
  /** @internal */
  own(key: Key<unknown>): unknown {
    return key === this.#key ? this.#val : MISS;
  }
  toString(): string {
    return `${contextName(this.parent)}.WithValue(${stringify(this.#key)}, ${stringify(this.#val)})`;
  }
}

/**
 * withValue returns a child of `parent` whose `value(key)` is `val`; every other lookup goes to the parent.
 * The child ends exactly when the parent does. Use values for request-scoped data that crosses API
 * boundaries (a trace ID, the authenticated user), not for optional parameters.
 *
 * @throws TypeError if `parent` is not a Context or `key` was not made by {@link createKey}.
 */
export function withValue<T>(parent: Context, key: Key<T>, val: T): Context {
  checkParent("withValue", parent);
  if (!Key.is(key)) throw new TypeError(`withValue: key must be made by createKey, got ${describe(key)}`);
  return new ValueCtx(parent, key, val);
}
