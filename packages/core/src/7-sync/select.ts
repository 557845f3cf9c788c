import { Channel, Op, Waiter, type Fired, type ReceiveChannel, type SendChannel } from "../4-chan/chan.js";
import type { Context } from "../2-context/context.js";
import { describe } from "../1-base/describe.js";
import { DoneView, taskOf, type Task } from "../6-task/task.js";

/** RecvCase is a receive case of {@link select}, made by {@link recv}; `channel` null is Go's nil channel. */
export interface RecvCase<T> {
  readonly op: "recv";
  readonly channel: ReceiveChannel<T> | null;
}

/** SendCase is a send case of {@link select}, made by {@link send}; `channel` null is Go's nil channel. */
export interface SendCase<T> {
  readonly op: "send";
  readonly channel: SendChannel<T> | null;
  readonly value: T;
}

/** SelectCase is one case of a {@link select}. */
export type SelectCase = RecvCase<any> | SendCase<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

type CaseResult<C, I extends number> =
  C extends RecvCase<infer T>
    ? { index: I; value: T; ok: true } | { index: I; value: undefined; ok: false }
    : { index: I; value: undefined; ok: true };

/**
 * SelectResult tells which case of a {@link select} fired: `index` is the case's position, and for a
 * receive `value`/`ok` are what it received (`ok` false: the channel was closed). Switch on `index` and
 * TypeScript narrows `value` to that case's type.
 */
export type SelectResult<C extends readonly SelectCase[]> = number extends C["length"]
  ? CaseResult<C[number], number> // an array built at run time: the index is just a number
  : { [I in keyof C]: I extends `${infer N extends number}` ? CaseResult<C[I], N> : never }[number];

/**
 * recv returns a receive case for {@link select}: `case v, ok := <-ch`. It does nothing by itself. `null` is
 * Go's nil channel: a case that never fires, to switch a case off (`recv(done ? null : results)`); a select whose
 * cases are all nil waits forever (nothing then keeps the process alive for it).
 * @throws TypeError if `channel` is neither a Channel (or a context's done channel) nor null.
 */
export function recv<T>(channel: ReceiveChannel<T> | null): RecvCase<T> {
  if (channel === null) return { op: "recv", channel };
  if (channel instanceof DoneView && channel.channel instanceof Channel) {
    // A task context's done channel: select on the real channel, and remember whose it is.
    return { op: "recv", channel: channel.channel, task: channel.task } as RecvCase<T>;
  }
  if (!(channel instanceof Channel)) {
    throw new TypeError(`recv: channel must be a Channel or null, got ${describe(channel)}`);
  }
  return { op: "recv", channel };
}

/**
 * send returns a send case for {@link select}: `case ch <- value`. It does nothing by itself. `null` is Go's
 * nil channel: a case that never fires (see {@link recv}); `value` is then never sent.
 * @throws TypeError if `channel` is neither a Channel nor null, or is receive-only.
 */
export function send<T>(channel: SendChannel<T> | null, value: T): SendCase<T> {
  if (channel === null) return { op: "send", channel, value };
  if (!(channel instanceof Channel)) throw new TypeError(`send: channel must be a Channel or null, got ${describe(channel)}`);
  if (channel.readOnly) throw new TypeError("send: this channel is receive-only (a context's done channel or a timer)");
  return { op: "send", channel, value };
}

function checkCases(fn: string, cases: unknown): asserts cases is readonly SelectCase[] {
  if (!Array.isArray(cases) || cases.length === 0) {
    throw new TypeError(`${fn}: cases must be a non-empty array of recv()/send() cases, got ${describe(cases)}`);
  }
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i] as { op?: unknown; channel?: unknown } | undefined;
    if (
      typeof c !== "object" ||
      c === null ||
      !(c.channel instanceof Channel || c.channel === null) ||
      (c.op !== "recv" && c.op !== "send")
    ) {
      throw new TypeError(`${fn}: case ${i} must be made by recv() or send(), got ${describe(c)}`);
    }
    if (c.op === "send" && c.channel?.readOnly) {
      throw new TypeError(`${fn}: case ${i} sends on a receive-only channel (a context's done channel or a timer)`);
    }
  }
}

/** ready picks uniformly at random among the cases that can proceed now, or returns -1. */
function ready(cases: readonly SelectCase[]): number {
  let chosen = -1;
  let n = 0;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const ch = c.channel as Channel<unknown> | null;
    if (ch !== null && (c.op === "recv" ? ch.canRecv() : ch.canSend())) {
      n++;
      if (n === 1 || Math.random() * n < 1) chosen = i; // reservoir sampling: each ready case with p = 1/n
    }
  }
  return chosen;
}

function commit(cases: readonly SelectCase[], i: number): Fired {
  const c = cases[i]!;
  const ch = c.channel as Channel<unknown>;
  if (c.op === "send") {
    ch.put(c.value);
    return { index: i, value: undefined, ok: true };
  }
  const [value, ok] = ch.take();
  return { index: i, value, ok };
}

/**
 * select waits until one of `cases` can proceed, performs exactly that one and resolves to which it was
 * (Go's `select`). Cases are {@link recv} and {@link send} over any channels, including `ctx.done()` and
 * timer channels ({@link after}, {@link ticker}). When several are ready, one is chosen uniformly at random.
 * The cases that were not chosen leave no trace: no value is consumed or sent, no waiter stays behind.
 *
 * select takes no Context: add `recv(ctx.done())` as a case to stop waiting when a context ends. While it
 * waits, the deadline of every context whose done channel is among the cases keeps the process alive. A case
 * on a nil channel (`recv(null)`, `send(null, v)`) never fires. A send case on a closed channel rejects with
 * ChannelClosedError (Go panics).
 *
 * The wait is shown on the task that runs it (Task.blockedOn): the task the running code belongs to when the
 * installed tracker follows async context (@lifeline/testing's does); else the task whose context's done channel
 * is a case (`recv(ctx.done())` with the task's ctx); a select with neither is attributed to no task.
 *
 * @example
 * const r = await select([recv(ctx.done()), recv(jobs)]);
 * if (r.index === 0) return;           // cancelled
 * if (!r.ok) return;                   // jobs closed
 * handle(r.value);                     // r.value is a Job
 *
 * @throws TypeError if `cases` is empty or holds something not made by recv()/send().
 */
export function select<const C extends readonly SelectCase[]>(cases: C): Promise<SelectResult<C>> {
  checkCases("select", cases);
  const i = ready(cases);
  if (i >= 0) {
    try {
      return Promise.resolve(commit(cases, i) as SelectResult<C>);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const op = new Op(false, null, undefined);
  const waiters: Waiter[] = [];
  // The task it blocks: a task context's done channel carries its task; any other done channel leads to one
  // through its context's values. Every done channel's deadline is held (Op.wait).
  let task: Task<unknown> | undefined;
  let owner: Context | undefined;
  for (let k = 0; k < cases.length; k++) {
    const c = cases[k]!;
    const ch = c.channel as Channel<unknown> | null;
    if (ch === null) continue; // a nil channel: never ready, never queued
    waiters.push(new Waiter(ch, op, k, c.op === "send", c.op === "send" ? c.value : undefined));
    task ??= (c as { task?: Task<unknown> }).task;
    owner ??= ch.owner;
  }
  op.waitAll(waiters, `select (${cases.length} cases)`, task ?? (owner && taskOf(owner)));
  return op.promise as Promise<SelectResult<C>>;
}

/**
 * trySelect is `select` with a `default` case: if a case can proceed now it is performed (uniformly at
 * random among the ready ones) and its result returned; otherwise it returns undefined, having done nothing.
 *
 * @throws TypeError as {@link select}; ChannelClosedError if the chosen case sends on a closed channel.
 */
export function trySelect<const C extends readonly SelectCase[]>(cases: C): SelectResult<C> | undefined {
  checkCases("trySelect", cases);
  const i = ready(cases);
  return i >= 0 ? (commit(cases, i) as SelectResult<C>) : undefined;
}
