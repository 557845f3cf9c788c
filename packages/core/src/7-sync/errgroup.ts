import { background, withCancelCause, type CancelCauseFunc } from "../5-cancel/cancel.js";
import { checkParent, type Context } from "../2-context/context.js";
import { describe } from "../1-base/describe.js";
import { go, type TaskOptions } from "../6-task/task.js";

type GroupFn = (ctx: Context) => unknown;

/** checkTask validates a task before the group counts it: a go() that throws later would leave wait() pending. */
function checkTask(fn: string, f: unknown, options: TaskOptions | undefined): void {
  if (typeof f !== "function") throw new TypeError(`${fn}: fn must be a function, got ${describe(f)}`);
  const name = options?.name;
  if (name !== undefined && typeof name !== "string") throw new TypeError(`${fn}: options.name must be a string, got ${describe(name)}`);
}

/**
 * ErrGroup runs a group of tasks for one job and collects the first error, as golang.org/x/sync/errgroup.
 * Make one with {@link withErrGroup} to get a context that is cancelled, with the first error as its
 * cause, as soon as any task fails; `new ErrGroup()` is Go's zero Group (no context, nothing cancelled).
 *
 * What it deliberately does not do, as in Go: it does not stop tasks (cancellation is cooperative: tasks
 * must watch the group's context); it keeps only the first error, not all of them; it does not retry; and
 * it does not catch anything a task does outside its returned promise.
 */
export class ErrGroup {
  #ctx: Context = background();
  #cancel: CancelCauseFunc | undefined = undefined;
  #limit = Infinity;
  #active = 0;
  // Starts waiting for a free slot, first in first out: an array read from a moving head (Array#shift is O(n)
  // on large arrays, which made 100k queued tasks quadratic).
  #pending: Array<(() => void) | undefined> = [];
  #head = 0;
  #err: { error: unknown } | undefined = undefined;
  #waiters: Array<() => void> = [];

  /** @internal bind gives a new group its context and the function that cancels it (withErrGroup). */
  bind(ctx: Context, cancel: CancelCauseFunc): this {
    this.#ctx = ctx;
    this.#cancel = cancel;
    return this;
  }

  /** ctx is the context the group's tasks run under. */
  get ctx(): Context {
    return this.#ctx;
  }

  /**
   * setLimit bounds the number of tasks running at once to `n` (`Infinity` or a negative number: no
   * bound), as Go's SetLimit.
   * @throws Error if tasks are running (Go panics); TypeError if n is not an integer or Infinity.
   */
  setLimit(n: number): void {
    if (!(Number.isSafeInteger(n) || n === Infinity)) {
      throw new TypeError(`ErrGroup.setLimit: n must be an integer or Infinity, got ${describe(n)}`);
    }
    if (this.#active !== 0 || this.#queued() !== 0) {
      throw new Error(`ErrGroup.setLimit: cannot change the limit while ${this.#active} tasks are running`);
    }
    this.#limit = n < 0 ? Infinity : n;
  }

  /**
   * go runs `fn(ctx)` as a task of the group. Where Go's Go blocks while the limit is reached, this one
   * queues: the returned promise resolves once fn has started. `await g.go(…)` gives Go's back-pressure.
   * The first task to fail (reject or throw) sets the group's error and cancels its context.
   */
  go(fn: GroupFn, options?: TaskOptions): Promise<void> {
    checkTask("ErrGroup.go", fn, options);
    if (this.#active < this.#limit) {
      this.#start(fn, options);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#pending.push(() => {
        this.#start(fn, options);
        resolve();
      });
    });
  }

  /** tryGo starts `fn` only if the limit allows it now, and reports whether it did. */
  tryGo(fn: GroupFn, options?: TaskOptions): boolean {
    checkTask("ErrGroup.tryGo", fn, options);
    if (this.#active >= this.#limit || this.#queued() !== 0) return false;
    this.#start(fn, options);
    return true;
  }

  #start(fn: GroupFn, options: TaskOptions | undefined): void {
    this.#active++;
    const task = go(this.#ctx, fn, options);
    task.then(
      () => this.#finished(),
      (error: unknown) => {
        if (this.#err === undefined) {
          this.#err = { error };
          this.#cancel?.(error);
        }
        this.#finished();
      },
    );
  }

  #queued(): number {
    return this.#pending.length - this.#head;
  }

  #dequeue(): (() => void) | undefined {
    if (this.#head === this.#pending.length) return undefined;
    const next = this.#pending[this.#head];
    this.#pending[this.#head++] = undefined;
    if (this.#head === this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
    }
    return next;
  }

  #finished(): void {
    this.#active--;
    const next = this.#dequeue();
    if (next !== undefined) next();
    else if (this.#active === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * wait resolves when every task started (and queued) by go has finished, then cancels the group's
   * context; it rejects with the first error if any task failed. It takes no context, as in Go: the tasks
   * are the ones that must watch it.
   */
  wait(): Promise<void> {
    const settle = (): Promise<void> => {
      this.#cancel?.(this.#err?.error);
      return this.#err === undefined ? Promise.resolve() : Promise.reject(this.#err.error);
    };
    if (this.#active === 0 && this.#queued() === 0) return settle();
    return new Promise<void>((resolve) => this.#waiters.push(resolve)).then(settle);
  }
}

/**
 * withErrGroup returns a new {@link ErrGroup} and its context, derived from `parent`: the context is
 * cancelled with the first task error as its cause (`cause(ctx)`), or when `wait` returns (Go's
 * errgroup.WithContext).
 *
 * @throws TypeError if `parent` is not a Context.
 */
export function withErrGroup(parent: Context): [group: ErrGroup, ctx: Context] {
  checkParent("withErrGroup", parent);
  const [ctx, cancel] = withCancelCause(parent);
  return [new ErrGroup().bind(ctx, cancel), ctx];
}
