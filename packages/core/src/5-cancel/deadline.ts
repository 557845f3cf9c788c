import { CancelCtx, KIND_CANCEL, KIND_DEADLINE, type CancelFunc } from "./cancel.js";
import { checkContext, checkParent, type Context } from "../2-context/context.js";
import { Canceled } from "../1-base/errors.js";
import { now } from "../1-base/clock.js";
import { describe } from "../1-base/describe.js";

function toEpochMs(fn: string, d: unknown): number {
  if (d instanceof Date) {
    const t = d.getTime();
    if (Number.isNaN(t)) throw new TypeError(`${fn}: deadline must be a valid Date, got an invalid Date`);
    return t;
  }
  if (typeof d !== "number" || Number.isNaN(d)) {
    throw new TypeError(`${fn}: deadline must be epoch milliseconds or a Date, got ${describe(d)}`);
  }
  return d;
}

function toTimeoutMs(fn: string, ms: unknown): number {
  if (typeof ms !== "number" || Number.isNaN(ms)) {
    throw new TypeError(`${fn}: timeout must be a number of milliseconds, got ${describe(ms)}`);
  }
  return ms;
}

function deadlineCtx(parent: Context, due: number, why: unknown): [ctx: Context, cancel: CancelFunc] {
  const current = parent.deadline();
  // The parent's deadline is no later, or there is none to set: a plain cancel context that ends with the parent
  // (Go's WithDeadlineCause does the same for an earlier parent deadline). For an equal deadline too: then no two
  // timers race for the same instant, and an ancestor always ends first, its descendants with it.
  const kind = due === Infinity || (current !== undefined && current <= due) ? KIND_CANCEL : KIND_DEADLINE;
  const ctx = new CancelCtx(parent, kind);
  if (kind === KIND_DEADLINE) ctx.setDeadline(due, why);
  ctx.tracked();
  return [ctx, () => ctx.cancel(Canceled, Canceled)];
}

/**
 * withDeadline returns a child of `parent` that ends with {@link DeadlineExceeded} at `deadline` (epoch
 * milliseconds as `Date.now()`, or a Date), and a function that ends it sooner with {@link Canceled}.
 *
 * The child's deadline is the earlier of `deadline` and the parent's. When the parent's is not later, the child
 * arms no timer of its own and ends when the parent does, with the parent's error and cause (so an ancestor's
 * deadline always ends it and every descendant together, never a descendant first). A deadline already past ends the
 * child before withDeadline returns; `Infinity` sets none (`deadline()` stays undefined). The timer never
 * fires early (deadlines beyond setTimeout's 2^31−1 ms are chained) and is cleared by `cancel`. By itself it
 * does not keep the process alive; while a lifeline call is blocked on the context (a recv or send, a
 * select on its done channel, a semaphore acquire, a WaitGroup wait) it does, until that call returns. Everything else is {@link withCancel}: call `cancel` as soon as the work is done, so
 * the timer is released now rather than at the deadline. Every deadline shares one platform timer; when one
 * passes, the context's abort listeners and `afterFunc` callbacks run in the async context
 * (AsyncLocalStorage, on Node) the core was loaded in, not in the caller's: bind a callback that needs the
 * caller's store (`AsyncResource.bind`).
 *
 * @throws TypeError if `parent` is not a Context, or `deadline` is NaN, not a number, or an invalid Date.
 */
export function withDeadline(parent: Context, deadline: number | Date): [ctx: Context, cancel: CancelFunc] {
  checkParent("withDeadline", parent);
  return deadlineCtx(parent, toEpochMs("withDeadline", deadline), undefined);
}

/**
 * withDeadlineCause is {@link withDeadline} that records `cause` as the reason when the deadline passes:
 * then `ctx.err()` is {@link DeadlineExceeded} and `cause(ctx)` is `cause` (unless the parent's deadline is
 * not later: then the parent's deadline ends it, with the parent's cause, as in Go). The returned cancel function
 * sets no cause (`cause(ctx)` is {@link Canceled} after it), as in Go.
 *
 * @throws TypeError as {@link withDeadline}.
 */
export function withDeadlineCause(
  parent: Context,
  deadline: number | Date,
  cause: unknown,
): [ctx: Context, cancel: CancelFunc] {
  checkParent("withDeadlineCause", parent);
  return deadlineCtx(parent, toEpochMs("withDeadlineCause", deadline), cause);
}

/**
 * withTimeout is `withDeadline(parent, Date.now() + ms)`: a child that ends with {@link DeadlineExceeded}
 * after `ms` milliseconds. A zero or negative timeout ends it before withTimeout returns; `Infinity` sets
 * no deadline. Call `cancel` as soon as the work is done.
 *
 * @throws TypeError if `parent` is not a Context or `ms` is NaN or not a number.
 */
export function withTimeout(parent: Context, ms: number): [ctx: Context, cancel: CancelFunc] {
  checkParent("withTimeout", parent);
  return deadlineCtx(parent, now() + toTimeoutMs("withTimeout", ms), undefined);
}

/**
 * withTimeoutCause is {@link withTimeout} that records `cause` as the reason when the timeout fires. The
 * returned cancel function sets no cause, as in Go.
 *
 * @throws TypeError as {@link withTimeout}.
 */
export function withTimeoutCause(parent: Context, ms: number, cause: unknown): [ctx: Context, cancel: CancelFunc] {
  checkParent("withTimeoutCause", parent);
  return deadlineCtx(parent, now() + toTimeoutMs("withTimeoutCause", ms), cause);
}

/**
 * remaining returns the milliseconds left before `ctx`'s deadline: `Infinity` when it has none, 0 once it
 * has passed or the context has ended. Use it to budget a call (and to send the budget downstream).
 *
 * @throws TypeError if `ctx` is not a Context.
 */
export function remaining(ctx: Context): number {
  checkContext("remaining", ctx);
  if (ctx.err() !== undefined) return 0;
  const d = ctx.deadline();
  return d === undefined ? Infinity : Math.max(0, d - now());
}
