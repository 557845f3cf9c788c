/**
 * WorkerCrashedError is the error a {@link WorkerPool.run} call rejects with when the thread running its
 * task died (an uncaught exception outside the task, `process.exit()` in the worker, an out-of-memory
 * abort, a module that failed to load or never called `serve`) while the caller's context was live. Only
 * that task fails; the pool replaces the thread. A thread that dies while idle is reported the same way, as
 * an unhandled rejection (nobody waits for it). `cause` is what the thread reported, if anything.
 */
export class WorkerCrashedError extends Error {
  declare readonly name: "WorkerCrashedError";
  /** threadId is the dead thread's `worker.threadId`. */
  readonly threadId: number;
  /** exitCode is the thread's exit code. */
  readonly exitCode: number;
  constructor(threadId: number, exitCode: number, cause: unknown, running = true) {
    const why =
      cause instanceof Error
        ? `: ${cause.name}: ${cause.message}`
        : cause === undefined && exitCode === 0
          ? ": it exited by itself (does the module call serve()?)"
          : "";
    const when = running ? "while running a task" : "while idle";
    super(`worker thread ${threadId} died (exit code ${exitCode}) ${when}${why}`, cause === undefined ? undefined : { cause });
    Object.defineProperty(this, "name", { value: "WorkerCrashedError", writable: false, enumerable: false, configurable: true });
    this.threadId = threadId;
    this.exitCode = exitCode;
  }
}

/**
 * WorkerPoolClosedError is the error a {@link WorkerPool.run} call rejects with when the pool was closed
 * before the task could run, or when `close(ctx)` gave up waiting (its ctx ended) and terminated the thread
 * running it.
 */
export class WorkerPoolClosedError extends Error {
  declare readonly name: "WorkerPoolClosedError";
  constructor(message = "worker pool closed") {
    super(message);
    Object.defineProperty(this, "name", { value: "WorkerPoolClosedError", writable: false, enumerable: false, configurable: true });
  }
}
