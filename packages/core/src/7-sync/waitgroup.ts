import { checkContext, type Context } from "../2-context/context.js";
import { describe } from "../1-base/describe.js";
import { endParked, initParked, park, settle, type Blocker, type Parked } from "../3-wait/parked.js";
import type { Held, Listener, ListenerHost, Source } from "../3-wait/listeners.js";
import { go, type Task, type TaskOptions } from "../6-task/task.js";

/** Wait is a {@link Parked} WaitGroup.wait. */
class Wait implements Parked<void> {
  declare prevSibling: Listener | null;
  declare nextSibling: Listener | null;
  declare attachedTo: ListenerHost | null;
  declare promise: Promise<void>;
  declare resolver: ((value: void) => void) | undefined;
  declare rejecter: ((error: unknown) => void) | undefined;
  declare source: Source | undefined;
  declare blocks: Blocker | undefined;
  declare holds: Held[] | undefined;
  readonly group: WaitGroup;
  constructor(group: WaitGroup) {
    initParked(this);
    this.group = group;
  }
  ended(err: Error): void {
    endParked(this, err);
  }
  leave(): void {
    this.group.forget(this);
  }
}

/**
 * WaitGroup waits for a collection of tasks to finish, as Go's `sync.WaitGroup`: `add` the number of tasks,
 * each calls `done` when finished, and `wait` resolves when the counter is back to zero. `go` does all three
 * for one function (Go 1.25's `wg.Go`). WaitGroup does not cancel anything: cancel a context for that.
 */
export class WaitGroup {
  #count = 0;
  #waiters = new Set<Wait>();

  /** count is the current counter. */
  get count(): number {
    return this.#count;
  }

  /**
   * add adds `delta` (may be negative) to the counter. When it reaches zero every waiter is released.
   * @throws TypeError if delta is not an integer; Error if the counter would go negative (Go panics).
   */
  add(delta = 1): void {
    if (!Number.isSafeInteger(delta)) throw new TypeError(`WaitGroup.add: delta must be an integer, got ${describe(delta)}`);
    const next = this.#count + delta;
    if (next < 0) throw new Error("WaitGroup: negative counter");
    this.#count = next;
    if (next === 0 && this.#waiters.size > 0) {
      const waiters = this.#waiters;
      this.#waiters = new Set();
      for (const w of waiters) settle(w, undefined);
    }
  }

  /** done decrements the counter by one. @throws Error if the counter would go negative. */
  done(): void {
    this.add(-1);
  }

  /**
   * wait resolves when the counter is zero (at once if it is); it rejects with `ctx.err()` if `ctx` ends
   * first (at once if it has), and the tasks keep running.
   */
  wait(ctx: Context): Promise<void> {
    checkContext("WaitGroup.wait", ctx);
    const err = ctx.err();
    if (err !== undefined) return Promise.reject(err);
    if (this.#count === 0) return Promise.resolve();
    const w = new Wait(this);
    this.#waiters.add(w);
    park(w, ctx, "WaitGroup.wait"); // registered first: the context may end the wait at once
    return w.promise;
  }

  /** @internal */
  forget(w: Wait): void {
    this.#waiters.delete(w);
  }

  /**
   * go adds one to the counter, starts `fn` as a task ({@link go}) and calls `done` when it settles.
   * A failure of fn is reported as any task's failure, unless you await the returned handle.
   */
  go<T>(ctx: Context, fn: (ctx: Context) => T | PromiseLike<T>, options?: TaskOptions): Task<Awaited<T>> {
    this.add(1);
    let task: Task<Awaited<T>>;
    try {
      task = go(ctx, fn, options);
    } catch (error) {
      this.done();
      throw error;
    }
    // Count down without observing the outcome: an unawaited failure is still reported.
    void task.whenSettled().then(() => this.done());
    return task;
  }
}
