import { UnrecoverableError } from "bullmq";

function named(error: Error, name: string): void {
  Object.defineProperty(error, "name", { value: name, writable: false, enumerable: false, configurable: true });
}

function text(reason: unknown): string {
  if (reason instanceof Error) return reason.message === "" ? reason.name : `${reason.name}: ${reason.message}`;
  if (typeof reason === "string") return reason;
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}

/**
 * JobCanceledError is how a cancelled job ends: the worker fails the job with it (an `UnrecoverableError`, so
 * BullMQ does not retry a cancel) and {@link jobResult} rejects with it. `reason` is the reason given to
 * {@link cancelJob}, as the job's context saw it in `cause(ctx)`.
 */
export class JobCanceledError extends UnrecoverableError {
  declare readonly name: "JobCanceledError";
  /** queueName and jobId name the job. */
  readonly queueName: string;
  readonly jobId: string;
  /** reason is the cancel reason: a string as sent, an Error rebuilt with its name and message, or plain data. */
  readonly reason: unknown;
  constructor(queueName: string, jobId: string, reason: unknown) {
    super(`job ${jobId} canceled: ${text(reason)}`);
    named(this, "JobCanceledError");
    this.queueName = queueName;
    this.jobId = jobId;
    this.reason = reason;
  }
}

/**
 * LockLostError is the cause of a job context that ended because this worker lost the job's lock: a renewal
 * was refused (another worker holds the job, or it was moved back to waiting), or the lease ran out without a
 * successful renewal. The job's final state is not written by this worker.
 */
export class LockLostError extends Error {
  declare readonly name: "LockLostError";
  readonly queueName: string;
  readonly jobId: string;
  constructor(queueName: string, jobId: string, why: "refused" | "expired") {
    super(
      why === "refused"
        ? `lost the lock of job ${jobId} in queue ${queueName}: the renewal was refused`
        : `lost the lock of job ${jobId} in queue ${queueName}: the lease ran out before a renewal succeeded`,
    );
    named(this, "LockLostError");
    this.queueName = queueName;
    this.jobId = jobId;
  }
}

/**
 * WorkerShutdownError is the cause of job contexts still running when a worker's grace period ended after its
 * root context ended (or `close()` was called). Such a job is moved back to waiting, for another worker.
 */
export class WorkerShutdownError extends Error {
  declare readonly name: "WorkerShutdownError";
  readonly graceMs: number;
  constructor(graceMs: number) {
    super(`worker shut down: the job was still running after the ${graceMs} ms grace period`);
    named(this, "WorkerShutdownError");
    this.graceMs = graceMs;
  }
}

/** JobFailedError is how {@link jobResult} rejects for a job that failed (for any reason but a cancel). */
export class JobFailedError extends Error {
  declare readonly name: "JobFailedError";
  readonly queueName: string;
  readonly jobId: string;
  /** failedReason is BullMQ's record of the failure (the message of the error the processor threw). */
  readonly failedReason: string;
  /** attemptsMade is how many attempts BullMQ counted. */
  readonly attemptsMade: number;
  constructor(queueName: string, jobId: string, failedReason: string, attemptsMade: number) {
    super(`job ${jobId} in queue ${queueName} failed: ${failedReason}`);
    named(this, "JobFailedError");
    this.queueName = queueName;
    this.jobId = jobId;
    this.failedReason = failedReason;
    this.attemptsMade = attemptsMade;
  }
}

/** JobNotFoundError: {@link cancelJob} or {@link jobResult} was given a job id the queue does not hold (never added, or removed). */
export class JobNotFoundError extends Error {
  declare readonly name: "JobNotFoundError";
  readonly queueName: string;
  readonly jobId: string;
  constructor(queueName: string, jobId: string) {
    super(`job ${JSON.stringify(jobId)} not found in queue ${queueName}`);
    named(this, "JobNotFoundError");
    this.queueName = queueName;
    this.jobId = jobId;
  }
}
