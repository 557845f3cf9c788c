/** setTimeout's largest delay; a longer one fires after 1 ms (TimeoutOverflowWarning), so we chain timers. */
const MAX_DELAY = 2 ** 31 - 1;

type TimerId = ReturnType<typeof setTimeout>;

function unref(timer: TimerId): void {
  // Node and Bun return an object with unref(); browsers return a number and never keep anything alive.
  (timer as { unref?: () => void }).unref?.();
}

/**
 * Alarm calls `fire(arg)` once, when `Date.now()` reaches `due`: never early (delays beyond 2^31−1 ms are
 * chained), and only while started. An unref'd alarm does not keep the process alive.
 * @internal
 */
export class Alarm<A> {
  readonly due: number;
  readonly #fire: (arg: A) => void;
  readonly #arg: A;
  readonly #ref: boolean;
  #timer: TimerId | undefined = undefined;

  constructor(due: number, fire: (arg: A) => void, arg: A, ref: boolean) {
    this.due = due;
    this.#fire = fire;
    this.#arg = arg;
    this.#ref = ref;
  }

  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** start arms the alarm; it is a no-op when already armed. */
  start(): void {
    if (this.#timer === undefined) this.#arm(this.due - Date.now());
  }

  /** stop disarms the alarm; it may be started again. */
  stop(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(left: number): void {
    const timer = setTimeout(tick, Math.max(0, Math.min(left, MAX_DELAY)), this);
    if (!this.#ref) unref(timer);
    this.#timer = timer;
  }

  /** @internal */
  tick(): void {
    const left = this.due - Date.now();
    if (left > 0) {
      this.#arm(left); // not yet due: a chained long delay, or a timer that fired a little before the wall clock
      return;
    }
    this.#timer = undefined;
    this.#fire(this.#arg);
  }
}

function tick(alarm: Alarm<unknown>): void {
  alarm.tick();
}
