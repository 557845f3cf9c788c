/**
 * The tracking hook: off (undefined) in production, where each site costs one comparison. When a tool
 * installs a tracker (the leak checker of @lifeline/testing), every cancellable context, task, parked wait
 * and ticker reports its beginning and its end, synchronously, so the tool can record who made it and when.
 */
/** TrackKind says what a tracked subject is. */
export type TrackKind = "context" | "task" | "wait" | "timer";

/**
 * Tracker hears of lifeline's long-lived things. `begin` runs synchronously inside the call that made
 * the subject (a stack captured there names the caller); `end` when it ended, was cancelled, settled or stopped.
 * `what` describes it: a context's chain, a task's name, `chan recv`, `select (3 cases)`, `sleep 200ms`,
 * `ticker 100ms`. Subjects are compared by identity; a tracker must not keep them alive (use WeakRefs).
 */
export interface Tracker {
  /**
   * begin: `owner`, for a wait, is the task it blocks (by identity), when lifeline knows it: the wait's
   * context belongs to a task, a select has a task's done channel among its cases, or {@link Tracker.current}
   * named it.
   */
  begin(kind: TrackKind, subject: object, what: string, owner?: object): void;
  end(subject: object): void;
  /**
   * run, optional, runs `fn` (a task's start) so that everything it does, across every async hop, belongs to
   * `task`: a tool that follows async context (AsyncLocalStorage) implements it, and {@link Tracker.current}.
   */
  run?<R>(task: object, fn: () => R): R;
  /** current, optional: the task (as given to {@link Tracker.run}) whose code is running now, if known. */
  current?(): object | undefined;
}

/** The installed tracker, read at each site (a live ES module binding). Read-only outside this module. */
export let tracker: Tracker | undefined;

/**
 * setTracker installs `t` (or removes the tracker with undefined) and returns the previous one.
 * For tools (the leak checker, metrics); one tracker at a time.
 */
export function setTracker(t: Tracker | undefined): Tracker | undefined {
  if (t !== undefined && (typeof t !== "object" || typeof t.begin !== "function" || typeof t.end !== "function")) {
    throw new TypeError("setTracker: tracker must have begin and end methods, or be undefined");
  }
  const previous = tracker;
  tracker = t;
  return previous;
}
