// @lifeline/core: Go's context model for TypeScript. The whole public API, on one screen.
export { type Context, type Key, createKey, withValue, isContext } from "./context.js";
export {
  type CancelFunc,
  type CancelCauseFunc,
  background,
  todo,
  withCancel,
  withCancelCause,
  withSignal,
  withoutCancel,
  cause,
  afterFunc,
} from "./cancel.js";
export { withDeadline, withDeadlineCause, withTimeout, withTimeoutCause, remaining } from "./deadline.js";
export {
  Canceled,
  DeadlineExceeded,
  CanceledError,
  DeadlineExceededError,
  ChannelClosedError,
  isCanceled,
  isDeadlineExceeded,
} from "./errors.js";
export { Channel, type ReceiveChannel, type SendChannel, type RecvResult } from "./chan.js";
export { select, trySelect, recv, send, type SelectCase, type RecvCase, type SendCase, type SelectResult } from "./select.js";
export { sleep, after, ticker } from "./time.js";
export {
  go,
  tasks,
  Task,
  TaskError,
  captureTaskStacks,
  setTaskFailureHandler,
  type TaskState,
  type TaskOptions,
  type TaskFailureHandler,
} from "./task.js";
export { WaitGroup } from "./waitgroup.js";
export { ErrGroup, withErrGroup } from "./errgroup.js";
export { Semaphore } from "./semaphore.js";
export { workerPool, type WorkerPool, type PoolOptions, type PoolReport } from "./pool.js";
export { setTracker, type Tracker, type TrackKind } from "./track.js";
export { blockOn } from "./block-on.js";
