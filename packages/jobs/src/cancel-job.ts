import { blockOn, type Context } from "@lifeline/core";
import type { Queue } from "bullmq";
import { JobNotFoundError } from "./errors.js";
import { checkCtx, checkJobId, checkQueue } from "./internal/check.js";
import { race } from "./internal/race.js";
import { cancelChannel, recordCancel, redisOffset } from "./internal/redis.js";
import { encodeReason, MAX_REASON_BYTES } from "./internal/wire.js";

/**
 * cancelJob cancels a job from any process on any machine, and resolves to true if the cancel was recorded
 * (the job had not finished: it was waiting, delayed or running, or already cancelled, and the first reason
 * stays), false if the job had already finished (nothing changes then). A cancel recorded in the instant
 * between the handler's return and BullMQ's write of the result does not undo that result: the job completes.
 *
 * It writes a durable cancel record into the job's own hash (so it lives exactly as long as the job) and pushes
 * it on the queue's pub/sub channel, atomically, in one script. The worker running the job ends the job's ctx
 * when the push arrives; a worker that missed the push (reconnecting, partitioned) finds the record at its next
 * lock renewal (BullMQ's `lockRenewTime`); a job not started yet is never started. Either way the job ends
 * `failed` with a {@link JobCanceledError}, without retries, and `cause(ctx)` in the handler is `reason`: a
 * string as is, an Error rebuilt with its name and message, plain JSON data as is, `undefined` (or the core's
 * `Canceled`) as `Canceled`. cancelJob does not wait for the job to stop: await {@link jobResult} for that.
 *
 * If ctx ends first it rejects with `ctx.err()`; the script may still have run (a sent command cannot be taken back).
 *
 * @throws TypeError (synchronously) for a ctx that is not a Context, a queue that is not a BullMQ Queue, an
 * empty job id, or a reason that cannot travel (a function, a class instance that is not an Error, a cycle, a
 * BigInt, a non-finite number, more than 16 KiB of JSON).
 * @throws JobNotFoundError (as a rejection) if the queue holds no job with that id.
 */
export function cancelJob(ctx: Context, queue: Queue, jobId: string, reason?: unknown): Promise<boolean> {
  checkCtx("cancelJob", ctx);
  checkQueue("cancelJob", queue);
  const id = checkJobId("cancelJob", jobId);
  const wire = encodeReason(reason);
  if (typeof wire === "string") throw new TypeError(`cancelJob: reason must be a string, an Error or plain JSON data; ${wire}`);
  const r = JSON.stringify(wire);
  if (r.length > MAX_REASON_BYTES) throw new TypeError(`cancelJob: reason is too large (${r.length} bytes of JSON, at most ${MAX_REASON_BYTES})`);
  return blockOn(ctx, "job cancel", race(ctx, send(queue, id, r)));
}

async function send(queue: Queue, id: string, r: string): Promise<boolean> {
  const client = await queue.client;
  const at = Date.now() + (await redisOffset(client));
  const record = `{"r":${r},"at":${at}}`;
  const message = `{"id":${JSON.stringify(id)},"r":${r},"at":${at}}`;
  const outcome = await recordCancel(client, queue.toKey(id), record, cancelChannel(queue.qualifiedName), message);
  if (outcome === -1) throw new JobNotFoundError(queue.name, id);
  return outcome !== 0;
}
