const sentinel = Symbol("lifeline.sentinel");

function seal(error: Error, name: string, message: string): void {
  // Read-only but not frozen: Node's fetch writes a `stack` onto the abort reason it rethrows, and a frozen
  // reason turns every aborted fetch into an unrelated TypeError.
  Object.defineProperty(error, "name", { value: name, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(error, "message", { value: message, writable: false, enumerable: false, configurable: false });
  // A sentinel made once at import time has no useful stack; like Go's errors it prints as its message.
  error.stack = `${name}: ${message}`;
}

/**
 * CanceledError is the class of {@link Canceled}, the error a context reports when it was cancelled.
 * Its `name` is `"AbortError"`, so platform code that checks `name` (fetch, streams, timers/promises)
 * treats it as an abort. There is exactly one instance: the constructor throws if called again.
 * Test with {@link isCanceled}, which also looks through `cause` chains and AggregateErrors.
 */
export class CanceledError extends Error {
  declare readonly name: "AbortError";
  /** @internal */
  constructor(token?: unknown) {
    if (token !== sentinel) throw new TypeError("CanceledError: there is one instance, `Canceled`; do not construct another");
    super("context canceled");
    seal(this, "AbortError", "context canceled");
  }
}

/**
 * DeadlineExceededError is the class of {@link DeadlineExceeded}, the error a context reports when its
 * deadline passed. Its `name` is `"TimeoutError"`, as `AbortSignal.timeout()` uses. There is exactly one
 * instance: the constructor throws if called again. Test with {@link isDeadlineExceeded}.
 */
export class DeadlineExceededError extends Error {
  declare readonly name: "TimeoutError";
  /** @internal */
  constructor(token?: unknown) {
    if (token !== sentinel) {
      throw new TypeError("DeadlineExceededError: there is one instance, `DeadlineExceeded`; do not construct another");
    }
    super("context deadline exceeded");
    seal(this, "TimeoutError", "context deadline exceeded");
  }
}

/** Canceled is the error `ctx.err()` returns when the context was cancelled (Go's `context.Canceled`). */
export const Canceled: CanceledError = new CanceledError(sentinel);

/** DeadlineExceeded is the error `ctx.err()` returns when the context's deadline passed (Go's `context.DeadlineExceeded`). */
export const DeadlineExceeded: DeadlineExceededError = new DeadlineExceededError(sentinel);

/**
 * errorIs reports whether `error` is `target` or wraps it: Go's `errors.Is(err, target)`. It follows `cause`
 * chains (on any object, not only Errors) and the members of AggregateErrors, depth first, each object once,
 * so cycles end. It compares by identity only: it does not call an `is` method, compare names or messages, or
 * treat an AbortError DOMException as {@link Canceled}. For the two context errors use {@link isCanceled} and
 * {@link isDeadlineExceeded}, which are this with a fixed target.
 */
export function errorIs(error: unknown, target: unknown): boolean {
  if (error === target) return true;
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === target) return true;
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    if (e instanceof AggregateError) stack.push(...(e.errors as unknown[]));
    if ("cause" in e) stack.push(e.cause);
  }
  return false;
}

/**
 * isCanceled reports whether `error` is {@link Canceled} or wraps it, following `cause` chains and the
 * members of AggregateErrors, as Go's `errors.Is(err, context.Canceled)` does. It does not treat other
 * AbortErrors (a DOMException from a plain AbortController) as Canceled.
 */
export function isCanceled(error: unknown): boolean {
  return errorIs(error, Canceled);
}

/**
 * isDeadlineExceeded reports whether `error` is {@link DeadlineExceeded} or wraps it, following `cause`
 * chains and the members of AggregateErrors, as Go's `errors.Is(err, context.DeadlineExceeded)` does.
 */
export function isDeadlineExceeded(error: unknown): boolean {
  return errorIs(error, DeadlineExceeded);
}

/**
 * ChannelClosedError is thrown by a send on a closed channel and by closing a channel twice (both panic in Go).
 * The message says which: `"send on closed channel"` or `"close of closed channel"`.
 */
export class ChannelClosedError extends Error {
  declare readonly name: "ChannelClosedError";
  constructor(message: "send on closed channel" | "close of closed channel") {
    super(message);
    Object.defineProperty(this, "name", { value: "ChannelClosedError", writable: false, enumerable: false, configurable: true });
  }
}
