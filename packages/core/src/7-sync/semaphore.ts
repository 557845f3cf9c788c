import { checkContext, type Context } from "../2-context/context.js";
import { describe } from "../1-base/describe.js";
import { endParked, initParked, park, settle, type Blocker, type Parked } from "../3-wait/parked.js";
import type { Held, Listener, ListenerHost, Source } from "../3-wait/listeners.js";

/** Acquire is a queued {@link Parked} acquire of `n` permits. */
class Acquire implements Parked<void> {
  declare prevSibling: Listener | null;
  declare nextSibling: Listener | null;
  declare attachedTo: ListenerHost | null;
  declare promise: Promise<void>;
  declare resolver: ((value: void) => void) | undefined;
  declare rejecter: ((error: unknown) => void) | undefined;
  declare source: Source | undefined;
  declare blocks: Blocker | undefined;
  declare holds: Held[] | undefined;
  prev: Acquire | null = null;
  next: Acquire | null = null;
  queued = true;
  constructor(
    readonly sem: Semaphore,
    readonly n: number,
  ) {
    initParked(this);
  }
  ended(err: Error): void {
    endParked(this, err);
  }
  leave(): void {
    this.sem.leave(this); // a granted one has left the queue already; one whose ctx ended never holds permits
  }
}

/**
 * Semaphore is a weighted semaphore, as golang.org/x/sync/semaphore: `size` permits, acquired and released
 * in any amounts. Waiters are served first in, first out: a large request at the head is not overtaken by
 * smaller ones behind it (no starvation). A waiter whose context ends leaves the queue at once, never
 * holding permits, and the waiters behind it move up.
 */
export class Semaphore {
  readonly #size: number;
  #used = 0;
  #head: Acquire | null = null;
  #tail: Acquire | null = null;

  /** @throws TypeError if size is not a positive integer. */
  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new TypeError(`Semaphore: size must be a positive integer, got ${describe(size)}`);
    }
    this.#size = size;
  }

  /** size is the total number of permits. */
  get size(): number {
    return this.#size;
  }

  /** available is the number of permits not held now. */
  get available(): number {
    return this.#size - this.#used;
  }

  #checkN(fn: string, n: unknown): asserts n is number {
    if (!Number.isSafeInteger(n) || (n as number) <= 0 || (n as number) > this.#size) {
      throw new TypeError(`Semaphore.${fn}: n must be an integer from 1 to the size ${this.#size}, got ${describe(n)}`);
    }
  }

  /**
   * acquire waits for `n` permits (default 1) and takes them. It rejects with `ctx.err()` if `ctx` ends
   * first, holding nothing; and at once if `ctx` has already ended, even when permits are free (as Go's
   * does since 2024), so a cancelled caller never starts new work.
   * @throws TypeError if n is not an integer from 1 to size.
   */
  acquire(ctx: Context, n = 1): Promise<void> {
    checkContext("Semaphore.acquire", ctx);
    this.#checkN("acquire", n);
    const err = ctx.err();
    if (err !== undefined) return Promise.reject(err);
    if (this.#head === null && this.#size - this.#used >= n) {
      this.#used += n;
      return Promise.resolve();
    }
    const a = new Acquire(this, n);
    a.prev = this.#tail;
    if (this.#tail === null) this.#head = a;
    else this.#tail.next = a;
    this.#tail = a;
    park(a, ctx, `semaphore acquire ${n}`); // queued first: the context may end the wait at once
    return a.promise;
  }

  /** tryAcquire takes `n` permits if they are free and nobody is queued; it never waits. */
  tryAcquire(n = 1): boolean {
    this.#checkN("tryAcquire", n);
    if (this.#head !== null || this.#size - this.#used < n) return false;
    this.#used += n;
    return true;
  }

  /**
   * release returns `n` permits and hands them to the waiters at the head of the queue that now fit.
   * @throws Error if more permits are released than are held (Go panics).
   */
  release(n = 1): void {
    this.#checkN("release", n);
    if (n > this.#used) throw new Error(`Semaphore.release: released ${n} permits but only ${this.#used} are held`);
    this.#used -= n;
    this.#grant();
  }

  /** @internal leave removes a waiter whose context ended; those behind it may now fit. */
  leave(a: Acquire): void {
    if (!a.queued) return;
    a.queued = false;
    if (a.prev === null) this.#head = a.next;
    else a.prev.next = a.next;
    if (a.next === null) this.#tail = a.prev;
    else a.next.prev = a.prev;
    a.prev = a.next = null;
    this.#grant();
  }

  #grant(): void {
    for (let a = this.#head; a !== null && this.#size - this.#used >= a.n; a = this.#head) {
      this.#used += a.n;
      a.queued = false;
      this.#head = a.next;
      if (this.#head === null) this.#tail = null;
      else this.#head.prev = null;
      a.next = null;
      settle(a, undefined);
    }
  }
}
