/** setTimeout's largest delay; a longer one fires after 1 ms (TimeoutOverflowWarning), so we chain timers. */
const MAX_DELAY = 2 ** 31 - 1;

type TimerId = ReturnType<typeof setTimeout>;

// Deno 2.0–2.7 return a number from setTimeout, which Deno.refTimer/unrefTimer take (2.8+ return a Timeout).
const deno = (globalThis as { Deno?: { refTimer?: (id: number) => void; unrefTimer?: (id: number) => void } }).Deno;

function setRef(timer: TimerId, ref: boolean): void {
  if (typeof timer === "number") {
    // Browsers return a number and never keep anything alive; Deno before 2.8 returns one too.
    if (ref) deno?.refTimer?.(timer);
    else deno?.unrefTimer?.(timer);
    return;
  }
  // Node, Bun and recent Deno return an object with ref()/unref().
  const t = timer as { ref?: () => void; unref?: () => void };
  if (ref) t.ref?.();
  else t.unref?.();
}

/**
 * Alarm calls `fire(arg)` once, when `Date.now()` reaches `due`: never early (delays beyond 2^31−1 ms are
 * chained), and only while started. An unref'd alarm does not keep the process alive, except while it is
 * held: something blocked on it (a recv, select or acquire on a context with this deadline) that the
 * deadline is bound to wake.
 * @internal
 */
export class Alarm<A> {
  readonly due: number;
  readonly #fire: (arg: A) => void;
  readonly #arg: A;
  readonly #ref: boolean;
  #holds = 0;
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

  /** hold keeps the process alive for this alarm until a matching release (counted). */
  hold(): void {
    if (++this.#holds === 1 && !this.#ref && this.#timer !== undefined) setRef(this.#timer, true);
  }

  /** release undoes one hold. */
  release(): void {
    if (--this.#holds === 0 && !this.#ref && this.#timer !== undefined) setRef(this.#timer, false);
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
    if (!this.#ref && this.#holds === 0) setRef(timer, false);
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
