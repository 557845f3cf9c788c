// @lifeline/core: Go's context model for TypeScript. The whole public API, on one screen.
export { type Context, type Key, createKey, withValue, isContext } from "./2-context/context.js";
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
} from "./5-cancel/cancel.js";
export { withDeadline, withDeadlineCause, withTimeout, withTimeoutCause, remaining } from "./5-cancel/deadline.js";
export {
  Canceled,
  DeadlineExceeded,
  CanceledError,
  DeadlineExceededError,
  ChannelClosedError,
  isCanceled,
  isDeadlineExceeded,
  errorIs,
} from "./1-base/errors.js";
export { Channel, type ReceiveChannel, type SendChannel, type RecvResult } from "./4-chan/chan.js";
export { select, trySelect, recv, send, type SelectCase, type RecvCase, type SendCase, type SelectResult } from "./7-sync/select.js";
export { sleep, after, ticker } from "./7-sync/time.js";
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
} from "./6-task/task.js";
export { WaitGroup } from "./7-sync/waitgroup.js";
export { ErrGroup, withErrGroup } from "./7-sync/errgroup.js";
export { Semaphore } from "./7-sync/semaphore.js";
export { workerPool, type WorkerPool, type PoolOptions, type PoolReport } from "./8-pool/pool.js";
export { setTracker, type Tracker, type TrackKind } from "./1-base/track.js";
// For test tools: a virtual clock (@lifeline/testing's withVirtualClock) drives every lifeline timer through it.
export { setClock, type Clock } from "./1-base/clock.js";
export { blockOn } from "./7-sync/block-on.js";
