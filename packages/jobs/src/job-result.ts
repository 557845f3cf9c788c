import { afterFunc, blockOn, type Context } from "@lifeline/core";
import type { Queue } from "bullmq";
import { JobCanceledError, JobFailedError, JobNotFoundError } from "./errors.js";
import { checkCtx, checkJobId, checkQueue } from "./internal/check.js";
import { race } from "./internal/race.js";
import { CANCEL_FIELD, parseRecord } from "./internal/wire.js";

const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 100;

/**
 * jobResult waits for a job's outcome and returns its result (BullMQ's `returnvalue`, JSON-decoded). It
 * rejects with a {@link JobCanceledError} (its `reason` rebuilt as the job's ctx saw it) for a cancelled job,
 * a {@link JobFailedError} for a job that failed for good (after BullMQ's retries), a {@link JobNotFoundError}
 * for an unknown job id (or a job already removed, e.g. by `removeOnComplete`), and with `ctx.err()` as soon as
 * ctx ends; leaving early does not affect the job.
 *
 * It reads the job's hash, polling from 2 ms up to every 100 ms, so an outcome is seen at most 100 ms after it
 * is written; it holds no connection of its own and leaves nothing behind. Meanwhile the calling task shows as
 * blocked on `job result` in the task dump.
 *
 * @throws TypeError (synchronously) for a ctx that is not a Context, a queue that is not a BullMQ Queue, or an empty job id.
 */
export function jobResult<R = unknown>(ctx: Context, queue: Queue, jobId: string): Promise<R> {
  checkCtx("jobResult", ctx);
  checkQueue("jobResult", queue);
  const id = checkJobId("jobResult", jobId);
  return blockOn(ctx, "job result", wait<R>(ctx, queue, id));
}

async function wait<R>(ctx: Context, queue: Queue, id: string): Promise<R> {
  const client = await race(ctx, queue.client);
  const key = queue.toKey(id);
  for (let pause = FIRST_POLL_MS; ; pause = Math.min(pause * 2, MAX_POLL_MS)) {
    const [timestamp, finishedOn, returnvalue, failedReason, atm, cancel] = await race(
      ctx,
      client.hmget(key, "timestamp", "finishedOn", "returnvalue", "failedReason", "atm", CANCEL_FIELD),
    );
    if (timestamp === null || timestamp === undefined) throw new JobNotFoundError(queue.name, id);
    if (finishedOn !== null && finishedOn !== undefined) {
      const failed = (await race(ctx, client.zscore(queue.toKey("failed"), id))) !== null;
      if (!failed) return decode(returnvalue) as R;
      if (typeof cancel === "string") throw new JobCanceledError(queue.name, id, parseRecord(cancel).reason);
      throw new JobFailedError(queue.name, id, failedReason ?? "", Number(atm ?? 0));
    }
    await delay(ctx, pause);
  }
}

/** delay resolves after ms, or rejects with ctx.err() as soon as ctx ends (its timer cleared). */
function delay(ctx: Context, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
    const stop = afterFunc(ctx, () => {
      clearTimeout(timer);
      reject(ctx.err());
    });
  });
}

function decode(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
