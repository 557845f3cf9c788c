import { checkContext, type channelBrand, type Context, type ReceiveChannel, type RecvResult, type SendChannel } from "../2-context/context.js";
import { ChannelClosedError } from "../1-base/errors.js";
import { Alarm } from "../3-wait/alarm.js";
import { now } from "../1-base/clock.js";
import { describe } from "../1-base/describe.js";
import { endParked, fail, hold, initParked, park, settle, type Blocker, type Parked } from "../3-wait/parked.js";
import type { Held, Listener, ListenerHost, Source } from "../3-wait/listeners.js";

/**
 * @internal Entry is one parked receive or send, linked into one channel's queue: a single-channel {@link Op}
 * (recv or send) is its own entry, a select has one {@link Waiter} per case.
 */
export interface Entry {
  /** The ring links of its channel's queue (WaitQueue); both null while not queued. */
  prev: Entry | null;
  next: Entry | null;
  readonly ch: Channel<unknown>;
  readonly op: Op;
  readonly index: number;
  readonly sending: boolean;
  readonly value: unknown;
}

/** @internal Waiter is one case of a parked select, linked into its channel's queue. */
export class Waiter implements Entry {
  prev: Entry | null = null;
  next: Entry | null = null;
  constructor(
    readonly ch: Channel<unknown>,
    readonly op: Op,
    readonly index: number,
    readonly sending: boolean,
    readonly value: unknown,
  ) {}
}

/**
 * @internal WaitQueue is a FIFO of entries with O(1) removal from the middle (a cancelled waiter). The entries
 * form a ring (`tail.next` is the head), so that queuing into an empty queue writes one field of this
 * long-lived object: storing a new object into an old one costs a write barrier, ~9 ns here.
 */
export class WaitQueue {
  tail: Entry | null = null;

  push(w: Entry): void {
    const t = this.tail;
    if (t === null) w.prev = w.next = w;
    else {
      const h = t.next!;
      w.prev = t;
      w.next = h;
      t.next = h.prev = w;
    }
    this.tail = w;
  }

  /** remove takes `w` out; it must be in this queue. */
  remove(w: Entry): void {
    if (w.next === w) this.tail = null;
    else {
      w.prev!.next = w.next;
      w.next!.prev = w.prev;
      if (this.tail === w) this.tail = w.prev;
    }
    w.prev = w.next = null;
  }

  shift(): Entry | null {
    const t = this.tail;
    if (t === null) return null;
    const w = t.next!;
    this.remove(w);
    return w;
  }
}

/** @internal Fired is the runtime shape of a select result. */
export interface Fired {
  index: number;
  value: unknown;
  ok: boolean;
}

/**
 * @internal Op is one blocked channel operation (recv, send or select): a {@link Parked} wait that also owns the
 * entries it queued on channels. A recv or send is its own one entry (no second object per wait); a select
 * queues one {@link Waiter} per case.
 */
export class Op implements Parked<unknown>, Entry {
  // `declare`d and set in the constructor (see Parked).
  declare prevSibling: Listener | null;
  declare nextSibling: Listener | null;
  declare attachedTo: ListenerHost | null;
  declare promise: Promise<unknown>;
  declare resolver: ((value: unknown) => void) | undefined;
  declare rejecter: ((error: unknown) => void) | undefined;
  declare source: Source | undefined;
  declare blocks: Blocker | undefined;
  declare holds: Held[] | undefined;
  declare prev: Entry | null;
  declare next: Entry | null;
  /** A send (its own entry, as a recv is); false for a recv or a select. */
  declare readonly sending: boolean;
  /** Itself, as an entry; index 0 (a select's waiters have their own). */
  declare readonly op: Op;
  declare readonly index: number;
  declare readonly ch: Channel<unknown>;
  declare readonly value: unknown;
  /** A select's entries, one per case; null for a recv or send, which is its own entry. */
  declare waiters: Waiter[] | null;

  /** A recv or send on `ch` (its own entry); a select (`ch` null: its entries come with {@link Op.waitAll}). */
  constructor(sending: boolean, ch: Channel<unknown> | null, value: unknown) {
    initParked(this);
    this.prev = this.next = this.waiters = null;
    this.sending = sending;
    this.op = this;
    this.index = 0;
    this.ch = ch as Channel<unknown>; // null for a select, which is never queued itself
    this.value = value;
  }

  /**
   * wait queues this recv or send on its channel and starts waiting (see park for ctx and task), and returns
   * its promise. A receive on a context's done channel holds that context's deadline while it waits: the
   * deadline will end it.
   */
  wait(ctx: Context | undefined, what: string): Promise<unknown> {
    const ch = this.ch;
    ch.park(this);
    if (ch.owner !== undefined) hold(this, ch.owner);
    park(this, ctx, what);
    return this.promise;
  }

  /** waitAll queues a select's waiters, one per case, and starts waiting (holding deadlines as {@link Op.wait}). */
  waitAll(waiters: Waiter[], what: string, task: Blocker | undefined): void {
    this.waiters = waiters;
    for (const w of waiters) {
      w.ch.park(w);
      hold(this, w.ch.owner);
    }
    park(this, undefined, what, task);
  }

  /** fire settles the op with the channel operation of entry `w`, already taken off its queue. */
  fire(w: Entry, value: unknown, ok: boolean): void {
    settle(
      this,
      this.ch === null
        ? ({ index: w.index, value: w.sending ? undefined : value, ok: w.sending || ok } satisfies Fired)
        : this.sending
          ? undefined
          : ok
            ? [value, true]
            : [undefined, false],
    );
  }

  ended(err: Error): void {
    endParked(this, err);
  }

  leave(): void {
    const ws = this.waiters;
    if (ws === null) {
      this.ch.unpark(this);
      return;
    }
    this.waiters = null;
    for (const w of ws) w.ch.unpark(w);
  }
}

// The buffer of every channel that has not buffered a value yet (unbuffered ones never do): never written to, since
// a push into a full ring (this one: length 0) first grows it into a new array.
const NO_BUFFER: never[] = [];

// What a send that completes at once returns: one settled promise shared by every such send (awaiting it costs
// the same one microtask as a new one; not allocating it is a sixth of a buffered send+recv pair).
const SENT: Promise<void> = Promise.resolve();

/** @internal deliverDue is the lazy timer of {@link after}: it sends the time when the channel is due. */
function deliverDue(ch: Channel<unknown>): void {
  ch.deliverDue();
}

/**
 * Channel is Go's `chan T`: a typed conduit between async tasks, unbuffered (a send waits for a receiver)
 * or buffered (a send waits only when the buffer is full). Waiting senders and receivers are served in
 * arrival order. Every blocking operation takes a Context and gives up, leaving no trace, when it ends.
 * Use the {@link ReceiveChannel} and {@link SendChannel} views in signatures to say who may do what.
 *
 * @example
 * const jobs = new Channel<string>(10);
 * await jobs.send(ctx, "job-1");
 * const [job, ok] = await jobs.recv(ctx);
 */
export class Channel<T> implements ReceiveChannel<T>, SendChannel<T> {
  /** @internal */
  declare readonly [channelBrand]: true;
  readonly #capacity: number;
  // A ring buffer (Go's hchan.buf): `#count` values from `#head`, wrapping. It starts small and doubles up to
  // the capacity, so a huge capacity costs nothing until it is used.
  #buffer: Array<T | undefined> = NO_BUFFER as Array<T | undefined>;
  #head = 0;
  #count = 0;
  #closed = false;
  readonly #recvq = new WaitQueue();
  readonly #sendq = new WaitQueue();
  #readOnly = false;
  #due: Alarm<Channel<unknown>> | undefined = undefined;
  /** @internal owner is the context whose done channel this is. */
  owner: Context | undefined = undefined;

  /**
   * Makes a channel with room for `capacity` buffered values (default 0: unbuffered).
   * @throws TypeError if `capacity` is not a non-negative integer.
   */
  constructor(capacity = 0) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new TypeError(`Channel: capacity must be a non-negative integer, got ${describe(capacity)}`);
    }
    this.#capacity = capacity;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get length(): number {
    this.#poll();
    return this.#count;
  }

  /** closed reports whether {@link close} has been called (values may still be buffered). */
  get closed(): boolean {
    return this.#closed;
  }

  recv(ctx: Context): Promise<RecvResult<T>> {
    checkContext("Channel.recv", ctx);
    const err = ctx.err();
    if (err !== undefined) return Promise.reject(err);
    return this.recvUnder(ctx);
  }

  /** @internal recvUnder is recv once ctx is checked and live; with no ctx, a wait only a value or the close ends. */
  recvUnder(ctx: Context | undefined): Promise<RecvResult<T>> {
    // A buffered value and nobody else involved (no waiting sender, no timer): the path a buffered channel takes
    // nearly always, kept apart so that what the other paths have seen does not slow it.
    if (this.#count > 0 && this.#sendq.tail === null && this.#due === undefined) return Promise.resolve([this.#shiftBuffer(), true]);
    if (this.canRecv()) return Promise.resolve(this.take() as RecvResult<T>);
    return new Op(false, this as Channel<unknown>, undefined).wait(ctx, "chan recv") as Promise<RecvResult<T>>;
  }

  tryRecv(): RecvResult<T> | undefined {
    return this.canRecv() ? (this.take() as RecvResult<T>) : undefined;
  }

  send(ctx: Context, value: T): Promise<void> {
    checkContext("Channel.send", ctx);
    this.#checkWritable("send");
    const err = ctx.err();
    if (err !== undefined) return Promise.reject(err);
    if (this.#closed) return Promise.reject(new ChannelClosedError("send on closed channel"));
    if (this.#recvq.tail === null && this.#count < this.#capacity) this.#pushBuffer(value);
    else if (this.canSend()) this.put(value);
    else {
      return new Op(true, this as Channel<unknown>, value).wait(ctx, "chan send") as Promise<void>;
    }
    return SENT;
  }

  trySend(value: T): boolean {
    this.#checkWritable("trySend");
    if (!this.canSend()) return false;
    this.put(value);
    return true;
  }

  close(): void {
    this.#checkWritable("close");
    this.closeNow();
  }

  range(ctx: Context): AsyncIterable<T, undefined, undefined> {
    checkContext("Channel.range", ctx);
    return iterate(ctx, this);
  }

  /**
   * Iterates over received values until the channel is closed and drained (`for v := range ch`). It waits
   * under no context (as under `background()`), so it cannot be cancelled: use {@link Channel.range} with a context for a loop that
   * must stop when the context ends.
   */
  [Symbol.asyncIterator](): AsyncGenerator<T, undefined, undefined> {
    return iterate(undefined, this);
  }

  #checkWritable(what: string): void {
    if (this.#readOnly) throw new TypeError(`Channel.${what}: this channel is receive-only (a context's done channel or a timer)`);
  }

  /** @internal closeNow closes without the receive-only check. */
  closeNow(): void {
    if (this.#closed) throw new ChannelClosedError("close of closed channel");
    this.#closed = true;
    this.#due?.stop();
    this.#due = undefined;
    // Receivers are waiting only if the buffer is empty: they all get [undefined, false].
    for (let w = this.#recvq.shift(); w !== null; w = this.#recvq.shift()) w.op.fire(w, undefined, false);
    for (let w = this.#sendq.shift(); w !== null; w = this.#sendq.shift()) fail(w.op, new ChannelClosedError("send on closed channel"));
  }

  /** @internal makeReadOnly forbids send and close from outside (done channels, timer channels). */
  makeReadOnly(): void {
    this.#readOnly = true;
  }

  /** @internal readOnly: only this package may send on or close this channel. */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** @internal canRecv: a receive would complete now (a value, a waiting sender, or closed). */
  canRecv(): boolean {
    this.#poll();
    return this.#count > 0 || this.#sendq.tail !== null || this.#closed;
  }

  /** @internal canSend: a send would complete now (or throw, when closed). */
  canSend(): boolean {
    return this.#closed || this.#recvq.tail !== null || this.#count < this.#capacity;
  }

  /** @internal take performs a receive that canRecv() said is ready. */
  take(): RecvResult<T> {
    if (this.#count > 0) {
      const value = this.#shiftBuffer();
      const s = this.#sendq.shift();
      if (s !== null) {
        // A buffered channel had a waiting sender: its value takes the freed slot.
        this.#pushBuffer(s.value as T);
        s.op.fire(s, undefined, true);
      }
      return [value, true];
    }
    const s = this.#sendq.shift();
    if (s !== null) {
      s.op.fire(s, undefined, true);
      return [s.value as T, true];
    }
    return [undefined, false];
  }

  /** @internal put performs a send that canSend() said is ready. */
  put(value: T): void {
    if (this.#closed) throw new ChannelClosedError("send on closed channel");
    const r = this.#recvq.shift();
    if (r !== null) r.op.fire(r, value, true);
    else this.#pushBuffer(value);
  }

  #shiftBuffer(): T {
    const buffer = this.#buffer;
    const value = buffer[this.#head] as T;
    buffer[this.#head] = undefined; // drop the reference now
    this.#head = this.#head + 1 === buffer.length ? 0 : this.#head + 1;
    this.#count--;
    return value;
  }

  #pushBuffer(value: T): void {
    let buffer = this.#buffer;
    if (this.#count === buffer.length) {
      // Full ring (below capacity, or canSend would have said no): grow, unwrapping it in order.
      const grown = new Array<T | undefined>(Math.min(Math.max(4, buffer.length * 2), this.#capacity));
      for (let i = 0; i < this.#count; i++) grown[i] = buffer[(this.#head + i) % buffer.length];
      this.#buffer = buffer = grown;
      this.#head = 0;
    }
    const i = this.#head + this.#count;
    buffer[i < buffer.length ? i : i - buffer.length] = value;
    this.#count++;
  }

  /** @internal park queues an entry of a blocked op. */
  park(w: Entry): void {
    if (w.sending) this.#sendq.push(w);
    else {
      this.#recvq.push(w);
      this.#due?.start();
    }
  }

  /** @internal unpark removes an entry whose op settled some other way. */
  unpark(w: Entry): void {
    if (w.prev === null) return; // not queued (taken off already)
    (w.sending ? this.#sendq : this.#recvq).remove(w);
    if (this.#due !== undefined && this.#recvq.tail === null) this.#due.stop();
  }

  /** @internal setDue makes this a timer channel: the time is sent at `due`, armed only while someone waits. */
  setDue(due: number): void {
    this.#due = new Alarm(due, deliverDue, this as Channel<unknown>, true);
  }

  /** @internal */
  deliverDue(): void {
    this.#due?.stop();
    this.#due = undefined;
    this.put(new Date(now()) as T);
  }

  #poll(): void {
    if (this.#due !== undefined && now() >= this.#due.due) this.deliverDue();
  }
}

/** @internal iterate is `for v := range ch` with every receive under `ctx`. */
async function* iterate<T>(ctx: Context | undefined, ch: Channel<T>): AsyncGenerator<T, undefined, undefined> {
  for (;;) {
    const [value, ok] = await (ctx === undefined ? ch.recvUnder(undefined) : ch.recv(ctx));
    if (!ok) return;
    yield value;
  }
}

/** @internal closeInternal closes a receive-only channel from inside the package. */
export function closeInternal(ch: Channel<never>): void {
  ch.closeNow();
}

/** @internal receiveOnly marks a channel as one only this package sends on or closes. */
export function receiveOnly<T>(ch: Channel<T>): Channel<T> {
  ch.makeReadOnly();
  return ch;
}

export type { ReceiveChannel, RecvResult, SendChannel };
