import { Channel, receiveOnly, type ReceiveChannel } from "../4-chan/chan.js";
import { checkContext, type Context } from "../2-context/context.js";
import { Alarm } from "../3-wait/alarm.js";
import { now } from "../1-base/clock.js";
import { describe } from "../1-base/describe.js";
import { attach, type Held, type Listener, type ListenerHost, type Source } from "../3-wait/listeners.js";
import { endParked, initParked, park, settle, type Blocker, type Parked } from "../3-wait/parked.js";
import { tracker } from "../1-base/track.js";

function checkMs(fn: string, ms: unknown): asserts ms is number {
  if (typeof ms !== "number" || Number.isNaN(ms)) {
    throw new TypeError(`${fn}: ms must be a number of milliseconds, got ${describe(ms)}`);
  }
}

function wake(s: Sleep): void {
  settle(s, undefined);
}

/** Sleep is a {@link Parked} wait that its own (ref'd) timer settles. */
class Sleep implements Parked<void> {
  declare prevSibling: Listener | null;
  declare nextSibling: Listener | null;
  declare attachedTo: ListenerHost | null;
  declare promise: Promise<void>;
  declare resolver: ((value: void) => void) | undefined;
  declare rejecter: ((error: unknown) => void) | undefined;
  declare source: Source | undefined;
  declare blocks: Blocker | undefined;
  declare holds: Held[] | undefined;
  readonly #alarm: Alarm<Sleep> | undefined;
  constructor(ctx: Context, ms: number) {
    initParked(this);
    this.#alarm = ms === Infinity ? undefined : new Alarm<Sleep>(now() + ms, wake, this, true);
    this.#alarm?.start();
    park(this, ctx, `sleep ${ms}ms`);
  }
  ended(err: Error): void {
    endParked(this, err);
  }
  leave(): void {
    this.#alarm?.stop();
  }
}

/**
 * sleep resolves after `ms` milliseconds, or rejects with `ctx.err()` as soon as `ctx` ends (at once if it
 * already has), clearing its timer. While it waits, its timer keeps the process alive, as any pending
 * work does. Zero or negative `ms` resolves on the next timer turn; `Infinity` waits for the context alone.
 *
 * @throws TypeError if `ctx` is not a Context or `ms` is NaN or not a number.
 */
export function sleep(ctx: Context, ms: number): Promise<void> {
  checkContext("sleep", ctx);
  checkMs("sleep", ms);
  const err = ctx.err();
  if (err !== undefined) return Promise.reject(err);
  return new Sleep(ctx, Math.max(0, ms)).promise;
}

/**
 * after returns a channel that delivers the current time once, `ms` milliseconds from now (Go's
 * `time.After`); use it as a `select` case for a timeout. Its timer runs only while someone waits on the
 * channel, so an `after` that lost a select costs nothing and never keeps the process alive.
 *
 * @throws TypeError if `ms` is NaN or not a number.
 */
export function after(ms: number): ReceiveChannel<Date> {
  checkMs("after", ms);
  const ch = receiveOnly(new Channel<Date>(1));
  if (ms !== Infinity) ch.setDue(now() + Math.max(0, ms));
  return ch;
}

class Ticker implements Listener {
  prevSibling: Listener | null = null;
  nextSibling: Listener | null = null;
  attachedTo: ListenerHost | null = null;
  readonly channel = receiveOnly(new Channel<Date>(1));
  readonly ms: number;
  // One alarm, moved on by `ms` at each tick: lifeline's one timer, so a virtual clock drives tickers too.
  readonly alarm: Alarm<Ticker>;
  constructor(ms: number) {
    this.ms = ms;
    (this.alarm = new Alarm<Ticker>(now() + ms, tick, this, true)).start();
    if (tracker !== undefined) tracker.begin("timer", this, `ticker ${ms}ms`);
  }
  ended(): void {
    this.alarm.stop();
    if (!this.channel.closed) this.channel.closeNow();
    if (tracker !== undefined) tracker.end(this);
  }
}

function tick(t: Ticker, at: number): void {
  // The next tick `ms` after this one fired, as setInterval does (on a virtual clock, exactly `ms` later). Armed
  // before the send, so that anything the send sets off that ends the ticker also stops that alarm.
  t.alarm.due = at + t.ms;
  t.alarm.start();
  // Go's ticker drops ticks for a slow receiver rather than queueing them.
  if (t.channel.canSend()) t.channel.put(new Date(at));
}

/**
 * ticker returns a channel that delivers the current time every `ms` milliseconds until `ctx` ends, then
 * is closed (so `for await` over it ends). A slow receiver misses ticks rather than queueing them, as in
 * Go. Its interval keeps the process alive until `ctx` ends: tie it to a context you cancel.
 *
 * @throws TypeError if `ctx` is not a Context, or `ms` is not a positive number below 2^31.
 */
export function ticker(ctx: Context, ms: number): ReceiveChannel<Date> {
  checkContext("ticker", ctx);
  if (typeof ms !== "number" || !(ms > 0) || ms > 2 ** 31 - 1) {
    throw new TypeError(`ticker: ms must be a positive number of milliseconds below 2^31, got ${describe(ms)}`);
  }
  if (ctx.err() !== undefined) {
    const ch = receiveOnly(new Channel<Date>(1));
    ch.closeNow();
    return ch;
  }
  const t = new Ticker(ms);
  attach(ctx, t);
  return t.channel;
}
