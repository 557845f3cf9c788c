import type { Context } from "../2-context/context.js";
import { tracker } from "../1-base/track.js";
import { attach, holdDeadline, type Held, type Listener, type Source } from "./listeners.js";

/**
 * @internal Blocker is what a wait needs of the task it blocks (a Task, from the tasks layer above): to be
 * shown as blocked on it, and no longer.
 */
export interface Blocker {
  /** block records the wait; false if the task has settled (then the wait is not the task's). */
  block(wait: object, what: string): boolean;
  unblock(wait: object): void;
}

// Set by the tasks layer when it loads (setTaskOf): without it no task exists, so no wait has one.
let taskOf: ((ctx: Context) => Blocker | undefined) | undefined;

/** @internal setTaskOf tells waits how to find the task a context belongs to (called once by 6-task/task.ts). */
export function setTaskOf(lookup: (ctx: Context) => Blocker | undefined): void {
  taskOf = lookup;
}

/**
 * @internal Parked is one blocked call — a channel recv or send, a select, a sleep, a semaphore acquire, a
 * WaitGroup wait — and what they share: a promise that settles exactly once; a listener on the context that
 * rejects it with `ctx.err()` when the context ends first; the task it blocks shown as blocked on `what`; the
 * deadline timers of its context and of every done channel it waits on kept alive while it waits; and a tracker
 * told when it begins and ends. Whatever settles it first removes every trace of it, synchronously, before the
 * promise settles.
 *
 * It is the fields, and the functions below are the one mechanism: each kind of wait is a class of its own that
 * extends nothing (a derived class costs every construction ~35 ns on Node 20, a third of a channel hand-off),
 * declares these fields, calls {@link initParked} first in its constructor and implements `ended` with
 * {@link endParked}. The fields are `declare`d there and set by initParked: a field initializer costs each wait.
 */
export interface Parked<T> extends Listener {
  promise: Promise<T>;
  /** The promise's resolvers; both undefined once settled. */
  resolver: ((value: T) => void) | undefined;
  rejecter: ((error: unknown) => void) | undefined;
  /** Where the wait listens for its context's end. */
  source: Source | undefined;
  /** The task shown as blocked on it. */
  blocks: Blocker | undefined;
  /** The deadline timers held while waiting (several for a select over the done channels of several contexts). */
  holds: Held[] | undefined;
  /** leave removes the wait from whatever it is queued on (a channel, a semaphore); called once, on settling. */
  leave(): void;
}

/** @internal initParked sets the fields of a new wait and makes its promise. */
export function initParked<T>(w: Parked<T>): void {
  w.prevSibling = w.nextSibling = w.attachedTo = null;
  w.source = w.blocks = w.holds = undefined;
  // A closure per wait, not one shared executor that leaves the resolvers in module variables: storing a new
  // object into a long-lived one costs a write barrier (~9 ns each), more than allocating the closure.
  w.promise = new Promise<T>((resolve, reject) => {
    w.resolver = resolve;
    w.rejecter = reject;
  });
}

/**
 * @internal hold keeps the deadline that will end `ctx` alive while `w` waits (a done channel's context:
 * whatever the wait's own ctx, a wait on a done channel ends when that context does). Call it before park.
 */
export function hold<T>(w: Parked<T>, ctx: Context | undefined): void {
  const alarm = holdDeadline(ctx);
  if (alarm !== undefined) (w.holds ??= []).push(alarm);
}

/**
 * @internal park starts the wait, once it is queued wherever it waits (the context may end it at once). `ctx`,
 * when given, ends it with ctx.err() and its deadline is held. `task` is the task it blocks: the one whose code
 * is running, when the tracker follows async context; else the one given (a select's); else ctx's.
 */
export function park<T>(w: Parked<T>, ctx: Context | undefined, what: string, task?: Blocker): void {
  hold(w, ctx);
  // What current() returns is what core gave tracker.run: a Task (no instanceof: that would bundle every Task
  // export with the channel API).
  task = (tracker?.current?.() as Blocker | undefined) ?? task ?? (ctx && taskOf?.(ctx));
  // A task that has settled is done for good: a late wait on its context is not the task's.
  if (task?.block(w, what)) w.blocks = task;
  if (tracker !== undefined) tracker.begin("wait", w, what, w.blocks);
  // Last: attaching to a context whose signal already aborted ends the wait at once.
  if (ctx !== undefined) w.source = attach(ctx, w);
}

function finish<T>(w: Parked<T>): void {
  w.resolver = w.rejecter = undefined;
  w.source?.detach(w);
  w.source = undefined;
  w.leave();
  w.blocks?.unblock(w);
  const held = w.holds;
  w.holds = undefined;
  if (held !== undefined) for (const a of held) a.hold(-1);
  if (tracker !== undefined) tracker.end(w);
}

/** @internal settle resolves the wait with `value`; only the first settle or fail counts. */
export function settle<T>(w: Parked<T>, value: T): void {
  const resolve = w.resolver;
  if (resolve === undefined) return;
  finish(w);
  resolve(value);
}

/** @internal fail rejects the wait with `error`; only the first settle or fail counts. */
export function fail<T>(w: Parked<T>, error: unknown): void {
  const reject = w.rejecter;
  if (reject === undefined) return;
  finish(w);
  reject(error);
}

/** @internal endParked is a wait's Listener.ended: its context ended (and has dropped it already). */
export function endParked<T>(w: Parked<T>, err: Error): void {
  w.source = undefined;
  fail(w, err);
}
