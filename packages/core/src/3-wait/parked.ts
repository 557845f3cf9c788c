import type { Context } from "../2-context/context.js";
import { tracker } from "../1-base/track.js";
import { attach, holdDeadline, type Held, type Listener, type ListenerHost, type Source } from "./listeners.js";

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

// The executor of every Parked promise: one function for all, so a wait allocates no closure for it.
let capturedResolve: (value: never) => void;
let capturedReject: (error: unknown) => void;
function capture(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * Parked is one blocked call — a channel recv or send, a select, a sleep, a semaphore acquire, a WaitGroup
 * wait — and the one mechanism they share: a promise that settles exactly once; a listener on the context
 * that rejects it with `ctx.err()` when the context ends first; the task it blocks shown as blocked on
 * `what`; the deadline timers of its context and of every done channel it waits on kept alive while it
 * waits; and a tracker told when it begins and ends. Whatever settles it first removes every trace of it,
 * synchronously, before the promise settles.
 */
export abstract class Parked<T> implements Listener {
  prevSibling: Listener | null = null;
  nextSibling: Listener | null = null;
  attachedTo: ListenerHost | null = null;
  readonly promise: Promise<T>;
  #resolve: (value: T) => void;
  #reject: (error: unknown) => void;
  #source: Source | undefined = undefined;
  #task: Blocker | undefined = undefined;
  // The deadline timers held while waiting (several for a select over the done channels of several contexts).
  #holds: Held[] | undefined;
  #settled = false;

  constructor() {
    this.promise = new Promise<T>(capture);
    this.#resolve = capturedResolve as (value: T) => void;
    this.#reject = capturedReject;
  }

  /**
   * hold keeps the deadline that will end `ctx` alive while this waits (a done channel's context: whatever
   * the wait's own ctx, a wait on a done channel ends when that context does). Call it before park.
   */
  hold(ctx: Context | undefined): void {
    const alarm = holdDeadline(ctx);
    if (alarm !== undefined) (this.#holds ??= []).push(alarm);
  }

  /**
   * park starts the wait, once the subclass has queued it wherever it waits (the context may end it at once).
   * `ctx`, when given, ends it with ctx.err() and its deadline is held. `task` is the task it blocks: the one
   * whose code is running, when the tracker follows async context; else the one given (a select's); else ctx's.
   */
  park(ctx: Context | undefined, what: string, task?: Blocker): void {
    this.hold(ctx);
    // What current() returns is what core gave tracker.run: a Task (no instanceof: that would bundle every Task
    // export with the channel API).
    task = (tracker?.current?.() as Blocker | undefined) ?? task ?? (ctx && taskOf?.(ctx));
    // A task that has settled is done for good: a late wait on its context is not the task's.
    if (task?.block(this, what)) this.#task = task;
    if (tracker !== undefined) tracker.begin("wait", this, what, this.#task);
    // Last: attaching to a context whose signal already aborted ends the wait at once.
    if (ctx !== undefined) this.#source = attach(ctx, this);
  }

  /** leave removes the wait from whatever it is queued on (a channel, a semaphore); called once, on settling. */
  protected abstract leave(): void;

  #finish(): void {
    this.#source?.detach(this);
    this.#source = undefined;
    this.leave();
    this.#task?.unblock(this);
    const held = this.#holds;
    this.#holds = undefined;
    if (held !== undefined) for (const a of held) a.hold(-1);
    if (tracker !== undefined) tracker.end(this);
  }

  /** settle resolves the wait with `value`; only the first settle or fail counts. */
  settle(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#finish();
    this.#resolve(value);
  }

  /** fail rejects the wait with `error`; only the first settle or fail counts. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#finish();
    this.#reject(error);
  }

  ended(err: Error): void {
    this.#source = undefined; // the context dropped us already
    this.fail(err);
  }
}
