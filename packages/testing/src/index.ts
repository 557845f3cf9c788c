// @lifeline/testing: the per-test leak check, and the virtual clock. Importing it installs the tracker (once): what
// lifeline makes from then on is seen. The whole public API, on one screen.
export { TestScope, captureStacks } from "./tracker.js";
export {
  leakCheck,
  checkLeaks,
  assertNoLeaks,
  findLeaks,
  snapshot,
  Snapshot,
  LeakError,
  formatLeak,
  formatLeaks,
  type Leak,
  type TaskLeak,
  type LeakOptions,
  type CheckOptions,
} from "./leak-check.js";
export { detectLostCancel, type LostCancel, type LostCancelHandler } from "./lost-cancel.js";
export {
  onTaskStopped,
  taskStopStats,
  slowStoppers,
  type TaskStopStats,
  type TaskStoppedHandler,
  type SlowStopper,
} from "./time-to-stop.js";
export {
  withVirtualClock,
  installVirtualClock,
  type VirtualClock,
  type VirtualClockOptions,
} from "./virtual-clock.js";
