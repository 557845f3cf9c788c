import { Task, tasks } from "@lifeline/core";
import { endListeners, entryOf } from "./tracker.js";

/**
 * TaskStopStats is a histogram of time-to-stop: from a task's context ending to the task settling, measured
 * on the monotonic clock (performance.now(): sub-millisecond, never set back), in milliseconds with a
 * fractional part.
 */
export interface TaskStopStats {
  /** count is how many tasks settled after their context had ended. */
  readonly count: number;
  /** sumMs and maxMs are the total and the longest time-to-stop, in ms (fractional). */
  readonly sumMs: number;
  readonly maxMs: number;
  /** buckets are cumulative, as Prometheus's: `count` tasks stopped within `le` ms; the last `le` is Infinity. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
}

/**
 * TaskStoppedHandler hears of each task that settled after its context ended, with its time-to-stop in ms
 * (monotonic clock, with a fractional part: 0.03 is 30 µs).
 */
export type TaskStoppedHandler = (task: Task<unknown>, stopMs: number) => void;

// Captured at import: a test's fake timers (which may fake performance.now) must not skew what is measured here.
const realPerformanceNow = performance.now.bind(performance);

const BOUNDS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, Infinity] as const;
const counts: number[] = BOUNDS.map(() => 0);
let count = 0;
let sumMs = 0;
let maxMs = 0;
const handlers = new Set<TaskStoppedHandler>();

endListeners.push((subject) => {
  if (!(subject instanceof Task)) return;
  const endedAt = subject.ctxEndedAt;
  if (endedAt === undefined) return;
  // On `end` the task has just settled: `since` is when it entered the state `done`.
  const stopMs = Math.max(0, subject.since - endedAt);
  count++;
  sumMs += stopMs;
  if (stopMs > maxMs) maxMs = stopMs;
  let i = 0;
  while (stopMs > BOUNDS[i]!) i++;
  counts[i]!++;
  for (const h of handlers) {
    // One handler that throws must not silence the others, nor the task's own failure report (core reports
    // it before the registry's listeners run): its error is reported as an unhandled rejection.
    try {
      h(subject, stopMs);
    } catch (error) {
      void Promise.reject(error);
    }
  }
});

/**
 * taskStopStats returns the time-to-stop histogram of every task that settled after its context ended,
 * since this package was imported: a copy, to export however you like (no exporter is bundled).
 */
export function taskStopStats(): TaskStopStats {
  let running = 0;
  const buckets = BOUNDS.map((le, i) => ({ le, count: (running += counts[i]!) }));
  return { count, sumMs, maxMs, buckets };
}

/**
 * onTaskStopped calls `handler(task, stopMs)` synchronously each time a task settles after its context
 * ended, `stopMs` being how long it took (ms, monotonic, fractional). Returns a function that removes the
 * handler. It runs inside the task's settlement: an error it throws is reported as an unhandled rejection and
 * changes nothing else (the other handlers run, the task's failure is still reported).
 */
export function onTaskStopped(handler: TaskStoppedHandler): () => void {
  if (typeof handler !== "function") throw new TypeError(`onTaskStopped: handler must be a function, got ${typeof handler}`);
  const h: TaskStoppedHandler = (task, ms) => handler(task, ms);
  handlers.add(h);
  return () => {
    handlers.delete(h);
  };
}

/** SlowStopper is a live task whose context ended long ago: it is ignoring cancellation. */
export interface SlowStopper {
  readonly task: Task<unknown>;
  /** ignoringMs is how long ago its context ended (ms, monotonic, fractional). */
  readonly ignoringMs: number;
  /** stack is where it was started, when the tracker saw it ("" otherwise). */
  readonly stack: string;
}

/**
 * slowStoppers returns the live tasks whose context ended `thresholdMs` (default 1000) or more ago and that
 * are still running or blocked, longest-ignoring first: work that does not watch its context.
 *
 * @throws TypeError if thresholdMs is not a number ≥ 0.
 */
export function slowStoppers(thresholdMs = 1000): SlowStopper[] {
  if (typeof thresholdMs !== "number" || !(thresholdMs >= 0)) {
    throw new TypeError(`slowStoppers: thresholdMs must be a number of milliseconds ≥ 0, got ${String(thresholdMs)}`);
  }
  const now = performance.timeOrigin + realPerformanceNow(); // the clock of Task.ctxEndedAt
  const out: SlowStopper[] = [];
  for (const task of tasks()) {
    const endedAt = task.ctxEndedAt;
    if (endedAt === undefined || now - endedAt < thresholdMs) continue;
    out.push({ task, ignoringMs: now - endedAt, stack: entryOf(task)?.stack ?? task.stack ?? "" });
  }
  return out.sort((a, b) => b.ignoringMs - a.ignoringMs);
}
