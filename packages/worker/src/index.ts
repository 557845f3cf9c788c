// @lifeline/worker: worker threads whose tasks see the caller's context and stop when it ends.
export { WorkerPool, type WorkerPoolOptions, type RunOptions, type StopReport, type StoppedBy } from "./pool.js";
export { serve, type TaskFunction, type ServeOptions } from "./serve.js";
export { WorkerCrashedError, WorkerPoolClosedError } from "./errors.js";
