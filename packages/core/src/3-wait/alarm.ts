import { clock, platform, setRef, type Clock, type Timer } from "../1-base/clock.js";

/** setTimeout's largest delay; a longer one fires after 1 ms (TimeoutOverflowWarning), so we chain timers. */
const MAX_DELAY = 2 ** 31 - 1;

// The alarms on the platform clock share one platform timer (a timer per deadline cost 0.6–1.8 µs a job in
// @lifeline/jobs: setTimeout, clearTimeout, the Timeout object and its GC; issue 12). The platform's functions
// as they were when lifeline loaded: fake timers installed later (node:test's mock.timers, Vitest) replace the
// globals, and an alarm started while they are installed takes its own timer from them, as Clock alarms do.
const platformSetTimeout = setTimeout;
const platformClearTimeout = clearTimeout;

/**
 * Alarm calls `fire(arg, now)` once, when the clock reaches `due`: never early (delays beyond 2^31−1 ms are
 * chained), and only while started; alarms due at the same time fire in the order they were started. It is
 * lifeline's one timer: it runs on the clock that was installed when it was started (1-base/clock.ts): the
 * platform's, unless a test installed a virtual one. An unref'd alarm does not keep the process alive, except
 * while it is held: something blocked on it (a recv, select or acquire on a context with this deadline) that
 * the deadline is bound to wake.
 *
 * Alarms on the platform clock wait in one binary min-heap (on due, then start order) under one platform timer,
 * armed at the earliest due and re-armed only when an earlier one arrives: starting and stopping an alarm
 * costs O(log n) and no platform call, a stopped alarm leaves the heap at once (so cancelled deadlines take no
 * memory), and the timer keeps the process alive exactly while some alarm in the heap is ref'd or held. What a
 * `fire` does runs in the async context (Node's AsyncLocalStorage) lifeline was loaded in, not in that of the
 * code that started the alarm (nor of another alarm's); and the alarms due together fire in one run, so promise
 * callbacks one `fire` sets off run after the others have fired, not between them. A `fire` that throws
 * surfaces as an uncaught error of that timer, as before; the other alarms due run on the next turn. Alarms on
 * a Clock take a timer each from it.
 * @internal
 */
export class Alarm<A> {
  /** due is when the alarm fires (epoch ms on its clock); a stopped or fired alarm may be moved and restarted. */
  due: number;
  readonly #fire: (arg: A, now: number) => void;
  readonly #arg: A;
  readonly #ref: boolean;
  #holds = 0;
  /** The Clock's handle; `heap` while it waits in the heap; undefined while stopped. */
  #timer: Timer;
  #clock!: Clock; // set by start
  /** #at is the alarm's index in the heap, while it waits there; #seq its start order, for equal dues. */
  #at = 0;
  #seq = 0;

  constructor(due: number, fire: (arg: A, now: number) => void, arg: A, ref: boolean) {
    this.due = due;
    this.#fire = fire;
    this.#arg = arg;
    this.#ref = ref;
  }

  /** start arms the alarm on the current clock; it is a no-op when already armed. */
  start(): void {
    if (this.#timer !== undefined) return;
    if ((this.#clock = clock) === platform && setTimeout === platformSetTimeout) {
      this.#timer = heap;
      this.#seq = ++started;
      Alarm.#sift(this as Alarm<unknown>, heap.length);
      if (this.#ref || this.#holds > 0) keep(1);
      if (this.due < sharedAt) arm(); // a new earliest, before the shared timer would fire
    } else this.#arm(this.due - clock.now());
  }

  /** hold(1) keeps the process alive for this alarm until a matching hold(−1) (counted). */
  hold(by: 1 | -1): void {
    this.#holds += by;
    if (this.#holds === (by > 0 ? 1 : 0) && !this.#ref && this.#timer !== undefined) {
      if (this.#timer === heap) keep(by);
      else setRef(this.#timer, by > 0);
    }
  }

  /** stop disarms the alarm; it may be started again. */
  stop(): void {
    const timer = this.#timer;
    if (timer === undefined) return;
    this.#timer = undefined;
    if (timer !== heap) {
      this.#clock.clearTimer(timer);
      return;
    }
    // Out of the heap at once; the shared timer stays armed, however early: when it fires, it re-arms.
    const last = heap.pop()!;
    if (last !== (this as Alarm<unknown>)) Alarm.#sift(last, this.#at);
    if (this.#ref || this.#holds > 0) keep(-1);
  }

  #arm(left: number): void {
    const timer = this.#clock.setTimer(tick, delay(left), this);
    if (!this.#ref && this.#holds === 0) setRef(timer, false);
    this.#timer = timer;
  }

  /** @internal a Clock timer's callback. */
  tick(): void {
    const now = this.#clock.now();
    const left = this.due - now;
    if (left > 0) {
      this.#arm(left); // not yet due: a chained long delay, or a timer that fired a little before the wall clock
      return;
    }
    this.#timer = undefined;
    this.#fire(this.#arg, now);
  }

  /**
   * @internal ring fires the earliest alarm of the heap if it is due at `now` and was started by the
   * `last`th start, and says whether it did.
   */
  static ring(now: number, last: number): boolean {
    const a = heap[0];
    if (a === undefined || a.due > now || a.#seq > last) return false;
    a.stop();
    a.#fire(a.#arg, now);
    return true;
  }

  /** #sift places `a` at index `i` (or nearer the top or the bottom) of the heap, where the order holds. */
  static #sift(a: Alarm<unknown>, i: number): void {
    for (let p; i > 0 && Alarm.#before(a, heap[(p = (i - 1) >> 1)]!); i = p) (heap[i] = heap[p]!).#at = i;
    for (let c; (c = 2 * i + 1) < heap.length; i = c) {
      if (c + 1 < heap.length && Alarm.#before(heap[c + 1]!, heap[c]!)) c++;
      if (!Alarm.#before(heap[c]!, a)) break;
      (heap[i] = heap[c]!).#at = i;
    }
    (heap[i] = a).#at = i;
  }

  static #before(a: Alarm<unknown>, b: Alarm<unknown>): boolean {
    return a.due < b.due || (a.due === b.due && a.#seq < b.#seq);
  }
}

function tick(alarm: Alarm<unknown>): void {
  alarm.tick();
}

/** delay is what to give setTimeout for a due `left` ms away: at most 2^31−1, then chained. */
function delay(left: number): number {
  return Math.max(0, Math.min(left, MAX_DELAY));
}

/** The started alarms on the platform clock: a binary min-heap on (due, start order). */
const heap: Alarm<unknown>[] = [];
/** How many alarms were ever started in the heap: the start order of the next. */
let started = 0;
/** The shared platform timer, armed to fire at `sharedAt` (no later than the earliest due); −∞ while it runs. */
let shared: Timer | undefined;
let sharedAt = Infinity;
/** How many alarms in the heap keep the process alive (ref'd or held): the shared timer is ref'd iff some do. */
let kept = 0;

function keep(by: 1 | -1): void {
  kept += by;
  if (kept === (by > 0 ? 1 : 0) && shared !== undefined) setRef(shared, by > 0);
}

// Node and Bun run a timer's callback in the async context (AsyncLocalStorage) of the code that armed it, and
// the shared timer is armed by whichever alarm is earliest: its runs would carry that code's store (one
// request's trace id) into every alarm they fire, other requests' deadlines included. They run in the context
// lifeline was loaded in instead. Feature-detected, not imported: runtimes without node:async_hooks have no
// async context to carry.
type Hooks = { AsyncResource?: { bind<F extends () => void>(fn: F): F } };
const hooks = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.("node:async_hooks");
const runOnTimer: () => void = (hooks as Hooks | undefined)?.AsyncResource?.bind(run) ?? run;

/** arm (re-)arms the shared timer at the earliest due (chained beyond 2^31−1 ms); the heap is not empty. */
function arm(): void {
  if (shared !== undefined) platformClearTimeout(shared as Parameters<typeof clearTimeout>[0]);
  const now = Date.now();
  const ms = delay(heap[0]!.due - now);
  sharedAt = now + ms;
  shared = platformSetTimeout(runOnTimer, ms);
  if (kept === 0) setRef(shared, false);
}

/**
 * run fires, in order, every alarm due by now: one may start or stop others meanwhile (one started meanwhile
 * waits for the next run, as it would for a timer of its own). One that throws ends the run, and the timer is
 * re-armed for the rest.
 */
function run(): void {
  shared = undefined;
  sharedAt = -Infinity; // no arming from alarms started meanwhile: the finally block arms once
  const now = Date.now();
  const last = started;
  try {
    while (Alarm.ring(now, last));
  } finally {
    sharedAt = Infinity;
    if (heap.length > 0) arm();
  }
}
