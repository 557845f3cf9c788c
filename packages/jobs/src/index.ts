// @lifeline/jobs: per-job contexts on BullMQ, cancellable from any process on any machine.
export { addJob, DEADLINE_MARGIN_MS, type AddJobOptions } from "./add-job.js";
export { cancelJob } from "./cancel-job.js";
export { jobResult } from "./job-result.js";
export { jobValue, type JobValue } from "./job-value.js";
export { work, type JobHandler, type JobStop, type StopKind, type WorkOptions } from "./work.js";
export { JobCanceledError, JobFailedError, JobNotFoundError, LockLostError, WorkerShutdownError } from "./errors.js";
