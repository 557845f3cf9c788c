import { setClock, tasks, type Clock, type Task } from "@lifeline/core";
import { currentTask } from "./tracker.js";

// Captured at import: a test's fake timers (vi.useFakeTimers, node:test's mock.timers) must not freeze our hops.
const realSetImmediate = globalThis.setImmediate;
const realClearImmediate = globalThis.clearImmediate;
const realSetTimeout = globalThis.setTimeout;
const realDateNow = Date.now;

/** How many timers runUntilIdle fires before it gives up (a ticker never lets the clock go idle). */
const DEFAULT_LIMIT = 10_000;
/** Hops on setImmediate before wait() looks only every millisecond (a task busy on real I/O). */
const FAST_HOPS = 64;

/** hop lets every pending microtask run, and I/O callbacks that are ready, then resolves. */
function hop(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

function pause(): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, 1));
}

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) return `an instance of ${value.constructor?.name ?? "Object"}`;
  return `\`${String(value)}\` (${value === null ? "null" : typeof value})`;
}

/** A timer on the virtual clock; ref/unref exist (and do nothing) so that it passes for a platform timer. */
class VirtualTimer {
  live = true;
  constructor(
    readonly due: number,
    readonly seq: number,
    readonly fire: (arg: unknown) => void,
    readonly arg: unknown,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

function earlier(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/**
 * VirtualClock is the fake clock of {@link withVirtualClock}: every lifeline timer armed while it is
 * installed (deadlines, `sleep`, `after`, `ticker`, and so HTTP request timeouts and shutdown and pool grace
 * periods) runs on it, and `remaining()`, `deadline()` and new deadlines read it. Time stands still until the
 * test moves it; what is due at the current time fires on its own.
 */
export interface VirtualClock {
  /** now returns the virtual time, in epoch milliseconds (what `Date.now()` would say; Date itself is not faked). */
  now(): number;
  /** pending counts the lifeline timers armed on this clock that have not fired nor been cleared. */
  readonly pending: number;
  /**
   * advance moves the time forward by `ms`, firing every timer due on the way in order of due time, each at
   * its own instant, letting pending promise callbacks run after each (so a task woken by one can react, and
   * arm the next, before the next fires). It resolves once the time is `now() + ms`. It does not wait for
   * tasks busy on something else: call {@link VirtualClock.wait} first when they must park before time moves.
   *
   * @throws TypeError (rejects) if `ms` is not a non-negative finite number; Error if another advance or
   * runUntilIdle is in progress or the clock was uninstalled.
   */
  advance(ms: number): Promise<void>;
  /**
   * runUntilIdle is Go's synctest bubble run to its end: it waits until every task started while the clock
   * was installed is blocked ({@link VirtualClock.wait}), then jumps to the next timer and fires it, and again,
   * until no timer is left. It resolves with the number of timers fired. A ticker never lets the clock go idle:
   * after `limit` timers (default 10,000) it rejects.
   *
   * @throws Error (rejects) after `limit` timers, if another advance or runUntilIdle is in progress, or
   * the clock was uninstalled.
   */
  runUntilIdle(limit?: number): Promise<number>;
  /**
   * wait is Go's `synctest.Wait`: it resolves once every task started while the clock was installed (other
   * than the one calling it) is done or blocked on something only time or another task can release — a
   * channel, select, sleep, semaphore or WaitGroup, a context's done — and nothing lifeline tracks is due.
   * A task awaiting a promise lifeline did not make (real I/O, a plain promise) or in `blockOn` (a thread, a
   * process) is not blocked in that sense: wait keeps waiting until it parks or ends. It never moves the
   * time, and it does not time out: a task that never parks keeps it pending. It does not look at what a
   * parked task waits for: one parked on a context whose deadline was armed before installation (a real
   * timer) counts as blocked, though real time will release it.
   */
  wait(): Promise<void>;
  /**
   * uninstall restores the platform's clock. Timers still pending on this clock are dropped, never to fire
   * (the leak check reports the contexts, waits and tasks that were waiting on them). Idempotent.
   */
  uninstall(): void;
}

/** VirtualClockOptions configure {@link withVirtualClock} and {@link installVirtualClock}. */
export interface VirtualClockOptions {
  /** now is where the virtual time starts (epoch ms or a Date); default: the real time at installation. */
  readonly now?: number | Date;
}

let installed: Virtual | undefined;

class Virtual implements VirtualClock {
  #now: number;
  #seq = 0;
  #live = 0;
  #heap: VirtualTimer[] = [];
  #outside = 0;
  #advancing = false;
  #on = true;
  #flush: ReturnType<typeof setImmediate> | undefined = undefined;
  readonly #before: WeakSet<Task<unknown>>;
  readonly adapter: Clock;

  constructor(start: number) {
    this.#now = start;
    // Tasks alive before the clock was installed are not the test's: wait() does not wait for them.
    this.#before = new WeakSet(tasks());
    this.adapter = {
      now: () => this.#now,
      setTimer: (fire, ms, arg) => this.#set(fire as (arg: unknown) => void, ms, arg),
      clearTimer: (timer) => this.#clear(timer),
      outside: (delta) => {
        this.#outside += delta;
      },
    };
  }

  now(): number {
    return this.#now;
  }

  get pending(): number {
    return this.#live;
  }

  #set(fire: (arg: unknown) => void, ms: number, arg: unknown): VirtualTimer {
    const t = new VirtualTimer(this.#now + Math.max(0, ms), this.#seq++, fire, arg);
    this.#push(t);
    this.#live++;
    if (t.due <= this.#now) this.#scheduleFlush();
    return t;
  }

  #clear(timer: unknown): void {
    if (!(timer instanceof VirtualTimer) || !timer.live) return;
    timer.live = false;
    this.#live--;
    // Cleared timers stay in the heap until popped; rebuild it when they are most of it.
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live) {
      const keep = this.#heap.filter((x) => x.live);
      this.#heap = [];
      for (const x of keep) this.#push(x);
    }
  }

  #push(t: VirtualTimer): void {
    const h = this.#heap;
    let i = h.push(t) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(t, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
  }

  /** #next returns the earliest live timer, dropping cleared ones from the top. */
  #next(): VirtualTimer | undefined {
    const h = this.#heap;
    while (h.length > 0 && !h[0]!.live) this.#pop();
    return h[0];
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && earlier(h[r]!, h[l]!) ? r : l;
      if (!earlier(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }

  /** #fireNext fires the earliest timer if it is due by `until`, moving the time to its due; false if none is. */
  #fireNext(until: number): boolean {
    const t = this.#next();
    if (t === undefined || t.due > until) return false;
    this.#pop();
    t.live = false;
    this.#live--;
    if (t.due > this.#now) this.#now = t.due;
    t.fire(t.arg);
    return true;
  }

  #scheduleFlush(): void {
    if (this.#flush !== undefined || !this.#on) return;
    this.#flush = realSetImmediate(() => {
      this.#flush = undefined;
      // What is due now fires without anyone advancing: sleep(ctx, 0) resolves, a past deadline fires.
      while (this.#on && this.#fireNext(this.#now));
    });
  }

  #check(fn: string): void {
    if (!this.#on) throw new Error(`VirtualClock.${fn}: this virtual clock was uninstalled`);
  }

  #enter(fn: string): void {
    this.#check(fn);
    if (this.#advancing) {
      throw new Error(`VirtualClock.${fn}: the clock is already advancing (an advance or runUntilIdle not awaited?)`);
    }
    this.#advancing = true;
  }

  async advance(ms: number): Promise<void> {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      throw new TypeError(`VirtualClock.advance: ms must be a non-negative finite number of milliseconds, got ${describe(ms)}`);
    }
    this.#enter("advance");
    try {
      const target = this.#now + ms;
      await hop(); // what the test just started arms its timers first
      while (this.#on && this.#fireNext(target)) await hop();
      if (this.#on && target > this.#now) this.#now = target;
    } finally {
      this.#advancing = false;
    }
  }

  async runUntilIdle(limit = DEFAULT_LIMIT): Promise<number> {
    if (typeof limit !== "number" || !(limit >= 0)) {
      throw new TypeError(`VirtualClock.runUntilIdle: limit must be a non-negative number, got ${describe(limit)}`);
    }
    this.#enter("runUntilIdle");
    let fired = 0;
    try {
      for (;;) {
        await this.wait();
        if (!this.#on || this.#next() === undefined) return fired;
        if (fired >= limit) {
          throw new Error(
            `VirtualClock.runUntilIdle: still busy after firing ${fired} timers (${this.#live} pending: a ticker never lets the clock go idle; use advance)`,
          );
        }
        this.#fireNext(Infinity);
        fired++;
      }
    } finally {
      this.#advancing = false;
    }
  }

  async wait(): Promise<void> {
    this.#check("wait");
    const me = currentTask();
    for (let hops = 0; ; hops++) {
      await (hops < FAST_HOPS ? hop() : pause());
      if (!this.#on || this.#idle(me)) return;
    }
  }

  /** #idle: every task of the test is blocked or done, none waits on the outside world, nothing is due now. */
  #idle(me: object | undefined): boolean {
    if (this.#outside > 0 || this.#flush !== undefined) return false;
    for (const t of tasks()) {
      if (t !== me && t.state === "running" && !this.#before.has(t)) return false;
    }
    return true;
  }

  uninstall(): void {
    if (!this.#on) return;
    this.#on = false;
    if (this.#flush !== undefined) realClearImmediate(this.#flush);
    this.#flush = undefined;
    for (const t of this.#heap) t.live = false;
    this.#heap = [];
    this.#live = 0;
    if (installed === this) {
      installed = undefined;
      setClock(undefined);
    }
  }
}

function startOf(fn: string, options: VirtualClockOptions | undefined): number {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  }
  const start = options?.now;
  if (start === undefined) return realDateNow();
  const ms = start instanceof Date ? start.getTime() : start;
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new TypeError(`${fn}: options.now must be epoch milliseconds or a valid Date, got ${describe(start)}`);
  }
  return ms;
}

/**
 * installVirtualClock installs a {@link VirtualClock} and returns it; the caller owns calling `uninstall()`
 * (in an `afterEach`, or a `finally`). Prefer {@link withVirtualClock}, which does that. Timers armed before
 * it (a server's contexts made in a `before` hook) stay on the real clock; timers outside lifeline
 * (setTimeout, a library's) are untouched.
 *
 * @throws Error if a virtual clock (or any Clock set with core's setClock) is already installed: virtual
 * clocks do not nest, and two tests running at the same time cannot each have one.
 */
export function installVirtualClock(options?: VirtualClockOptions): VirtualClock {
  return install("installVirtualClock", options);
}

function install(fn: string, options: VirtualClockOptions | undefined): Virtual {
  const start = startOf(fn, options);
  if (installed !== undefined) {
    throw new Error(`${fn}: a virtual clock is already installed (nested, or tests running concurrently); one at a time`);
  }
  const clock = new Virtual(start);
  const previous = setClock(clock.adapter);
  if (previous !== undefined) {
    setClock(previous);
    throw new Error(`${fn}: another Clock is installed (core's setClock); one at a time`);
  }
  installed = clock;
  return clock;
}

/**
 * withVirtualClock runs `fn(clock)` with a {@link VirtualClock} installed, and resolves with what fn returns,
 * after uninstalling the clock (also when fn throws). Inside, lifeline's time moves only by `clock.advance`
 * or `clock.runUntilIdle`, so a 30-second timeout is tested in a millisecond: make the deadline, advance
 * 30,000 ms, check that the context ended. Timers outside lifeline are untouched, and so are timers lifeline
 * armed before fn started.
 *
 * @example
 * await withVirtualClock(async (clock) => {
 *   const [ctx, cancel] = withTimeout(background(), 30_000);
 *   await clock.advance(30_000);
 *   assert.equal(ctx.err(), DeadlineExceeded);
 *   cancel();
 * });
 *
 * @throws TypeError (rejects) if `fn` is not a function; Error if a virtual clock is already installed.
 */
export async function withVirtualClock<T>(fn: (clock: VirtualClock) => T | PromiseLike<T>, options?: VirtualClockOptions): Promise<T> {
  if (typeof fn !== "function") throw new TypeError(`withVirtualClock: fn must be a function, got ${describe(fn)}`);
  const clock = install("withVirtualClock", options);
  try {
    return await fn(clock);
  } finally {
    clock.uninstall();
  }
}
