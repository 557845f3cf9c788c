import { isContext, type Context } from "@lifeline/core";
import type { Queue } from "bullmq";
import { describe } from "./wire.js";

/** @internal checkCtx throws the TypeError every function gives for a ctx that is not a Context. */
export function checkCtx(fn: string, ctx: unknown): asserts ctx is Context {
  if (!isContext(ctx)) throw new TypeError(`${fn}: ctx must be a Context, got ${describe(ctx)}`);
}

/** @internal checkQueue: a BullMQ Queue (duck-typed: its name, qualified name, key maker and client). */
export function checkQueue(fn: string, queue: unknown): asserts queue is Queue {
  const q = queue as Partial<Queue> | null;
  const ok = typeof q === "object" && q !== null && typeof q.name === "string" && typeof q.qualifiedName === "string" && typeof q.toKey === "function" && typeof q.add === "function";
  if (!ok) throw new TypeError(`${fn}: queue must be a BullMQ Queue, got ${describe(queue)}`);
}

/** @internal checkJobId: a job id is a non-empty string (BullMQ's ids are strings; numbers are accepted and converted). */
export function checkJobId(fn: string, jobId: unknown): string {
  if (typeof jobId === "number" && Number.isSafeInteger(jobId) && jobId >= 0) return String(jobId);
  if (typeof jobId !== "string" || jobId === "") throw new TypeError(`${fn}: jobId must be a non-empty string, got ${describe(jobId)}`);
  return jobId;
}
