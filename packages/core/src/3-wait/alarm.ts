import { clock, setRef, type Clock, type Timer } from "../1-base/clock.js";

/** setTimeout's largest delay; a longer one fires after 1 ms (TimeoutOverflowWarning), so we chain timers. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Alarm calls `fire(arg, now)` once, when the clock reaches `due`: never early (delays beyond 2^31−1 ms are
 * chained), and only while started. It is lifeline's one timer: it runs on the clock that was installed when it
 * was started (1-base/clock.ts): the platform's, unless a test installed a virtual one. An unref'd alarm does
 * not keep the process alive, except while it is held: something blocked on it (a recv, select or acquire on a
 * context with this deadline) that the deadline is bound to wake.
 * @internal
 */
export class Alarm<A> {
  /** due is when the alarm fires (epoch ms on its clock); a stopped or fired alarm may be moved and restarted. */
  due: number;
  readonly #fire: (arg: A, now: number) => void;
  readonly #arg: A;
  readonly #ref: boolean;
  #holds = 0;
  #timer: Timer | undefined;
  #clock!: Clock; // set by start

  constructor(due: number, fire: (arg: A, now: number) => void, arg: A, ref: boolean) {
    this.due = due;
    this.#fire = fire;
    this.#arg = arg;
    this.#ref = ref;
  }

  /** start arms the alarm on the current clock; it is a no-op when already armed. */
  start(): void {
    if (this.#timer === undefined) this.#arm(this.due - (this.#clock = clock).now());
  }

  /** hold(1) keeps the process alive for this alarm until a matching hold(−1) (counted). */
  hold(by: 1 | -1): void {
    this.#holds += by;
    if (this.#holds === (by > 0 ? 1 : 0) && !this.#ref && this.#timer !== undefined) setRef(this.#timer, by > 0);
  }

  /** stop disarms the alarm; it may be started again. */
  stop(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(left: number): void {
    const timer = this.#clock.setTimer(tick, Math.max(0, Math.min(left, MAX_DELAY)), this);
    if (!this.#ref && this.#holds === 0) setRef(timer, false);
    this.#timer = timer;
  }

  /** @internal */
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
}

function tick(alarm: Alarm<unknown>): void {
  alarm.tick();
}
