import { CancelCtx, holdDeadline, type Listener, type Source } from "../cancel.js";
import type { Context } from "../context.js";
import { tracker } from "../track.js";
import { taskOf, type Task } from "../task.js";

/**
 * Parked is one blocked call — a channel recv or send, a select, a sleep, a semaphore acquire, a WaitGroup
 * wait — and the one mechanism they share: a promise that settles exactly once; a listener on the context
 * that rejects it with `ctx.err()` when the context ends first; the task it blocks shown as blocked on
 * `what`; the context's deadline timer kept alive while it waits; and a tracker told when it begins and
 * ends. Whatever settles it first removes every trace of it, synchronously, before the promise settles.
 */
export abstract class Parked<T> implements Listener {
  prevSibling: Listener | null = null;
  nextSibling: Listener | null = null;
  attachedTo: CancelCtx | null = null;
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #source: Source | undefined = undefined;
  #task: Task<unknown> | undefined = undefined;
  #deadline: { release(): void } | undefined = undefined;
  #settled = false;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /**
   * park starts the wait, once the subclass has queued it wherever it waits (the context may end it at once).
   * `ctx`, when given, ends it with ctx.err(). `about` (default ctx) is the context
   * whose task and deadline the wait belongs to: a select has no ctx of its own but waits on a done channel's.
   */
  park(ctx: Context | undefined, what: string, about = ctx, task = about && taskOf(about)): void {
    this.#deadline = holdDeadline(about);
    this.#task = task;
    task?.block(what);
    if (tracker !== undefined) tracker.begin("wait", this, what);
    // Last: attaching to a context whose signal already aborted ends the wait at once.
    if (ctx !== undefined) this.#source = CancelCtx.attach(ctx, this);
  }

  /** leave removes the wait from whatever it is queued on (a channel, a semaphore); called once, on settling. */
  protected abstract leave(): void;

  #finish(): void {
    this.#source?.detach(this);
    this.#source = undefined;
    this.leave();
    this.#task?.unblock();
    this.#task = undefined;
    this.#deadline?.release();
    this.#deadline = undefined;
    if (tracker !== undefined) tracker.end(this);
  }

  /** settle resolves the wait with `value`; only the first settle or fail counts. */
  settle(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#finish();
    this.#resolve(value);
  }

  /** fail rejects the wait with `error`; only the first settle or fail counts. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#finish();
    this.#reject(error);
  }

  ended(err: Error): void {
    this.#source = undefined; // the context dropped us already
    this.fail(err);
  }
}
