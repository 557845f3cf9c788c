import { checkContext, type Context } from "../2-context/context.js";
import { clock } from "../1-base/clock.js";
import { describe } from "../1-base/describe.js";
import { endParked, fail, hold, initParked, park, settle, type Blocker, type Parked } from "../3-wait/parked.js";
import type { Held, Listener, ListenerHost, Source } from "../3-wait/listeners.js";
import { taskOf } from "../6-task/task.js";

/** Blocked is a wait on a promise lifeline did not make: queued nowhere, so leaving is a no-op. */
class Blocked<T> implements Parked<T> {
  declare prevSibling: Listener | null;
  declare nextSibling: Listener | null;
  declare attachedTo: ListenerHost | null;
  declare promise: Promise<T>;
  declare resolver: ((value: T) => void) | undefined;
  declare rejecter: ((error: unknown) => void) | undefined;
  declare source: Source | undefined;
  declare blocks: Blocker | undefined;
  declare holds: Held[] | undefined;
  constructor() {
    initParked(this);
  }
  ended(err: Error): void {
    endParked(this, err);
  }
  leave(): void {}
}

/**
 * blockOn returns a promise that settles as `promise` settles; until then the task `ctx` belongs to is shown
 * as blocked on `what` (`Task.blockedOn`, the task dump), ctx's deadline timer is kept alive, and an installed
 * tracker hears of the wait (kind `"wait"`). It is for integrations whose calls wait on something lifeline
 * does not make — a worker thread, a child process, a database — so that those waits look like a channel
 * receive or a sleep.
 *
 * It does NOT end the wait when ctx ends, and does not stop anything: stopping the work and then settling
 * `promise` (with `ctx.err()` when the context stopped it) is the caller's job.
 *
 * @throws TypeError if `ctx` is not a Context, `what` is not a string or `promise` is not a thenable.
 */
export function blockOn<T>(ctx: Context, what: string, promise: PromiseLike<T>): Promise<T> {
  checkContext("blockOn", ctx);
  if (typeof what !== "string") throw new TypeError(`blockOn: what must be a string, got ${describe(what)}`);
  if (typeof (promise as { then?: unknown } | null)?.then !== "function") {
    throw new TypeError(`blockOn: promise must be a promise, got ${describe(promise)}`);
  }
  const wait = new Blocked<T>();
  // No ctx to end the wait (the caller settles it); ctx is only whose task and deadline the wait is about.
  hold(wait, ctx);
  park(wait, undefined, what, taskOf(ctx));
  // An installed virtual clock hears that a task waits on the outside world (a thread, a process), not on time.
  const c = clock;
  c.outside?.(1);
  promise.then(
    (value) => {
      c.outside?.(-1);
      settle(wait, value);
    },
    (error: unknown) => {
      c.outside?.(-1);
      fail(wait, error);
    },
  );
  return wait.promise;
}
