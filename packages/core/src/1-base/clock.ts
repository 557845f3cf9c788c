// The one seam between lifeline and time. Every deadline, sleep, after and ticker reads the time with now() and
// arms its timer through Alarm (3-wait/alarm.ts) on `clock`: the platform's (Date.now, setTimeout), unless a test
// tool (@lifeline/testing's withVirtualClock) installed another with setClock.
import { describe } from "./describe.js";

/**
 * Clock is a source of time and timers for lifeline's deadlines, `sleep`, `after` and `ticker`, installed with
 * {@link setClock}: for test tools only (a virtual clock that a test advances by hand). Time is epoch
 * milliseconds, as `Date.now()`. A Clock's timers never keep a process alive; they fire only when the Clock says.
 */
export interface Clock {
  /** now returns the current time, in epoch milliseconds. It must never go back. */
  now(): number;
  /**
   * setTimer arranges for `fire(arg)` to run once, `ms` (≥ 0) milliseconds from now, and returns a handle
   * for {@link Clock.clearTimer}. It must not call `fire` synchronously.
   */
  setTimer(fire: (arg: never) => void, ms: number, arg: unknown): unknown;
  /** clearTimer cancels a timer this Clock armed, if it has not fired: then `fire` never runs. */
  clearTimer(timer: unknown): void;
  /**
   * outside, optional, is told when a wait on work lifeline does not see begins (+1) and ends (−1):
   * {@link blockOn}'s waits on a thread, a process, a query. A task in such a wait is waiting on the outside
   * world, not on lifeline or on time alone (Go's synctest: not durably blocked).
   */
  outside?(delta: 1 | -1): void;
}

/** @internal The platform's clock: `Date.now`, `setTimeout`, `clearTimeout`. */
export const platform: Clock = {
  now: () => Date.now(), // read at each call: fake timers that replace Date (node:test mock.timers, Vitest) drive it
  setTimer: (fire, ms, arg) => setTimeout(fire, ms, arg),
  clearTimer: (timer) => clearTimeout(timer as Parameters<typeof clearTimeout>[0]),
};

/** The clock new timers are armed on: the platform's unless a test tool installed one. A live binding. */
export let clock: Clock = platform;

/**
 * setClock installs `c` as the clock of every lifeline timer armed from now on, and of `remaining()`,
 * `deadline()` and new deadlines (undefined restores the platform's), and returns the previous one
 * (undefined for the platform's). For test tools (`withVirtualClock` in @lifeline/testing), not for
 * application code. A timer keeps the clock it was armed on: timers armed before the call still fire on the
 * old clock, and the new clock never sees them.
 *
 * @throws TypeError if `c` is neither undefined nor an object with now, setTimer and clearTimer methods.
 */
export function setClock(c: Clock | undefined): Clock | undefined {
  if (
    c !== undefined &&
    (typeof c !== "object" || c === null || typeof c.now !== "function" || typeof c.setTimer !== "function" || typeof c.clearTimer !== "function")
  ) {
    throw new TypeError(`setClock: clock must have now, setTimer and clearTimer methods, or be undefined; got ${describe(c)}`);
  }
  const previous = clock;
  clock = c ?? platform;
  return previous === platform ? undefined : previous;
}

/** now returns the time lifeline's deadlines are on: epoch milliseconds, `Date.now()` unless a Clock is installed. */
export function now(): number {
  return clock.now();
}

// performance.now() is monotonic with sub-millisecond resolution on every runtime core supports (Node, Deno, Bun,
// browsers); Date.now() is neither (it jumps with the wall clock and has whole-millisecond steps).
// Read once (a getter call); pure, so a bundle that never reads monoNow drops it. `performance` itself is read
// once too: on Node 20 the global is a lazy getter, ~6 ns a read.
const perf = /* @__PURE__ */ (() => performance)();
const origin = /* @__PURE__ */ (() => perf.timeOrigin)();

/**
 * monoNow returns the current time as epoch milliseconds on the monotonic clock: `performance.timeOrigin +
 * performance.now()`, with a fractional part. The difference of two readings is exact to well under a
 * microsecond and never negative; the absolute value may drift from `Date.now()` when the wall clock is set.
 * Never virtual: it times real work (how long a task took to stop), whatever Clock is installed.
 * @internal
 */
export function monoNow(): number {
  return origin + perf.now();
}

/** @internal Timer is a platform timer (Node and Bun: an object with ref/unref; browsers and Deno: a number) or a Clock's handle. */
export type Timer = unknown;

// Deno 2.0–2.7 return a number from setTimeout, which Deno.refTimer/unrefTimer take (2.8+ return a Timeout).
const deno = (globalThis as { Deno?: { refTimer?: (id: number) => void; unrefTimer?: (id: number) => void } }).Deno;

/** @internal setRef makes `timer` keep the process alive (ref) or not, on every runtime; a no-op where timers never do. */
export function setRef(timer: Timer, ref: boolean): void {
  if (typeof timer === "number") {
    // Browsers return a number and never keep anything alive; Deno before 2.8 returns one too. (A Clock's handle
    // is never a number: the virtual clock's is an object.)
    if (ref) deno?.refTimer?.(timer);
    else deno?.unrefTimer?.(timer);
    return;
  }
  // Node, Bun and recent Deno timers have ref()/unref(); a Clock's handle may have neither.
  (timer as { ref?: () => void; unref?: () => void })[ref ? "ref" : "unref"]?.();
}
